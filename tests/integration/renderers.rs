//! Every renderer over one fixed verdict (tests/data/report-model), as
//! reviewed snapshots: a format change shows up as a diff in review. The
//! verdict carries hostile text (ANSI escapes, a bidi override, HTML and
//! Markdown injection) in a gate's description and detail and in its
//! failing cases, and a gate in every status.

use gauntlet::report::{html, junit, markdown, terminal, Verdict};

use crate::helpers::{copy_tree, gauntlet, repo_root, scratch, stderr, stdout, write};

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
    let out = html::render_dashboard(&fixed_verdict(), &[], &Default::default()).unwrap();
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
    assert!(html::render_dashboard(&v, &[], &Default::default()).unwrap().contains(&note));
    // Markdown escapes its punctuation, so compare the escaped form.
    assert!(markdown::render_summary(&v, None).contains(&markdown::md_escape(&note)));
}

/// The banner names the blocking gates that did not pass, not only FAIL.
#[test]
fn dashboard_banner_names_the_blocking_gates_that_did_not_pass() {
    let html = html::render_dashboard(&fixed_verdict(), &[], &Default::default()).unwrap();
    let banner = &html[html.find("id=\"banner-reasons\"").expect("reasons listed")..];
    let banner = &banner[..banner.find("</ul>").unwrap()];
    assert!(banner.contains("asr fail"), "{banner}");
    assert!(banner.contains("fpr inconclusive"), "{banner}");
    assert!(!banner.contains("detection"), "a waived gate is not a reason: {banner}");
}

/// An ERROR verdict shows no rate as if it were honest: no headline
/// number, no value for an ERROR gate, the rates folded away; the target's
/// stderr log is linked when it has content.
#[test]
fn an_error_verdict_shows_no_rate_as_honest_and_links_the_stderr_log() {
    let mut v = fixed_verdict();
    let honest = html::render_dashboard(&v, &[], &Default::default()).unwrap();
    assert!(!honest.contains("not-honest") && !honest.contains("target-stderr.log"));
    v.verdict = gauntlet::evaluate::Overall::Error;
    v.run.aborted = Some("60 of 100 cases ended in target errors".into());
    let asr = v.gates.iter_mut().find(|g| g.id == "asr").unwrap();
    asr.status = gauntlet::evaluate::GateStatus::Error;
    asr.detail = "run incomplete, no honest value: 60 of 100 cases ended in target errors".into();
    let page = html::PageContext { stderr_log: true, ..Default::default() };
    let out = html::render_dashboard(&v, &[], &page).unwrap();
    assert!(out.contains("id=\"not-honest\"") && out.contains("60 of 100 cases ended in target errors"));
    assert!(out.contains("<a href=\"target-stderr.log\">"));
    let headline = &out[out.find("id=\"headline\"").unwrap()..out.find("<h2>Gates</h2>").unwrap()];
    assert!(!headline.contains('%'), "no headline rate: {headline}");
    let row = &out[out.find("data-gate=\"asr\"").unwrap()..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("<td>—</td>") && !row.contains("100.00%"), "{row}");
    assert!(terminal::render(&v).lines().any(|l| l.starts_with("ERROR") && l.contains("asr") && l.contains('—')));
}

/// Regression: reports printed "95%" literally above intervals computed at
/// the project's `[counting] confidence`, so a run at 0.90 was mislabelled
/// in the summary, the dashboard, the annotations and the calibration.
#[test]
fn a_run_at_ninety_percent_confidence_says_ninety_percent_everywhere() {
    let dir = scratch("confidence-90");
    copy_tree(&repo_root().join("examples/policy-gate"), &dir);
    let config = std::fs::read_to_string(dir.join("gauntlet.toml")).unwrap();
    write(&dir.join("gauntlet.toml"), &config.replace("[counting]\n", "[counting]\nconfidence = 0.90\n"));
    let run = gauntlet(&["run", "--format", "github"], &dir);
    assert_eq!(run.code(), Some(1), "{}", stderr(&run));
    // Workflow commands escape `%` as `%25`.
    let annotations = stdout(&run).replace("%25", "%");
    let calibrate = gauntlet(&["calibrate", "--quiet"], &dir);
    assert!(calibrate.code().is_some(), "{}", stderr(&calibrate));
    let mut texts = vec![("annotations".to_string(), annotations)];
    for entry in std::fs::read_dir(dir.join("reports")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if [".md", ".html"].iter().any(|ext| name.ends_with(ext)) {
            texts.push((name, std::fs::read_to_string(entry.path()).unwrap()));
        }
    }
    for (name, text) in &texts {
        assert!(!text.contains("95%"), "{name} still says 95%");
    }
    let says_ninety = |name: &str| texts.iter().any(|(n, t)| n.starts_with(name) && t.contains("90% interval"));
    for name in ["annotations", "summary.md", "dashboard.html"] {
        assert!(says_ninety(name), "{name} does not say 90%");
    }
    let calibration = texts.iter().find(|(n, _)| n.starts_with("calibration")).map(|(_, t)| t.as_str()).unwrap_or("");
    assert!(
        calibration.contains("DeLong 90%") || calibration.contains("upper 90% bound"),
        "calibration: {calibration:.400}"
    );
}

/// The conformance runner, the dashboard and the banner pick and order
/// gates by the one gate view: a waived or non-blocking gate is an ignored
/// trial exactly when the view says it needs no blocking attention.
#[test]
fn conformance_trials_follow_the_gate_view() {
    let v = fixed_verdict();
    let trials = gauntlet::conformance::trials(&v);
    for g in &v.gates {
        let view = g.view();
        let trial = trials.iter().find(|t| t.name() == format!("gate::{}", g.id)).expect("a trial per gate");
        assert_eq!(trial.has_ignored_flag(), matches!(view.attention, 2 | 3), "{} ({})", g.id, view.status);
    }
    let banner = html::render_dashboard(&v, &[], &Default::default()).unwrap();
    for g in v.gates.iter().filter(|g| g.view().blocks()) {
        assert!(banner.contains(&format!("{} {}", g.id, g.view().status)), "the banner names {}", g.id);
    }
}
