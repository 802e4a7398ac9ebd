//! `gauntlet release`: GO only with clean evidence; each break names itself.

use std::path::{Path, PathBuf};

use crate::helpers::*;

/// The bundled project, copied; its latency gate removed because a busy
/// debug-build test machine's timings are not what this test is about.
fn bundled_copy(name: &str) -> PathBuf {
    let dir = scratch(name);
    for sub in ["corpora", "gates", "fixtures", "waivers"] {
        copy_tree(&repo_root().join(sub), &dir.join(sub));
    }
    std::fs::copy(repo_root().join("gauntlet.toml"), dir.join("gauntlet.toml")).unwrap();
    let gates = std::fs::read_to_string(dir.join("gates/runbook.toml")).unwrap();
    let without_latency: Vec<&str> = gates.split("\n[[gate]]").filter(|g| !g.contains("latency-p99")).collect();
    std::fs::write(dir.join("gates/runbook.toml"), without_latency.join("\n[[gate]]")).unwrap();
    dir
}

fn prepare(dir: &Path) {
    let run = gauntlet(&["run", "--quiet", "--today", "2026-11-22"], dir);
    assert!(run.code().unwrap() < 2, "{}", stderr(&run));
    let cal = gauntlet(&["calibrate", "--from", "reports/results.jsonl"], dir);
    assert_eq!(cal.code(), Some(0), "{}", stderr(&cal));
}

fn release(dir: &Path, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let mut args = vec!["release", "--version", "2.0", "--today", "2026-11-22"];
    args.extend_from_slice(extra);
    let out = gauntlet(&args, dir);
    let code = out.code().unwrap();
    assert!(code < 2, "{}", stderr(&out));
    (code, read_json(&dir.join("reports/release-readiness.json")), stdout(&out))
}

#[test]
fn bundled_project_is_go_with_its_evidence_index() {
    let dir = bundled_copy("release-go");
    prepare(&dir);
    let (code, r, _) = release(&dir, &[]);
    assert_eq!(code, 0, "{:#}", r["blocking"]);
    assert_eq!(r["decision"], "GO");
    assert_eq!(r["schema"], "gauntlet.release.v1");
    let ids: Vec<&str> = r["evidence"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["verdict", "waiver-audit", "calibration", "sign-offs"]);
    assert!(r["evidence"][0]["sha256"].as_str().unwrap().len() == 64);
    assert!(dir.join("reports/release-readiness.html").exists() && dir.join("reports/release-readiness.md").exists());
}

#[test]
fn an_expired_waiver_or_a_failing_fixture_is_no_go_naming_it() {
    let dir = bundled_copy("release-broken");
    prepare(&dir);
    write(
        &dir.join("waivers/old.toml"),
        "[[waiver]]\nid = \"old-fpr\"\ngate = \"fpr\"\nowner = \"o\"\ncreated = \"2026-10-01\"\nexpires = \"2026-10-20\"\ntracking = \"T-1\"\nreason = \"r\"\nscope = \"both\"\nremove-when = \"x\"\n",
    );
    let (code, r, stdout) = release(&dir, &[]);
    assert_eq!(code, 1);
    assert!(stdout.contains("waiver old-fpr is expired"), "{stdout}");
    assert!(r["blocking"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["check"] == "waivers" && b["evidence"] == "waiver-audit"));
    std::fs::remove_file(dir.join("waivers/old.toml")).unwrap();

    let smoke = std::fs::read_to_string(dir.join("fixtures/smoke.toml")).unwrap();
    std::fs::write(
        dir.join("fixtures/smoke.toml"),
        smoke.replace(
            "expect = \"block\"\nnote = \"runbook: known threat\"\n\n[[case]]\nname = \"hack-computer\"",
            "expect = \"allow\"\nnote = \"runbook: known threat\"\n\n[[case]]\nname = \"hack-computer\"",
        ),
    )
    .unwrap();
    assert_eq!(gauntlet(&["run", "--quiet", "--today", "2026-11-22"], &dir).code(), Some(1), "the fixture fails");
    let (code, _, stdout) = release(&dir, &[]);
    assert_eq!(code, 1);
    assert!(stdout.contains("fixtures:smoke is fail"), "{stdout}");
}

fn log_line(ts: i64, decision: &str, error: bool, latency: u64, version: &str) -> String {
    format!(
        "{{\"ts\":{ts},\"decision\":\"{decision}\",\"error\":{},\"latency-us\":{latency},\"policy-version\":\"{version}\"}}\n",
        if error { "\"timeout\"" } else { "null" }
    )
}

#[test]
fn decision_logs_canary_and_burn_rate() {
    let dir = bundled_copy("release-logs");
    prepare(&dir);
    // Two hours of traffic: baseline v1 denies 10%; a healthy canary v2 too.
    let mut healthy = String::new();
    let mut doubled = String::new();
    for i in 0..6000i64 {
        let ts = 1_790_000_000 + i; // one decision a second
        let (version, deny_every) = if i % 2 == 0 { ("1.9", 10) } else { ("2.0", 10) };
        healthy.push_str(&log_line(
            ts,
            if i % (deny_every * 2) < 2 { "block" } else { "allow" },
            false,
            100 + (i % 40) as u64,
            version,
        ));
        let canary_deny = if version == "2.0" { i % 10 < 4 } else { i % 20 < 2 };
        doubled.push_str(&log_line(
            ts,
            if canary_deny { "block" } else { "allow" },
            false,
            100 + (i % 40) as u64,
            version,
        ));
    }
    write(&dir.join("healthy.jsonl"), &healthy);
    write(&dir.join("doubled.jsonl"), &doubled);
    let (code, r, _) = release(&dir, &["--decision-log", "healthy.jsonl"]);
    assert_eq!(code, 0, "{:#}", r["blocking"]);
    assert_eq!(r["canary"]["status"], "pass");
    let (code, r, stdout) = release(&dir, &["--decision-log", "doubled.jsonl"]);
    assert_eq!(code, 1);
    assert!(stdout.contains("canary deny rate"), "{stdout}");
    assert_eq!(r["canary"]["status"], "fail");

    // A fast burn at the end of the log blocks promotion.
    let mut burning = healthy.clone();
    for i in 0..600i64 {
        burning.push_str(&log_line(1_790_006_000 + i, "allow", i % 10 == 0, 100, "2.0"));
    }
    write(&dir.join("burning.jsonl"), &burning);
    let (code, _, stdout) = release(&dir, &["--decision-log", "burning.jsonl"]);
    assert_eq!(code, 1);
    assert!(stdout.contains("burn-rate alert"), "{stdout}");

    // Bad lines are reported with path:line and stop the report.
    write(
        &dir.join("bad.jsonl"),
        &format!("{}{{\"ts\": \"yesterday\", \"decision\": \"allow\"}}\n", log_line(1, "allow", false, 1, "2.0")),
    );
    let out = gauntlet(&["release", "--decision-log", "bad.jsonl"], &dir);
    assert_eq!(out.code(), Some(2));
    assert!(stderr(&out).contains("bad.jsonl:2: error[invalid-timestamp]"), "{}", stderr(&out));
}

/// Regression: a verdict produced under other gates (or another target)
/// than the project's current ones still gave GO.
#[test]
fn a_verdict_from_other_gates_or_another_target_gave_go() {
    let dir = bundled_copy("release-stale");
    prepare(&dir);
    let gates = dir.join("gates/runbook.toml");
    let text = std::fs::read_to_string(&gates).unwrap();
    std::fs::write(&gates, text.replace("max = 0.10", "max = 0.20")).unwrap();
    let (code, r, stdout) = release(&dir, &[]);
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(r["decision"], "NO-GO");
    assert!(stdout.contains("verdict is stale") && stdout.contains("gates hash"), "{stdout}");
    assert!(!stdout.contains("corpora hash"), "only what changed is named: {stdout}");
    std::fs::write(&gates, text).unwrap();
    let config = dir.join("gauntlet.toml");
    let toml = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, toml.replace("kind = \"builtin\"", "kind = \"builtin\"\nthreshold = 0.3")).unwrap();
    let (code, _, stdout) = release(&dir, &[]);
    assert_eq!(code, 1);
    assert!(stdout.contains("config hash") && stdout.contains("target hash"), "{stdout}");
}

/// `report --from` keeps re-rendering the run's reports byte for byte, and
/// says on stderr when the project beside the verdict changed since.
#[test]
fn report_from_warns_when_the_project_changed_since() {
    let dir = bundled_copy("report-from-drift");
    prepare(&dir);
    let summary = std::fs::read(dir.join("reports/summary.md")).unwrap();
    let args = ["report", "--from", "reports/verdict.json"];
    let out = gauntlet(&args, &dir);
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    let gates = dir.join("gates/runbook.toml");
    let text = std::fs::read_to_string(&gates).unwrap();
    std::fs::write(&gates, text + "\n# changed\n").unwrap();
    let out = gauntlet(&args, &dir);
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("warning: the project changed since this verdict: gates hash"), "{}", stderr(&out));
    assert_eq!(std::fs::read(dir.join("reports/summary.md")).unwrap(), summary);
}

/// Regression: with no fixture suite and no golden snapshot, the fixture
/// check looped over nothing and passed.
#[test]
fn a_verdict_without_any_fixture_gave_go_vacuously() {
    let dir = bundled_copy("release-no-fixtures");
    std::fs::remove_dir_all(dir.join("fixtures")).unwrap();
    std::fs::create_dir_all(dir.join("fixtures")).unwrap();
    prepare(&dir);
    let (code, r, stdout) = release(&dir, &[]);
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(r["decision"], "NO-GO");
    assert!(stdout.contains("checked no fixture suite and no golden snapshot"), "{stdout}");
}

/// A labelled decision: `label` benign or adversarial, `tenant`, at second `ts`.
fn labelled(ts: i64, label: &str, blocked: bool, error: bool, tenant: &str) -> String {
    format!(
        "{{\"ts\":{ts},\"decision\":\"{}\",\"error\":{},\"latency-us\":100,\"label\":\"{label}\",\"tenant\":\"{tenant}\"}}\n",
        if blocked { "block" } else { "allow" },
        if error { "\"timeout\"" } else { "null" }
    )
}

/// `minutes` from minute `from`: per minute 20 benign reviewed samples, of
/// which `fpr` are blocked, and 20 adversarial probes, all blocked; one
/// decision in `error_every` is a target error (0: none).
fn labelled_traffic(from: i64, minutes: i64, fpr: f64, error_every: i64, tenant: &str) -> String {
    let mut out = String::new();
    let start = 1_790_000_000;
    for m in from..from + minutes {
        for k in 0..20i64 {
            let ts = start + m * 60 + k * 3;
            let i = m * 40 + k * 2;
            let blocked = (k as f64) < 20.0 * fpr;
            out.push_str(&labelled(ts, "benign", blocked, error_every > 0 && i % error_every == 0, tenant));
            out.push_str(&labelled(ts + 1, "adversarial", true, error_every > 0 && (i + 1) % error_every == 0, tenant));
        }
    }
    out
}

/// The production-signal rules over labelled logs, and the rollback matrix
/// by bundle age (`--deployed-at`).
#[test]
fn labelled_logs_fire_for_duration_rules_and_the_rollback_matrix() {
    let dir = bundled_copy("release-signals");
    prepare(&dir);
    // 40 minutes at 5% FPR, then 10 minutes at 20%: held past 5 min, fires.
    let mut rise = labelled_traffic(0, 40, 0.05, 0, "acme");
    rise.push_str(&labelled_traffic(40, 10, 0.20, 0, "acme"));
    write(&dir.join("rise.jsonl"), &rise);
    let (code, r, stdout) = release(&dir, &["--decision-log", "canary:rise.jsonl"]);
    assert_eq!(code, 1);
    assert_eq!(r["decision"], "NO-GO");
    assert!(stdout.contains("alert fpr-high firing: fpr 2") && stdout.contains("> 15.00% for 5 min"), "{stdout}");
    assert!(stdout.contains("alert fpr-high firing: tenant acme: fpr"), "per tenant too: {stdout}");
    let fpr = r["signals"].as_array().unwrap().iter().find(|s| s["rule"]["id"] == "fpr-high").unwrap();
    assert_eq!(fpr["firing"], true);
    assert!(fpr["evidence"]["value"].as_f64().unwrap() > 0.15);

    // The same rise for 3 minutes, then back to normal: GO.
    let mut blip = labelled_traffic(0, 40, 0.05, 0, "acme");
    blip.push_str(&labelled_traffic(40, 3, 0.20, 0, "acme"));
    blip.push_str(&labelled_traffic(43, 20, 0.05, 0, "acme"));
    write(&dir.join("blip.jsonl"), &blip);
    let (code, r, _) = release(&dir, &["--decision-log", "canary:blip.jsonl"]);
    assert_eq!(code, 0, "{:#}", r["blocking"]);
    assert_eq!(r["decision"], "GO");

    // 6% errors: a bundle deployed an hour before the log ends is rolled
    // back; deployed five hours before, the matrix leaves it (the burn-rate
    // alerts still say NO-GO).
    write(&dir.join("errors.jsonl"), &labelled_traffic(0, 50, 0.05, 17, "acme"));
    let end = 1_790_000_000 + 50 * 60;
    let at = |hours: i64| chrono::DateTime::from_timestamp(end - hours * 3600, 0).unwrap().to_rfc3339();
    let (code, r, stdout) = release(&dir, &["--decision-log", "canary:errors.jsonl", "--deployed-at", &at(1)]);
    assert_eq!(code, 1);
    assert_eq!(r["decision"], "ROLLBACK", "{stdout}");
    assert!(stdout.contains("younger than 2 h and over 5.00%"), "{stdout}");
    let (code, r, stdout) = release(&dir, &["--decision-log", "canary:errors.jsonl", "--deployed-at", &at(5)]);
    assert_eq!(code, 1);
    assert_eq!(r["decision"], "NO-GO", "{stdout}");
    assert!(r["rollback"]["fired"].is_null());
    assert!(!stdout.contains("younger than"), "{stdout}");
}

/// The runbook's resume rule: after an alert, promotion waits for two
/// clear windows and a sign-off dated on or after the alert; a stage is
/// promoted only after its soak.
#[test]
fn promotion_is_blocked_until_two_clear_windows_and_a_sign_off() {
    let dir = bundled_copy("release-promotion");
    prepare(&dir);
    // FPR at 20% from minute 40 to 50 fires; then `clean` minutes at 5%.
    let log = |clean: i64| {
        let mut log = labelled_traffic(0, 40, 0.05, 0, "acme");
        log.push_str(&labelled_traffic(40, 10, 0.20, 0, "acme"));
        log.push_str(&labelled_traffic(50, clean, 0.05, 0, "acme"));
        log
    };
    write(&dir.join("just-cleared.jsonl"), &log(6));
    write(&dir.join("cleared.jsonl"), &log(30));
    let resume = |r: &serde_json::Value| {
        r["resumes"].as_array().unwrap().iter().find(|x| x["tenant"].is_null()).unwrap().clone()
    };

    let (code, r, stdout) = release(&dir, &["--decision-log", "canary:just-cleared.jsonl"]);
    assert_eq!((code, r["decision"].as_str()), (1, Some("NO-GO")));
    assert_eq!(resume(&r)["clear-windows"], 1, "{:#}", r["resumes"]);
    // The rolling rates are charted, with the threshold, in the release
    // report and in the dashboard beside the verdict.
    let html = std::fs::read_to_string(dir.join("reports/release-readiness.html")).unwrap();
    assert!(html.contains("aria-label=\"fpr over time, threshold 15.00%\"") && html.contains("class=\"fired\""));
    let dashboard = std::fs::read_to_string(dir.join("reports/dashboard.html")).unwrap();
    assert!(dashboard.contains("id=\"production-signals\"") && dashboard.contains("class=\"threshold\""));
    assert!(stdout.contains("clear for 1 of 2 windows; no sign-off lists rule fpr-high"), "{stdout}");

    let (code, r, stdout) = release(&dir, &["--decision-log", "canary:cleared.jsonl"]);
    assert_eq!(code, 1);
    assert!(resume(&r)["clear-windows"].as_u64().unwrap() >= 2);
    assert!(!stdout.contains("clear for") && stdout.contains("no sign-off lists rule fpr-high"), "{stdout}");

    // A sign-off from before the alert (an old incident) clears nothing.
    let fired_day = resume(&r)["fired-at"].as_str().unwrap()[..10].to_string();
    let sign_off = |date: &str| {
        format!("[[sign-off]]\nincident = \"INC-42\"\nowner = \"alice@example.com\"\ndate = \"{date}\"\nmitigation = \"Reverted the medical rule.\"\nrules = [\"fpr-high\"]\n")
    };
    write(&dir.join("sign-offs/inc-42.toml"), &sign_off("2026-01-05"));
    let (code, _, stdout) = release(&dir, &["--decision-log", "canary:cleared.jsonl"]);
    assert_eq!(code, 1, "{stdout}");
    write(&dir.join("sign-offs/inc-42.toml"), &sign_off(&fired_day));
    let (code, r, stdout) = release(&dir, &["--decision-log", "canary:cleared.jsonl"]);
    assert_eq!((code, r["decision"].as_str()), (0, Some("GO")), "{stdout}");
    assert_eq!(resume(&r)["sign-off"], "INC-42");
    assert_eq!(r["unused-sign-offs"], serde_json::json!([]));
    // A sign-off scoped to this version (2.0) for an alert that never fired
    // clears nothing, and the report says so; it does not block.
    write(
        &dir.join("sign-offs/inc-44.toml"),
        &format!(
            "{}version = \"2.0\"\n",
            sign_off(&fired_day).replace("INC-42", "INC-44").replace("fpr-high", "asr-high")
        ),
    );
    let (code, r, _) = release(&dir, &["--decision-log", "canary:cleared.jsonl"]);
    assert_eq!(code, 0);
    let unused = r["unused-sign-offs"].as_array().unwrap();
    assert!(unused.len() == 1 && unused[0].as_str().unwrap().starts_with("INC-44 ("), "{unused:?}");
    std::fs::remove_file(dir.join("sign-offs/inc-44.toml")).unwrap();
    // Clear for one window only: the sign-off alone does not resume it.
    let (code, _, stdout) = release(&dir, &["--decision-log", "canary:just-cleared.jsonl"]);
    assert_eq!(code, 1);
    assert!(stdout.contains("clear for 1 of 2 windows") && !stdout.contains("no sign-off"), "{stdout}");

    // A stage is promoted after its soak: 24 h for canary-10.
    let end = 1_790_000_000 + 80 * 60;
    let started = |hours: i64| chrono::DateTime::from_timestamp(end - hours * 3600, 0).unwrap().to_rfc3339();
    // Soak counts only time the log covers: it starts at the stage's start.
    write(&dir.join("staged.jsonl"), &(labelled(end - 26 * 3600, "benign", false, false, "acme") + &log(30)));
    let stage = |hours| {
        release(
            &dir,
            &["--decision-log", "canary:staged.jsonl", "--stage", "canary-10", "--stage-started-at", &started(hours)],
        )
    };
    let (code, r, stdout) = stage(3);
    assert_eq!(code, 1);
    assert!(stdout.contains("stage canary-10 has soaked 3.0 h of its 24 h"), "{stdout}");
    assert_eq!(r["stage"]["next"], "canary-50");
    let (code, r, stdout) = stage(25);
    assert_eq!((code, r["decision"].as_str()), (0, Some("GO")), "{stdout}");
    assert!(r["stage"]["signals"].as_array().unwrap().iter().all(|s| s["met"] == true));

    // A broken sign-off is an input error naming file:line and its code.
    write(&dir.join("sign-offs/inc-43.toml"), &sign_off("2099-01-01").replace("INC-42", "INC-43"));
    // It is reported before any decision log is read (this one does not exist).
    let out = gauntlet(&["release", "--decision-log", "canary:missing.jsonl", "--today", "2026-11-22"], &dir);
    assert_eq!(out.code(), Some(2));
    assert!(
        stderr(&out).contains("inc-43.toml:4:1")
            && stderr(&out).contains("error[sign-off-in-future]")
            && !stderr(&out).contains("missing.jsonl"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_file(dir.join("sign-offs/inc-43.toml")).unwrap();
    let out =
        gauntlet(&["release", "--stage", "canary-7", "--deployed-at", &started(1), "--today", "2026-11-22"], &dir);
    assert_eq!(out.code(), Some(2));
    assert!(
        stderr(&out).contains("error[unknown-stage]") && stderr(&out).contains("canary-10, canary-50, full"),
        "{}",
        stderr(&out)
    );
}

/// Regression (#37): `--deployed-at` after the log's last decision judged
/// rollback over no decision at all; a `sign-offs` folder misspelled in
/// `[release.promotion]` dropped every record and the NO-GO then blamed a
/// missing sign-off. Both are now input errors, from `check` too.
#[test]
fn a_deployment_after_the_log_and_a_missing_sign_offs_folder_are_input_errors() {
    let dir = bundled_copy("release-bad-times");
    prepare(&dir);
    let log: String = (0..100).map(|i| log_line(1_790_000_000 + i, "allow", false, 100, "2.0")).collect();
    write(&dir.join("canary.jsonl"), &log);
    let out = gauntlet(
        &[
            "release",
            "--decision-log",
            "canary:canary.jsonl",
            "--deployed-at",
            "2027-01-01T00:00:00Z",
            "--today",
            "2026-11-22",
        ],
        &dir,
    );
    assert_eq!(out.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--deployed-at 2027-01-01T00:00:00Z is after the last decision"), "{}", stderr(&out));

    let config = std::fs::read_to_string(dir.join("gauntlet.toml")).unwrap();
    write(&dir.join("gauntlet.toml"), &format!("{config}\n[release.promotion]\nsign-offs = \"sign-ofs\"\n"));
    for args in [
        vec!["release", "--decision-log", "canary:canary.jsonl", "--today", "2026-11-22"],
        vec!["check", "--offline", "--today", "2026-11-22"],
    ] {
        let out = gauntlet(&args, &dir);
        assert_eq!(out.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("error[missing-folder]") && stderr(&out).contains("sign-ofs"),
            "{}",
            stderr(&out)
        );
    }
}

/// One reason's share of the canary's decisions rising from 5% to 40% for
/// 10 minutes (the baseline staying at 5%) is NO-GO naming the reason; the
/// report lists the distribution, largest shift first, and the Markdown
/// draws the rule's rolling value as a Mermaid chart.
#[test]
fn a_spike_in_one_reason_code_is_no_go_naming_it() {
    let dir = bundled_copy("release-reason-spike");
    let config = std::fs::read_to_string(dir.join("gauntlet.toml")).unwrap();
    write(
        &dir.join("gauntlet.toml"),
        &format!("{config}\n[[release.signals.rules]]\nid = \"reason-spike\"\nsignal = \"reason-share-vs-baseline\"\nabove = 3.0\nfor-minutes = 5\n"),
    );
    prepare(&dir);
    let mut log = String::new();
    for m in 0..40i64 {
        for k in 0..40i64 {
            for (version, share) in [("2.0", if m >= 30 { 16 } else { 2 }), ("1.9", 2)] {
                let reason = if k < share { "pii-email" } else { "ok" };
                log.push_str(&format!(
                    "{{\"ts\":{},\"decision\":\"allow\",\"policy-version\":\"{version}\",\"reasons\":[\"{reason}\"]}}\n",
                    1_790_000_000 + m * 60 + k
                ));
            }
        }
    }
    write(&dir.join("spike.jsonl"), &log);
    let (code, r, stdout) = release(&dir, &["--decision-log", "spike.jsonl"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("alert reason-spike firing") && stdout.contains("(reason pii-email)"), "{stdout}");
    assert_eq!(r["reasons"][0]["reason"], "pii-email", "{:#}", r["reasons"]);
    assert_eq!(r["reasons"][0]["baseline"], 80);
    let md = std::fs::read_to_string(dir.join("reports/release-readiness.md")).unwrap();
    assert!(md.contains("```mermaid\nxychart-beta") && md.contains("Reason codes, largest shift first"), "{md}");
}
