//! The honest clock: a case's latency is the gate's own service time,
//! whatever the window or concurrency; a timed-out case holds nothing else
//! hostage; a target that goes silent stops the run within its restart
//! budget, not after the whole corpus.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::helpers::*;
use crate::targets::{python_gate, script, ADAPTED};

/// A project whose cases are `texts` (every third an attack), with an
/// `error-rate` gate at 0 and a loose p99 gate, and this `[target]`.
fn clock_project(name: &str, texts: &[String], target: &str) -> PathBuf {
    let dir = scratch(&format!("clock-{name}"));
    let corpus: String = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let label = if i % 3 == 1 { "adversarial" } else { "benign" };
            let t = if label == "adversarial" { format!("attack {t}") } else { t.clone() };
            format!("{{\"id\":\"k{i:04}\",\"input\":\"{t}\",\"label\":\"{label}\",\"category\":\"x\"}}\n")
        })
        .collect();
    write(&dir.join("corpora/cases.jsonl"), &corpus);
    write(
        &dir.join("gates/gates.toml"),
        "[[gate]]\nid = \"no-errors\"\nmetric = \"error-rate\"\nmax = 0.0\nbound = \"point\"\n",
    );
    write(&dir.join("gauntlet.toml"), &format!("[target]\n{target}\n"));
    dir
}

fn exec_target(extra: &str) -> String {
    format!("kind = \"exec\"\ncommand = [\"python3\", \"{}\"]\n{extra}", script("fault_gate.py"))
}

struct Ran {
    code: i32,
    stderr: String,
    verdict: serde_json::Value,
    results: Vec<serde_json::Value>,
    took: Duration,
}

fn run_clock(dir: &Path) -> Ran {
    let started = Instant::now();
    let out = gauntlet(&["run", "--quiet"], dir);
    let took = started.elapsed();
    let verdict_path = dir.join("reports/verdict.json");
    let verdict = if verdict_path.exists() { read_json(&verdict_path) } else { serde_json::Value::Null };
    let results = std::fs::read_to_string(dir.join("reports/results.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    Ran { code: out.code().unwrap(), stderr: stderr(&out), verdict, results, took }
}

fn p50(r: &Ran) -> f64 {
    r.verdict["metrics"]["overall"]["latency"]["p50"].as_u64().expect("a p50") as f64
}

/// Regression: with the default window a 5 ms exec gate reported p50
/// 252 ms, p99 342 ms: the wait behind gauntlet's own pipelining. On a quiet
/// machine the two p50s agree within 1% (exec and http); the bound here is
/// 25% because this suite runs beside other tests on two cores, where a
/// Python server's own scheduling moves its latency. The defect it guards
/// against was a factor of 50.
#[test]
fn a_five_ms_gate_reports_five_ms_whatever_the_window_or_concurrency() {
    let texts: Vec<String> = (0..300).map(|i| format!("case {i} sleep:5")).collect();
    let windowed = run_clock(&clock_project("exec-window-64", &texts, &exec_target("")));
    let one = run_clock(&clock_project("exec-window-1", &texts, &exec_target("window = 1")));
    assert_eq!((windowed.code, one.code), (0, 0), "{}{}", windowed.stderr, one.stderr);
    let (w, o) = (p50(&windowed), p50(&one));
    assert!((w - o).abs() <= 0.25 * o, "exec p50 {w} µs with the default window, {o} µs with window = 1");
    assert!((4_500.0..12_000.0).contains(&w), "exec p50 {w} µs for a 5 ms gate");
    assert_eq!(windowed.verdict["run"]["target"]["latency-method"], "service-time");
    // The wait behind earlier requests is reported, apart.
    let queued = windowed.results.iter().filter(|r| r["queue-us"].as_u64().unwrap_or(0) > 20_000).count();
    assert!(queued > 100, "only {queued} cases waited over 20 ms in the target's queue");
    for r in &windowed.results {
        assert!(r["latency-us"].as_u64().unwrap() < 200_000, "{r}");
    }

    let server = python_gate("ok");
    let http = |concurrency: u32| {
        format!("kind = \"http\"\nurl = \"{}/check\"\n{ADAPTED}\nconcurrency = {concurrency}", server.url)
    };
    let sixteen = run_clock(&clock_project("http-16", &texts, &http(16)));
    let single = run_clock(&clock_project("http-1", &texts, &http(1)));
    assert_eq!((sixteen.code, single.code), (0, 0), "{}{}", sixteen.stderr, single.stderr);
    let (s, o) = (p50(&sixteen), p50(&single));
    assert!((s - o).abs() <= 0.25 * o, "http p50 {s} µs at concurrency 16, {o} µs at 1");
    assert_eq!(sixteen.verdict["run"]["target"]["latency-method"], "send-to-answer");
}

/// Regression: a case slower than `timeout-ms` held the cases queued behind
/// it until `hang-ms` passed, and then they were charged as timeouts though
/// the gate never started on them (10 of 20 short benign prompts).
#[test]
fn a_timed_out_case_holds_nothing_else_hostage() {
    let texts: Vec<String> = (0..30)
        .map(|i| if i % 3 == 0 { format!("long {i} sleep:40000") } else { format!("short {i} sleep:100") })
        .collect();
    let dir = clock_project("long-and-short", &texts, &exec_target("timeout-ms = 2000"));
    let r = run_clock(&dir);
    assert_eq!(r.code, 1, "timeouts of a live target fail the error-rate gate: {}", r.stderr);
    assert!(r.took < Duration::from_secs(45), "took {:?}", r.took);
    assert_eq!(r.results.len(), 30);
    for res in &r.results {
        let long = res["input"].as_str().unwrap().contains("long");
        match long {
            true => assert_eq!(res["error"]["kind"], "timeout", "{res}"),
            false => {
                assert!(res["error"].is_null(), "a short case got no answer: {res}");
                let us = res["latency-us"].as_u64().unwrap();
                assert!((95_000..300_000).contains(&us), "a 100 ms case measured {us} µs");
            }
        }
    }
    let restarts = &r.verdict["run"]["target"]["restarts"];
    assert_eq!(restarts["failures"], 0, "timeouts are not crashes: {restarts}");
    assert!(restarts["timeouts"].as_u64().unwrap() >= 9, "{restarts}");
    assert!(r.verdict["run"]["aborted"].is_null());
}

/// Regression: a target that went silent after its probe cost the whole
/// corpus before the run said anything.
#[test]
fn a_target_that_goes_silent_stops_the_run_within_its_restart_budget() {
    let texts: Vec<String> = (0..2000).map(|i| format!("case {i}")).collect();
    for (name, flags, extra) in [
        ("answers-probes", "", "hang-ms = 5000"),
        ("silent-to-probes", ", \"--silent-probe\"", "hang-ms = 5000\nstartup-ms = 3000"),
    ] {
        let target = format!(
            "kind = \"exec\"\ncommand = [\"python3\", \"{}\", \"--silent-after\", \"60\"{flags}]\n{extra}",
            script("fault_gate.py")
        );
        let r = run_clock(&clock_project(&format!("silent-{name}"), &texts, &target));
        assert_eq!(r.code, 3, "{name}: {}", r.stderr);
        assert!(r.took < Duration::from_secs(30), "{name}: took {:?}", r.took);
        let answered = r.results.iter().filter(|res| res["error"].is_null()).count();
        assert_eq!(answered, 60, "{name}");
        let aborted = r.verdict["run"]["aborted"].as_str().unwrap();
        assert!(aborted.contains("giving up") || aborted.contains("health probe"), "{name}: {aborted}");
        let not_run = r
            .results
            .iter()
            .filter(|res| res["error"]["message"].as_str().is_some_and(|m| m.starts_with("not run")))
            .count();
        assert!(not_run > 1800, "{name}: {not_run} cases not run");
    }
}

/// The abort rule is judged as outcomes arrive: a target that answers every
/// case with its own error stops after `abort-min-cases`, not at the end.
#[test]
fn the_abort_rule_stops_the_run_the_moment_it_holds() {
    let texts: Vec<String> = (0..3000).map(|i| format!("case {i} error")).collect();
    let r = run_clock(&clock_project("abort-mid-run", &texts, &exec_target("window = 1")));
    assert_eq!(r.code, 3, "{}", r.stderr);
    let aborted = r.verdict["run"]["aborted"].as_str().unwrap();
    assert!(aborted.starts_with("stopped mid-run: "), "{aborted}");
    let sent = r.results.iter().filter(|res| res["error"]["kind"] == "target").count();
    assert!((50..200).contains(&sent), "{sent} cases were sent before the abort");
}
