//! The human-facing reports: written by every run, re-rendered identically
//! from saved files, bounded, and inert whatever the case text says.

use crate::helpers::*;

const FILES: [&str; 4] = ["dashboard.html", "junit.xml", "summary.md", "results.csv"];

#[test]
fn run_writes_all_reports_and_report_from_reproduces_them_byte_for_byte() {
    let dir = scratch("report-from");
    let out = gauntlet(&["run", "--quiet", "--out", dir.to_str().unwrap()], &repo_root());
    assert!(out.code().unwrap() < 2, "{}", stderr(&out));
    let originals: Vec<Vec<u8>> = FILES.iter().map(|f| std::fs::read(dir.join(f)).expect(f)).collect();
    for f in FILES {
        std::fs::remove_file(dir.join(f)).unwrap();
    }
    let out = gauntlet(
        &[
            "report",
            "--from",
            dir.join("verdict.json").to_str().unwrap(),
            "--results",
            dir.join("results.jsonl").to_str().unwrap(),
        ],
        &repo_root(),
    );
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));
    for (f, original) in FILES.iter().zip(originals) {
        assert!(std::fs::read(dir.join(f)).unwrap() == original, "{f} differs after re-rendering");
    }
}

/// Regression (#19): every local full-lane run appended to
/// reports/history/history.jsonl, a file the project tracks. A plain run
/// now only reads the history; `--record` appends to it, `--history PATH`
/// reads and appends PATH (CI's cached copy). Preflight runs never append.
#[test]
fn history_is_appended_only_when_asked_and_on_full_runs_only() {
    let dir = scratch("history");
    let history = dir.join("history/history.jsonl");
    let lines = |path: &std::path::Path| std::fs::read_to_string(path).map(|t| t.lines().count()).unwrap_or(0);
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--quiet", "--out", dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        gauntlet(&args, &repo_root()).code().unwrap()
    };
    assert!(run(&[]) < 2);
    assert_eq!(lines(&history), 0, "a plain run changes no history");
    assert!(run(&["--record"]) < 2);
    let first = std::fs::read_to_string(&history).unwrap();
    assert_eq!(lines(&history), 1);
    assert_eq!(run(&["--lane", "preflight", "--record"]), 0);
    assert_eq!(lines(&history), 1, "preflight runs do not add history");
    assert!(run(&["--record"]) < 2);
    assert_eq!(lines(&history), 2);
    assert!(std::fs::read_to_string(&history).unwrap().starts_with(&first), "history is appended, never rewritten");
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(summary.contains("Since the previous full run"), "{summary}");
    let dashboard = std::fs::read_to_string(dir.join("dashboard.html")).unwrap();
    assert!(dashboard.contains("Trends (full-lane history)"));
    let elsewhere = dir.join("ci-cache/history.jsonl");
    assert!(run(&["--history", elsewhere.to_str().unwrap()]) < 2);
    assert_eq!((lines(&elsewhere), lines(&history)), (1, 2), "--history reads and appends its own file");
}

#[test]
fn hostile_text_is_inert_in_markdown_csv_and_junit() {
    let dir = scratch("hostile-formats");
    let out = gauntlet(
        &["run", "--quiet", "--config", "tests/data/hostile/gauntlet.toml", "--out", dir.to_str().unwrap()],
        &repo_root(),
    );
    assert!(out.code().unwrap() < 2, "{}", stderr(&out));
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(summary.len() <= 64 * 1024);
    for line in summary.lines().filter(|l| l.starts_with("| h-") || l.contains("hostile id")) {
        assert!(!line.contains('<'), "raw markup in summary: {line}");
        assert!(!line.contains("](javascript"), "live link in summary: {line}");
        assert!(line.matches('|').count() == line.matches("\\|").count() + 5, "a cell broke the table: {line}");
    }
    assert!(
        !summary.chars().any(|c| matches!(c, '\u{202a}'..='\u{202e}' | '\u{200b}'..='\u{200f}' | '\u{1b}')),
        "bidi, zero-width and escape characters are made visible"
    );
    assert!(summary.contains("&lt;script&gt;document"), "markup shows as text");
    // CSV: quoted properly (it parses back), formulas neutralised.
    let mut reader = csv::Reader::from_path(dir.join("results.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 18);
    let formula = rows.iter().find(|r| &r[0] == "h-csv").unwrap();
    assert!(formula[13].starts_with("'=HYPERLINK"), "{}", &formula[13]);
    let multiline = rows.iter().find(|r| &r[0] == "h-markdown").unwrap();
    assert!(multiline[13].contains('\n'), "newlines survive inside quoted cells");
    let long = rows.iter().find(|r| &r[0] == "h-long").unwrap();
    assert_eq!(long[13].len(), 100_004);
    // JUnit stays well-formed XML whatever the text (a parser reads it back).
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(!junit.contains('\u{1b}'), "escape sequences removed from XML");
    assert!(!junit.contains("<script"));
}

#[test]
fn summary_stays_under_64_kb_for_many_failures() {
    let mut corpus = String::new();
    for i in 0..3000 {
        corpus.push_str(&format!(
            "{{\"id\":\"case-{i}-{}\",\"input\":\"{} attack\",\"label\":\"adversarial\",\"category\":\"c{}\"}}\n",
            "x".repeat(100),
            "y".repeat(500),
            i % 300
        ));
    }
    let dir =
        project("summary-cap", &corpus, "[[gate]]\nid = \"asr\"\nmetric = \"asr\"\nmax = 0.0\nbound = \"point\"\n");
    assert_eq!(gauntlet(&["run", "--quiet"], &dir).code(), Some(1), "every attack succeeds");
    let summary = std::fs::read_to_string(dir.join("reports/summary.md")).unwrap();
    assert!(summary.len() <= 64 * 1024, "{}", summary.len());
    assert!(summary.contains("Successful attacks (3000)"));
}
