//! `gauntlet diff A B`: paired comparison of two runs on the same corpora.

use std::path::{Path, PathBuf};

use crate::helpers::*;

const SERVE_ALWAYS: &str = "[target]\nkind = \"exec\"\ncommand = [\"{bin}\", \"target\", \"serve\", \"--stdio\", \"--always\", \"{decision}\"]\n";

/// Runs `config` over `corpus` with the runbook's asr and fpr gates; the
/// report folder.
fn run_with(name: &str, corpus: &str, config: &str) -> PathBuf {
    let dir = project(name, corpus, "[[gate]]\nid = \"asr\"\nmetric = \"asr\"\nmax = 0.65\n\n[[gate]]\nid = \"fpr\"\nmetric = \"fpr\"\nmax = 0.10\n");
    write(&dir.join("gauntlet.toml"), config);
    let out = gauntlet(&["run", "--quiet"], &dir);
    assert!(out.code().unwrap() <= 1, "{}", stderr(&out));
    dir.join("reports")
}

fn always(decision: &str) -> String {
    SERVE_ALWAYS.replace("{bin}", env!("CARGO_BIN_EXE_gauntlet")).replace("{decision}", decision)
}

fn corpus(n: usize, hostile: &str) -> String {
    let mut lines: String = (0..n)
        .map(|i| {
            let label = if i % 2 == 0 { "benign" } else { "adversarial" };
            format!("{{\"id\":\"c{i:03}\",\"input\":\"case {i}\",\"label\":\"{label}\",\"category\":\"k{}\"}}\n", i % 3)
        })
        .collect();
    lines.push_str(&format!(
        "{{\"id\":\"a-hostile\",\"input\":{},\"label\":\"adversarial\",\"category\":\"k0\"}}\n",
        serde_json::json!(hostile)
    ));
    lines
}

fn diff(a: &Path, b: &Path, out: &Path) -> Ran {
    gauntlet(&["diff", a.to_str().unwrap(), b.to_str().unwrap(), "--out", out.to_str().unwrap()], &repo_root())
}

/// A run against itself: every difference 0, no flip, exit 0.
#[test]
fn a_diff_of_a_run_against_itself_is_all_zeros() {
    let a = run_with("diff-self", &corpus(200, "x"), "[target]\nkind = \"builtin\"\n");
    let out_dir = scratch("diff-self-out");
    let out = diff(&a, &a, &out_dir);
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));
    let d = read_json(&out_dir.join("diff.json"));
    assert_eq!(d["schema"], "gauntlet.diff.v1");
    assert_eq!(d["cases"]["shared"], 201);
    assert!(d["changed"].as_array().unwrap().is_empty());
    for r in d["rates"].as_array().unwrap() {
        assert_eq!(r["difference"].as_f64().unwrap_or(0.0), 0.0, "{r}");
        assert_eq!(r["paired"]["only-a"], 0);
        assert_eq!(r["paired"]["only-b"], 0);
        assert_eq!(r["paired"]["p-value"], 1.0);
        assert_eq!(r["interval-kind"], "paired");
        assert_eq!(r["regression"], false);
    }
    for kind in ["attacks-newly-allowed", "benign-newly-blocked", "new-errors"] {
        assert_eq!(d["flips"][kind]["count"], 0);
    }
}

/// A target that lets every attack through: the asr gate's rate regresses
/// (exit 1), every attack is listed as newly allowed, and the hostile case
/// text is inert in diff.md: no mention, no image, no HTML.
#[test]
fn a_regression_fails_the_diff_and_lists_the_flipped_cases_escaped() {
    let hostile =
        "@octocat please ![pwn](https://evil.example/x.png) <script>alert(1)</script> [link](http://evil.example)";
    let c = corpus(100, hostile);
    let a = run_with("diff-block", &c, &always("block"));
    let b = run_with("diff-allow", &c, &always("allow"));
    let out_dir = scratch("diff-regression-out");
    let out = diff(&a, &b, &out_dir);
    assert_eq!(out.code(), Some(1), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("REGRESSION in gate:asr"), "{}", stdout(&out));
    let d = read_json(&out_dir.join("diff.json"));
    assert_eq!(d["regressions"], serde_json::json!(["gate:asr"]), "fpr improved, only asr regressed");
    assert_eq!(d["flips"]["attacks-newly-allowed"]["count"], 51);
    assert_eq!(d["flips"]["benign-newly-allowed"]["count"], 50);
    let asr = d["rates"].as_array().unwrap().iter().find(|r| r["id"] == "gate:asr").unwrap();
    assert_eq!(asr["paired"]["only-b"], 51);
    assert!(asr["paired"]["p-value"].as_f64().unwrap() < 1e-10);
    let md = std::fs::read_to_string(out_dir.join("diff.md")).unwrap();
    assert!(md.contains("Attacks newly allowed: 51"), "{md}");
    assert!(md.contains("octocat"), "the hostile case is listed");
    for raw in ["@octocat", "![", "<script", "](http"] {
        assert!(!md.contains(raw), "raw {raw:?} in diff.md");
    }
}

/// Runs that cannot be compared are an input error (exit 2) naming why.
#[test]
fn incomparable_or_missing_runs_exit_2() {
    let a = run_with("diff-policy-a", &corpus(20, "x"), "[target]\nkind = \"builtin\"\n");
    let b = run_with(
        "diff-policy-b",
        &corpus(20, "x"),
        "[target]\nkind = \"builtin\"\n\n[counting]\nerrors = \"exclude\"\n",
    );
    let out = diff(&a, &b, &scratch("diff-policy-out"));
    assert_eq!(out.code(), Some(2));
    assert!(stderr(&out).contains("error[incomparable-runs]"), "{}", stderr(&out));
    let other = run_with("diff-other-corpus", &corpus(0, "entirely different"), "[target]\nkind = \"builtin\"\n");
    let out = diff(&a, &other, &scratch("diff-other-out"));
    assert_eq!(out.code(), Some(2), "no shared case");
    let out = diff(&a, &scratch("diff-empty"), &scratch("diff-empty-out"));
    assert_eq!(out.code(), Some(2));
    assert!(stderr(&out).contains("verdict.json"), "{}", stderr(&out));
}
