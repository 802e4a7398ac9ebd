//! Every renderer over one fixed verdict (tests/data/report-model), as
//! reviewed snapshots: a format change shows up as a diff in review. The
//! verdict carries hostile text (ANSI escapes, a bidi override, HTML and
//! Markdown injection) in a gate's description and detail and in its
//! failing cases, and a gate in every status.

use gauntlet::report::{html, junit, markdown, terminal, Verdict};

use crate::helpers::repo_root;

fn fixed_verdict() -> Verdict {
    let path = repo_root().join("tests/data/report-model/verdict.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("the fixed verdict reads")
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(repo_root().join("tests/integration/snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s
}

#[test]
fn terminal_gate_table() {
    let out = terminal::render(&fixed_verdict());
    assert!(!out.contains('\u{1b}') && !out.contains('\u{202e}'), "raw control characters reached the terminal");
    settings().bind(|| insta::assert_snapshot!("terminal", out));
}

#[test]
fn junit_xml() {
    settings().bind(|| insta::assert_snapshot!("junit", junit::render_junit(&fixed_verdict())));
}

#[test]
fn summary_markdown() {
    let out = markdown::render_summary(&fixed_verdict(), None);
    assert!(!out.contains("<script>"), "raw HTML in the summary");
    settings().bind(|| insta::assert_snapshot!("summary-md", out));
}

#[test]
fn dashboard_html() {
    let out = html::render_dashboard(&fixed_verdict(), &[]).unwrap();
    assert!(!out.contains("<script>alert(1)</script>"), "case text rendered as markup");
    settings().bind(|| insta::assert_snapshot!("dashboard-html", out));
}

/// The note is computed once: the same words reach every format.
#[test]
fn every_format_shows_the_same_gate_note() {
    let v = fixed_verdict();
    let waived = v.gates.iter().find(|g| g.id == "detection").unwrap();
    let note = waived.view().note;
    assert_eq!(note, "waived by w-detection until 2026-12-10 (SEC-42), 13 days left");
    assert!(terminal::render(&v).contains(&note));
    assert!(junit::render_junit(&v).contains(&note));
    assert!(html::render_dashboard(&v, &[]).unwrap().contains(&note));
    // Markdown escapes its punctuation, so compare the escaped form.
    assert!(markdown::render_summary(&v, None).contains(&markdown::md_escape(&note)));
}
