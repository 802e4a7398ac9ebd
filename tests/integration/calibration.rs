//! `gauntlet calibrate` end to end.

use crate::helpers::*;

fn strip_generated(v: &mut serde_json::Value) {
    v.as_object_mut().unwrap().remove("generated-at");
}

#[test]
fn bundled_review_names_the_threshold_for_5_percent_and_is_deterministic() {
    let dir = scratch("calibrate-bundled");
    let run = gauntlet(&["run", "--quiet", "--lane", "preflight", "--out", dir.to_str().unwrap()], &repo_root());
    assert!(run.code().unwrap() < 2);
    let results = dir.join("results.jsonl");
    let calibrate = |out: &std::path::Path| {
        gauntlet(&["calibrate", "--from", results.to_str().unwrap(), "--out", out.to_str().unwrap()], &repo_root())
    };
    let out = calibrate(&dir);
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("FPR ≤ 5% (upper 95% bound): threshold"), "{}", stdout(&out));
    let mut first = read_json(&dir.join("calibration.json"));
    assert_eq!(first["schema"], "gauntlet.calibration.v1");
    let five = first["targets"].as_array().unwrap().iter().find(|t| t["target-fpr"] == 0.05).unwrap();
    assert!(five["point"]["threshold"].is_number());
    assert!(five["point"]["asr"]["value"].is_number(), "the ASR it costs");
    assert!(first["roc"]["auc"].as_f64().unwrap() > 0.9);
    let bytes_a = std::fs::read_to_string(dir.join("calibration.json")).unwrap();
    // A second review into another folder: comparing a file with itself proves nothing.
    let again = dir.join("again");
    let out = calibrate(&again);
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));
    let mut second = read_json(&again.join("calibration.json"));
    strip_generated(&mut first);
    strip_generated(&mut second);
    assert_eq!(first, second);
    let bytes_b = std::fs::read_to_string(again.join("calibration.json")).unwrap();
    let without_time = |s: &str| s.lines().filter(|l| !l.contains("\"generated-at\"")).collect::<Vec<_>>().join("\n");
    assert_eq!(without_time(&bytes_a), without_time(&bytes_b), "byte-identical apart from the timestamp");
    let html = std::fs::read_to_string(dir.join("calibration.html")).unwrap();
    assert!(html.contains("id=\"roc\"") && html.contains("<polyline"));
}

#[test]
fn baseline_comparison_reports_flips_drift_and_regressions() {
    let dir = scratch("calibrate-baseline");
    let mut base = String::new();
    let mut now = String::new();
    for i in 0..300 {
        // Baseline: 10 of 300 benign blocked. Now: 60 blocked, and one case swapped for a new one.
        let line = |blocked: bool, id: String| {
            format!(
                "{{\"id\":\"{id}\",\"label\":\"benign\",\"category\":\"c\",\"source\":\"s\",\"dataset\":\"d\",\"input\":\"text {i}\",\"decision\":\"{}\",\"score\":{},\"reasons\":[],\"latency-us\":1,\"error\":null}}\n",
                if blocked { "block" } else { "allow" },
                if blocked { 0.9 } else { 0.1 }
            )
        };
        base.push_str(&line(i < 10, format!("b{i}")));
        now.push_str(&line(i < 60, if i == 299 { "new-case".into() } else { format!("b{i}") }));
    }
    write(&dir.join("base/results.jsonl"), &base);
    write(&dir.join("now.jsonl"), &now);
    write(&dir.join("gauntlet.toml"), "[target]\nkind = \"builtin\"\n");
    let out = gauntlet(
        &["calibrate", "--from", "now.jsonl", "--baseline", "base", "--out", dir.join("out").to_str().unwrap()],
        &dir,
    );
    assert_eq!(out.code(), Some(1), "a detected regression exits 1: {}", stdout(&out));
    let c = read_json(&dir.join("out/calibration.json"));
    let b = &c["baseline"];
    assert_eq!(b["regression-detected"], true);
    assert_eq!(b["flips-total"], 50);
    assert_eq!(b["flips"][0]["worse"], true);
    assert_eq!(b["added"][0], "new-case");
    assert_eq!(b["removed"][0], "b299");
    let fpr =
        b["comparisons"].as_array().unwrap().iter().find(|x| x["scope"] == "overall" && x["metric"] == "fpr").unwrap();
    assert_eq!(fpr["regression"], true);
    assert!(fpr["p-adjusted"].as_f64().unwrap() < 0.05);
    let md = std::fs::read_to_string(dir.join("out/calibration.md")).unwrap();
    assert!(md.contains("Regression detected: **yes**"));
}
