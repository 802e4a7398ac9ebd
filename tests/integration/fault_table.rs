//! The fault table: every fault a target can have, run through gauntlet,
//! checked for the exit code, for every case accounted exactly once, and
//! for no metric better than with a healthy target. The same table is in
//! docs/protocol.md ("Faults and exit codes").

use std::path::Path;

use crate::helpers::*;
use crate::targets::{python_gate, script, ADAPTED};

/// Sixteen cases, every other one an attack.
fn texts(commands: &[(usize, &str)]) -> Vec<String> {
    (0..16)
        .map(|i| {
            let base = if i % 2 == 1 { "attack" } else { "hello" };
            match commands.iter().find(|(at, _)| *at == i) {
                Some((_, c)) => format!("{base} {c}"),
                None => base.to_string(),
            }
        })
        .collect()
}

fn write_project(dir: &Path, texts: &[String], target: &str) {
    let corpus: String = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let label = if t.starts_with("attack") { "adversarial" } else { "benign" };
            format!("{{\"id\":\"f{i:02}\",\"input\":\"{t}\",\"label\":\"{label}\",\"category\":\"x\"}}\n")
        })
        .collect();
    write(&dir.join("corpora/cases.jsonl"), &corpus);
    write(
        &dir.join("gates/gates.toml"),
        "[[gate]]\nid = \"no-errors\"\nmetric = \"error-rate\"\nmax = 0.0\nbound = \"point\"\n",
    );
    write(&dir.join("gauntlet.toml"), &format!("[target]\n{target}\n"));
}

struct Outcome {
    code: i32,
    stderr: String,
    /// (benign not allowed, attacks allowed, errors) from results.jsonl; None without a verdict.
    counts: Option<(u64, u64, u64)>,
}

fn run_fault(name: &str, texts: &[String], target: &str) -> Outcome {
    let dir = scratch(&format!("fault-{name}"));
    write_project(&dir, texts, target);
    let out = gauntlet(&["run", "--quiet"], &dir);
    let code = out.code().unwrap();
    let counts = dir.join("reports/verdict.json").exists().then(|| {
        let text = std::fs::read_to_string(dir.join("reports/results.jsonl")).unwrap();
        let mut ids = std::collections::BTreeSet::new();
        let (mut fp, mut asr, mut errors) = (0, 0, 0);
        for line in text.lines() {
            let r: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(ids.insert(r["id"].as_str().unwrap().to_string()), "{name}: a case twice: {line}");
            let allowed = r["decision"] == "allow";
            match r["label"].as_str().unwrap() {
                "benign" => fp += (!allowed) as u64,
                _ => asr += allowed as u64,
            }
            errors += r["error"].is_object() as u64;
        }
        assert_eq!(ids.len(), texts.len(), "{name}: every case accounted for exactly once");
        (fp, asr, errors)
    });
    Outcome { code, stderr: stderr(&out), counts }
}

#[test]
fn every_fault_gets_its_exit_code_and_never_a_better_metric() {
    let gate = script("fault_gate.py");
    let exec = |flags: &str, extra: &str| {
        format!("kind = \"exec\"\ncommand = [\"python3\", \"{gate}\"{flags}]\ntimeout-ms = 600\n{extra}")
    };
    let healthy = run_fault("healthy", &texts(&[]), &exec("", ""));
    assert_eq!(healthy.code, 0, "{}", healthy.stderr);
    let (h_fp, h_asr, _) = healthy.counts.unwrap();

    // (fault, texts, target config, exit code, what stderr or the results must say)
    let exec_rows: Vec<(&str, Vec<String>, String, i32)> = vec![
        ("crash-on-one-case", texts(&[(5, "crash")]), exec("", "window = 4"), 1),
        ("crash-after-n-answers", texts(&[]), exec(", \"--crash-after\", \"6\"", "window = 1\nmax-restarts = 10"), 1),
        ("hang", texts(&[(4, "hang")]), exec("", "hang-ms = 1500"), 1),
        ("slow-on-some-cases", texts(&[(2, "sleep:1200"), (9, "sleep:1200")]), exec("", ""), 1),
        ("garbage-instead-of-an-answer", texts(&[(6, "garbage")]), exec("", ""), 1),
        ("stray-debug-line", texts(&[(3, "debug"), (8, "debug")]), exec("", ""), 0),
        ("answers-twice", texts(&[(7, "twice")]), exec("", ""), 1),
        ("out-of-order", texts(&[]), exec(", \"--reverse\"", "health-probe = false"), 0),
        ("unknown-id", texts(&[(10, "unknown")]), exec("", ""), 1),
        ("own-error", texts(&[(11, "error")]), exec("", ""), 1),
        ("dead-at-start", texts(&[]), exec(", \"--dead\"", ""), 3),
        ("silent-after-n-answers", texts(&[]), exec(", \"--silent-after\", \"6\"", "hang-ms = 1500"), 3),
    ];
    for (name, texts, target, code) in exec_rows {
        let o = run_fault(name, &texts, &target);
        assert_eq!(o.code, code, "{name}: {}", o.stderr);
        match o.counts {
            Some((fp, asr, errors)) => {
                assert!(fp >= h_fp && asr >= h_asr, "{name}: a fault improved a metric: fp {fp}, asr {asr}");
                assert_eq!(errors > 0, code != 0, "{name}: errors {errors}");
            }
            None => assert_eq!(code, 3, "{name}: no verdict only when no honest verdict exists"),
        }
    }
    assert!(run_fault("dead-again", &texts(&[]), &exec(", \"--dead\"", ""))
        .stderr
        .contains("cannot load the model file"));

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let ok = python_gate("ok");
    let http = |url: &str, extra: &str| format!("kind = \"http\"\nurl = \"{url}\"\n{ADAPTED}\n{extra}");
    let healthy = run_fault("http-healthy", &texts(&[]), &http(&format!("{}/check", ok.url), ""));
    assert_eq!(healthy.code, 0, "{}", healthy.stderr);
    let (h_fp, h_asr, _) = healthy.counts.unwrap();
    let servers: Vec<(&str, Option<&str>, &str, i32)> = vec![
        ("refused", None, "retries = 1", 3),
        ("404", Some("notfound"), "", 3),
        ("429-with-retry-after", Some("throttle429"), "", 0),
        ("429-without-retry-after", Some("throttle429bare"), "", 0),
        ("500-then-recover", Some("flaky500"), "", 0),
        ("stall", Some("slow"), "timeout-ms = 300", 3),
    ];
    for (name, mode, extra, code) in servers {
        let server = mode.map(python_gate);
        let url = match &server {
            Some(s) => format!("{}/check", s.url),
            None => format!("http://127.0.0.1:{port}/gate"),
        };
        let o = run_fault(name, &texts(&[]), &http(&url, extra));
        assert_eq!(o.code, code, "{name}: {}", o.stderr);
        if let Some((fp, asr, _)) = o.counts {
            assert!(fp >= h_fp && asr >= h_asr, "{name}: a fault improved a metric");
        }
    }
}
