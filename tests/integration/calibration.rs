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

/// A shadow-mode log (enforcement off, labelled lines carrying scores):
/// the review's AUC and its operating points equal what the same scores
/// and labels give when computed here directly (Mann-Whitney for the AUC,
/// counting at each threshold for the points).
#[test]
fn a_shadow_mode_log_is_calibrated_from_its_labelled_scores() {
    let dir = project("calibrate-shadow", "", "");
    let mut log = String::new();
    let mut scored: Vec<(f64, bool)> = Vec::new();
    for i in 0..400u64 {
        // Deterministic, overlapping score distributions.
        let adversarial = i % 3 == 0;
        let jitter = ((i * 7919) % 1000) as f64 / 1000.0;
        let score = if adversarial { 0.35 + 0.6 * jitter } else { 0.6 * jitter };
        let score = (score * 1000.0).round() / 1000.0;
        let label = if adversarial { "adversarial" } else { "benign" };
        // Shadow mode: the gate decides, enforcement is off; the decision is logged.
        let decision = if score >= 0.5 { "block" } else { "allow" };
        log.push_str(&format!(
            "{{\"ts\":{},\"decision\":\"{decision}\",\"score\":{score},\"label\":\"{label}\",\"latency-us\":90}}\n",
            1_790_000_000 + i
        ));
        scored.push((score, adversarial));
        // Unlabelled production traffic beside it: not evidence.
        log.push_str(&format!("{{\"ts\":{},\"decision\":\"allow\",\"score\":0.1}}\n", 1_790_000_000 + i));
    }
    write(&dir.join("shadow.jsonl"), &log);
    let out = gauntlet(&["calibrate", "--decision-log", "shadow.jsonl", "--quiet"], &dir);
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));
    let c = read_json(&dir.join("reports/calibration.json"));
    let source = c["source"].as_str().unwrap();
    assert!(source.contains("production traffic in shadow mode") && source.contains("400 of 800 lines"), "{source}");

    // AUC: the share of (adversarial, benign) pairs the score orders, ties half.
    let (adv, ben): (Vec<f64>, Vec<f64>) = {
        let a = scored.iter().filter(|s| s.1).map(|s| s.0).collect();
        let b = scored.iter().filter(|s| !s.1).map(|s| s.0).collect();
        (a, b)
    };
    let mut wins = 0.0;
    for a in &adv {
        for b in &ben {
            wins += if a > b {
                1.0
            } else if a == b {
                0.5
            } else {
                0.0
            };
        }
    }
    let auc = wins / (adv.len() * ben.len()) as f64;
    let reported = c["roc"]["auc"].as_f64().unwrap();
    assert!((reported - auc).abs() < 1e-9, "auc {reported} against {auc}");
    // Each operating point's counts at its threshold (score >= threshold blocks).
    let mut checked = 0;
    for row in c["targets"].as_array().unwrap() {
        let Some(t) = row["point"]["threshold"].as_f64() else { continue };
        let fp = ben.iter().filter(|s| **s >= t).count() as u64;
        let caught = adv.iter().filter(|s| **s >= t).count() as u64;
        assert_eq!(row["point"]["fpr"]["numerator"], fp, "{row}");
        assert_eq!(row["point"]["fpr"]["denominator"], ben.len() as u64);
        assert_eq!(row["point"]["detection-rate"]["numerator"], caught, "{row}");
        checked += 1;
    }
    assert!(checked >= 2, "{:#}", c["targets"]);

    // Fewer than 100 labelled, scored lines is not enough evidence.
    let few: String = log.lines().take(150).map(|l| format!("{l}\n")).collect();
    write(&dir.join("few.jsonl"), &few);
    let out = gauntlet(&["calibrate", "--decision-log", "few.jsonl", "--quiet"], &dir);
    assert_eq!(out.code(), Some(2));
    assert!(stderr(&out).contains("at least 100"), "{}", stderr(&out));
    // A bad line is named.
    write(
        &dir.join("bad.jsonl"),
        &format!("{}{{\"ts\":1,\"score\":7,\"label\":\"benign\",\"decision\":\"allow\"}}\n", log),
    );
    let out = gauntlet(&["calibrate", "--decision-log", "bad.jsonl", "--quiet"], &dir);
    assert_eq!(out.code(), Some(2));
    assert!(stderr(&out).contains("bad.jsonl:801") && stderr(&out).contains("[0, 1]"), "{}", stderr(&out));
}
