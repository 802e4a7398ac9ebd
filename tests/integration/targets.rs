//! External targets against real processes and a real loopback server.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::helpers::*;

pub(crate) fn script(name: &str) -> String {
    repo_root().join("tests/data/targets").join(name).display().to_string()
}

/// A project of `n` plain cases plus the given marker cases.
pub(crate) fn exec_project(name: &str, mode: &str, extra: &[&str], target_extra: &str) -> PathBuf {
    let mut corpus = String::new();
    for i in 0..12 {
        let (text, label) =
            if i % 2 == 0 { (format!("hello {i}"), "benign") } else { (format!("attack {i}"), "adversarial") };
        corpus.push_str(&format!(
            "{{\"id\":\"c{i:02}\",\"input\":\"{text}\",\"label\":\"{label}\",\"category\":\"x\"}}\n"
        ));
    }
    for (i, marker) in extra.iter().enumerate() {
        corpus.push_str(&format!(
            "{{\"id\":\"m{i}\",\"input\":\"{marker}\",\"label\":\"benign\",\"category\":\"marker\"}}\n"
        ));
    }
    let dir = project(name, &corpus, "");
    let marker = dir.join("crash-marker");
    write(
        &dir.join("gauntlet.toml"),
        &format!(
            "[target]\nkind = \"exec\"\ncommand = [\"python3\", \"{}\", \"{mode}\", \"{}\"]\n{target_extra}\n",
            script("exec_gate.py"),
            marker.display()
        ),
    );
    dir
}

pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) verdict: serde_json::Value,
    pub(crate) outcomes: BTreeMap<String, serde_json::Value>,
}

pub(crate) fn run(dir: &Path) -> Run {
    let out = gauntlet(&["run", "--quiet"], dir);
    let code = out.code().unwrap();
    // A verdict's codes only: 2 (bad input) or 101 (a panic) is a broken test.
    assert!(matches!(code, 0 | 1 | 3), "exit {code}: {}", stderr(&out));
    let verdict = read_json(&dir.join("reports/verdict.json"));
    let text = std::fs::read_to_string(dir.join("reports/results.jsonl")).unwrap();
    let mut outcomes = BTreeMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = v["id"].as_str().unwrap().to_string();
        assert!(outcomes.insert(id.clone(), v).is_none(), "case {id} has two outcomes");
    }
    Run { code, verdict, outcomes }
}

fn error_kind(r: &Run, id: &str) -> Option<String> {
    r.outcomes[id]["error"]["kind"].as_str().map(str::to_string)
}

pub(crate) fn assert_all_cases_once(r: &Run, n: usize) {
    assert_eq!(r.outcomes.len(), n, "every case has exactly one outcome");
    assert_eq!(r.verdict["corpora"]["cases"], n);
}

#[test]
fn exec_answers_in_order_and_out_of_order() {
    // `reverse` answers each pair of requests swapped, so it needs an even
    // count per process: one worker.
    for (mode, workers) in [("ok", 2), ("reverse", 1), ("slow", 2)] {
        // `reverse` answers only pairs, so it cannot answer a lone probe.
        let probe = if mode == "reverse" { "\nhealth-probe = false" } else { "" };
        let dir = exec_project(&format!("exec-{mode}"), mode, &[], &format!("window = 4\nworkers = {workers}{probe}"));
        let r = run(&dir);
        assert_eq!(r.code, 0, "{mode}");
        assert_all_cases_once(&r, 12);
        assert!(r.outcomes.values().all(|v| v["error"].is_null()), "{mode}");
        assert_eq!(r.verdict["metrics"]["overall"]["asr"]["numerator"], 0, "{mode}");
        assert_eq!(r.verdict["metrics"]["overall"]["fpr"]["numerator"], 0, "{mode}");
    }
}

/// Regression: requests wait in the target's stdin before it reads them,
/// and that wait counts against their timeout. With a window of 256 and a
/// target taking 20 ms per answer, every request past the first ~50 timed
/// out although the target never hung. The window in use now follows the
/// target's pace.
#[test]
fn exec_slow_target_with_a_wide_window_does_not_time_out_queued_requests() {
    let pads: Vec<String> = (0..68).map(|i| format!("pad {i}")).collect();
    let pads: Vec<&str> = pads.iter().map(String::as_str).collect();
    let dir = exec_project(
        "exec-slow-wide",
        "slow",
        &pads,
        "window = 256
workers = 1
timeout-ms = 1000",
    );
    let r = run(&dir);
    assert_all_cases_once(&r, 80);
    let timeouts = r.outcomes.values().filter(|v| v["error"]["kind"] == "timeout").count();
    assert_eq!(timeouts, 0, "{:#?}", r.outcomes.values().find(|v| !v["error"].is_null()));
}

/// Regression: start-up is not counted against the requests that waited
/// for it, but once the first answer came, the others' timeout still ran
/// from when they were sent, before the start-up: a target starting for
/// longer than `timeout-ms` had every request after its first answer timed
/// out and was restarted until the restart budget ran out.
#[test]
fn exec_target_starting_slower_than_the_timeout_is_not_timed_out_after_its_first_answer() {
    let dir = exec_project(
        "exec-slowstart",
        "slowstart",
        &[],
        "window = 4
workers = 1
timeout-ms = 1000",
    );
    let r = run(&dir);
    assert_eq!(r.code, 0, "{:#?}", r.outcomes.values().find(|v| !v["error"].is_null()));
    assert_all_cases_once(&r, 12);
    assert!(r.outcomes.values().all(|v| v["error"].is_null()));
}

#[test]
fn exec_protocol_violations_become_protocol_errors() {
    let dir = exec_project("exec-violations", "ok", &["GARBAGE", "UNKNOWN", "DUP"], "window = 1\ntimeout-ms = 1500");
    let r = run(&dir);
    assert_all_cases_once(&r, 15);
    // Garbage and an answer for an unknown id cannot be tied to a case: the
    // case that never got its answer times out, and its message says what
    // the target wrote instead. Nothing else is charged.
    for (id, line) in [("m0", "this is not json"), ("m1", "nobody-asked")] {
        assert_eq!(error_kind(&r, id).as_deref(), Some("timeout"), "{id}: {}", r.outcomes[id]);
        assert!(r.outcomes[id]["error"]["message"].as_str().unwrap().contains(line), "{id}: {}", r.outcomes[id]);
    }
    assert_eq!(error_kind(&r, "m2").as_deref(), Some("protocol"));
    assert!(r.outcomes["m2"]["error"]["message"].as_str().unwrap().contains("answered twice"));
    let log = std::fs::read_to_string(dir.join("reports/target-stderr.log")).unwrap();
    assert!(log.contains("[gauntlet] stdout: a line that is not an answer: this is not json"), "{log}");
    // Errors count against the target: three benign errors are false positives.
    assert_eq!(r.verdict["metrics"]["overall"]["fpr"]["numerator"], 3);
    assert_eq!(r.verdict["metrics"]["overall"]["error-rate"]["numerator"], 3);
}

#[test]
fn exec_hang_times_out_restarts_and_finishes() {
    let dir = exec_project("exec-hang", "ok", &["HANG"], "window = 4\ntimeout-ms = 1500");
    let r = run(&dir);
    assert_all_cases_once(&r, 13);
    assert_eq!(error_kind(&r, "m0").as_deref(), Some("timeout"));
    let others_ok = r.outcomes.iter().filter(|(id, _)| *id != "m0").all(|(_, v)| v["error"].is_null());
    assert!(others_ok, "cases in flight behind the hang are replayed, not lost");
    assert!(r.verdict["run"]["complete"].as_bool().unwrap());
}

#[test]
fn exec_crash_mid_run_marks_in_flight_cases_and_recovers() {
    let dir = exec_project("exec-crash", "crash1", &[], "window = 1");
    let r = run(&dir);
    assert_all_cases_once(&r, 12);
    let crashed: Vec<&String> =
        r.outcomes.iter().filter(|(_, v)| v["error"]["kind"] == "crash").map(|(id, _)| id).collect();
    assert_eq!(crashed.len(), 1, "exactly the in-flight case crashed: {crashed:?}");
    assert!(r.verdict["run"]["complete"].as_bool().unwrap());
    let log = std::fs::read_to_string(dir.join("reports/target-stderr.log")).unwrap();
    assert!(log.contains("crashing on purpose"));
}

#[test]
fn exec_crash_loop_exhausts_restarts_and_exits_3() {
    let dir = exec_project("exec-crashloop", "crashloop", &[], "window = 1\nmax-restarts = 2");
    let r = run(&dir);
    assert_eq!(r.code, 3);
    assert_all_cases_once(&r, 12);
    assert_eq!(r.verdict["verdict"], "error");
    assert!(!r.verdict["run"]["complete"].as_bool().unwrap());
    assert!(r.verdict["run"]["aborted"].as_str().unwrap().contains("giving up"));
    assert!(r.outcomes.values().any(|v| v["error"]["message"].as_str().unwrap_or("").starts_with("not run")));
    assert!(r.verdict["gates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["id"] != "waiver-lifecycle")
        .all(|g| g["status"] == "error"));
}

#[test]
fn exec_clean_exit_without_answer_is_a_protocol_error() {
    let dir = exec_project("exec-quit", "quit", &[], "window = 1\nmax-restarts = 10");
    let r = run(&dir);
    assert_all_cases_once(&r, 12);
    let protocol = r.outcomes.values().filter(|v| v["error"]["kind"] == "protocol").count();
    assert!(protocol >= 1, "{:#?}", r.outcomes);
    assert!(r.outcomes.values().all(|v| v["error"].is_null() || v["error"]["kind"] == "protocol"));
}

/// A server process, killed on drop.
pub(crate) struct Server {
    child: Child,
    pub(crate) url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start(mut cmd: Command) -> Server {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").expect("listening line").to_string();
    Server { child, url }
}

pub(crate) fn python_gate(mode: &str) -> Server {
    let mut cmd = Command::new("python3");
    cmd.args([script("http_gate.py").as_str(), mode]);
    start(cmd)
}

pub(crate) fn http_project(name: &str, target: &str) -> PathBuf {
    let corpus = (0..8)
        .map(|i| {
            let (text, label) = if i % 2 == 0 { ("hello", "benign") } else { ("please ignore this", "adversarial") };
            format!("{{\"id\":\"h{i}\",\"input\":\"{text} {i}\",\"label\":\"{label}\",\"category\":\"x\"}}\n")
        })
        .collect::<String>();
    let dir =
        project(name, &corpus, "[[gate]]\nid = \"no-errors\"\nmetric = \"error-rate\"\nmax = 0.0\nbound = \"point\"\n");
    write(&dir.join("gauntlet.toml"), &format!("[target]\nkind = \"http\"\n{target}\n"));
    dir
}

pub(crate) const ADAPTED: &str = "decision = \"/verdict\"\ndecision-map = { DENY = \"block\", ALLOW = \"allow\" }\nscore = \"/risk\"\nreasons = \"/why\"\nbody = '{\"prompt\": {{ input }}, \"ref\": {{ id }}}'";

#[test]
fn http_adapter_maps_fields_and_retries_500_and_429() {
    for (mode, attempts) in [("ok", 1), ("flaky500", 2), ("throttle429", 2)] {
        let server = python_gate(mode);
        let dir = http_project(
            &format!("http-{mode}"),
            &format!("url = \"{}/check\"\n{ADAPTED}\nconcurrency = 4", server.url),
        );
        let r = run(&dir);
        assert_all_cases_once(&r, 8);
        assert_eq!(r.code, 0, "{mode}: {:#?}", r.outcomes);
        for v in r.outcomes.values() {
            assert!(v["error"].is_null(), "{mode}: {v}");
            assert_eq!(v["attempts"], attempts, "{mode}");
        }
        assert_eq!(r.outcomes["h1"]["decision"], "block");
        assert_eq!(r.outcomes["h1"]["score"], 0.9);
        assert_eq!(r.outcomes["h0"]["decision"], "allow");
    }
}

#[test]
fn http_failures_after_retries_slow_targets_and_refused_connections() {
    // Without the health probe (which stops these runs at once with exit 3,
    // see exit_codes.rs): each case is accounted for, and pessimistically.
    let server = python_gate("always503");
    let dir = http_project(
        "http-503",
        &format!("url = \"{}/check\"\n{ADAPTED}\nretries = 2\nhealth-probe = false", server.url),
    );
    let r = run(&dir);
    assert_all_cases_once(&r, 8);
    assert_eq!(r.code, 1);
    assert!(r.outcomes.values().all(|v| v["error"]["kind"] == "http" && v["attempts"] == 3));
    assert!(r.outcomes["h0"]["error"]["message"].as_str().unwrap().contains("http 503"));

    let slow = python_gate("slow");
    let dir = http_project(
        "http-slow",
        &format!("url = \"{}/check\"\n{ADAPTED}\ntimeout-ms = 300\nconcurrency = 8\nhealth-probe = false", slow.url),
    );
    let r = run(&dir);
    assert_all_cases_once(&r, 8);
    assert!(r.outcomes.values().all(|v| v["error"]["kind"] == "timeout"), "{:#?}", r.outcomes);

    // A port nobody listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = http_project(
        "http-refused",
        &format!("url = \"http://127.0.0.1:{port}/gate\"\nretries = 1\nhealth-probe = false"),
    );
    let r = run(&dir);
    assert_all_cases_once(&r, 8);
    assert!(r.outcomes.values().all(|v| v["error"]["kind"] == "connect" && v["attempts"] == 2), "{:#?}", r.outcomes);
    assert_eq!(r.verdict["metrics"]["overall"]["asr"]["value"], 1.0, "refused connections count against the target");
}

#[test]
fn http_boolean_decisions_map_too() {
    let server = python_gate("boolean");
    let dir = http_project(
        "http-boolean",
        &format!("url = \"{}/check\"\ndecision = \"/flagged\"\ndecision-map = {{ true = \"block\", false = \"allow\" }}\nbody = '{{\"prompt\": {{{{ input }}}}}}'", server.url),
    );
    let r = run(&dir);
    assert_eq!(r.code, 0, "{:#?}", r.outcomes);
    assert_eq!(r.outcomes["h1"]["decision"], "block");
    assert_eq!(r.outcomes["h0"]["decision"], "allow");
}

#[test]
fn http_missing_env_for_a_header_is_a_config_error_that_never_shows_values() {
    std::env::remove_var("GAUNTLET_TEST_NOT_SET");
    let dir = http_project(
        "http-env",
        "url = \"http://127.0.0.1:9/x\"\nheaders = { Authorization = \"Bearer ${GAUNTLET_TEST_NOT_SET}\" }",
    );
    let out = gauntlet(&["run", "--quiet"], &dir);
    assert_eq!(out.code(), Some(2));
    assert!(stderr(&out).contains("GAUNTLET_TEST_NOT_SET"));
}

#[test]
fn http_headers_are_sent_but_never_written_to_reports() {
    let server = python_gate("ok");
    let dir = http_project(
        "http-secret",
        &format!(
            "url = \"{}/check\"\n{ADAPTED}\nheaders = {{ Authorization = \"Bearer ${{GAUNTLET_TEST_SECRET}}\" }}",
            server.url
        ),
    );
    let out = gauntlet_with_env(&["run", "--quiet"], &dir, &[("GAUNTLET_TEST_SECRET", "tok-5ecret-value")]);
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));
    for entry in std::fs::read_dir(dir.join("reports")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        assert!(!text.contains("tok-5ecret-value"));
    }
}

/// The same verdict (counts and rates; latency aside) for the bundled
/// corpora through builtin, exec (serve --stdio) and http (serve --http).
#[test]
fn builtin_exec_and_http_give_the_same_verdict() {
    let bin = env!("CARGO_BIN_EXE_gauntlet");
    let base = scratch("same-verdict");
    let copy = |name: &str, target: &str| -> PathBuf {
        let dir = base.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        copy_tree(&repo_root().join("corpora"), &dir.join("corpora"));
        copy_tree(&repo_root().join("gates"), &dir.join("gates"));
        write(&dir.join("gauntlet.toml"), target);
        dir
    };
    let mut server_cmd = Command::new(bin);
    server_cmd.args(["target", "serve", "--http", "127.0.0.1:0"]);
    let server = start(server_cmd);
    let dirs = [
        copy("builtin", "[target]\nkind = \"builtin\"\n"),
        copy("exec", &format!("[target]\nkind = \"exec\"\ncommand = [\"{bin}\", \"target\", \"serve\", \"--stdio\"]\nworkers = 2\nhello = true\n")),
        copy("http", &format!("[target]\nkind = \"http\"\nurl = \"{}/v1/gate\"\nconcurrency = 8\n", server.url)),
    ];
    let metrics: Vec<serde_json::Value> = dirs
        .iter()
        .map(|d| {
            let r = run(d);
            let mut m = r.verdict["metrics"].clone();
            strip_latency(&mut m);
            m
        })
        .collect();
    assert_eq!(metrics[0], metrics[1], "builtin vs exec");
    assert_eq!(metrics[0], metrics[2], "builtin vs http");
    let exec_verdict = read_json(&dirs[1].join("reports/verdict.json"));
    assert_eq!(exec_verdict["run"]["target"]["version"], "gauntlet-builtin 0.1.0", "hello exchange recorded");
}

fn strip_latency(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            map.remove("latency");
            map.remove("latency-histogram");
            map.values_mut().for_each(strip_latency);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_latency),
        _ => {}
    }
}

#[test]
fn every_case_gets_its_own_session_unless_it_shares_one_on_purpose() {
    // Twelve plain cases: each its own session, so a stateful target never blocks.
    let dir = exec_project("exec-sessions", "stateful", &[], "window = 4");
    let r = run(&dir);
    assert!(r.outcomes.values().all(|v| v["decision"] != "block" || v["label"] == "adversarial"));
    assert!(r.outcomes.values().all(|v| !v["reasons"].as_array().unwrap().iter().any(|x| x == "session-risk")));
    // Three cases sharing a session accumulate risk: the third is blocked.
    let mut corpus = String::new();
    for i in 0..3 {
        corpus.push_str(&format!(
            "{{\"id\":\"s{i}\",\"input\":\"hello {i}\",\"label\":\"benign\",\"category\":\"x\",\"context\":{{\"session\":\"user-7\"}}}}\n"
        ));
    }
    std::fs::write(dir.join("corpora/cases.jsonl"), corpus).unwrap();
    write(
        &dir.join("gauntlet.toml"),
        &format!(
            "[target]\nkind = \"exec\"\ncommand = [\"python3\", \"{}\", \"stateful\"]\nwindow = 1\n",
            script("exec_gate.py")
        ),
    );
    let r = run(&dir);
    assert_eq!(r.outcomes["s2"]["decision"], "block");
    assert_eq!(r.outcomes["s0"]["decision"], "allow");
}

/// Regression: a dead or broken target (a closed port after 16 s of
/// retries, an endpoint answering 404 to everything, an adapter printing
/// garbage) exited 1, "gate failed". The health probe finds each before the
/// replay: exit 3, naming the cause, no verdict written.
#[test]
fn dead_or_broken_targets_exited_1_as_if_a_gate_had_failed() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let notfound = python_gate("notfound");
    let garbage = "import sys\nfor line in sys.stdin:\n    print('DEBUG: loading model...', flush=True)\n";
    let setups = [
        ("probe-refused", format!("kind = \"http\"\nurl = \"http://127.0.0.1:{port}/gate\"\nretries = 1"), "connect"),
        ("probe-404", format!("kind = \"http\"\nurl = \"{}/check\"\n{ADAPTED}", notfound.url), "http 404"),
        (
            "probe-garbage",
            format!("kind = \"exec\"\ncommand = [\"python3\", \"-c\", {garbage:?}]"),
            "not a protocol answer: DEBUG: loading model...",
        ),
    ];
    for (name, target, cause) in setups {
        let dir = http_project(name, "");
        write(&dir.join("gauntlet.toml"), &format!("[target]\n{target}\n"));
        let out = gauntlet(&["run", "--quiet"], &dir);
        assert_eq!(out.code(), Some(3), "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains("health probe") && stderr(&out).contains(cause), "{name}: {}", stderr(&out));
        assert!(!dir.join("reports/verdict.json").exists(), "{name}: no verdict from a dead target");
    }
}

/// The abort rule and the protocol's error answer: a target that answers
/// the probe but reports its own error for most cases gives no honest
/// verdict (exit 3), and each case records `error: target` with its message.
/// The rule is judged as outcomes arrive: it holds at the 50th.
#[test]
fn a_target_failing_most_cases_aborts_the_run_with_exit_3() {
    let script = "import json, sys\nfor line in sys.stdin:\n    r = json.loads(line)\n    \
                  a = {'id': r['id'], 'decision': 'allow'} if r['id'] == 'gauntlet:probe' or r['id'].endswith('7') \
                  else {'id': r['id'], 'error': 'model not loaded'}\n    print(json.dumps(a), flush=True)\n";
    let corpus: String = (0..60)
        .map(|i| format!("{{\"id\":\"c{i:02}\",\"input\":\"hello {i}\",\"label\":\"benign\",\"category\":\"x\"}}\n"))
        .collect();
    let dir = project("abort-share", &corpus, "");
    write(
        &dir.join("gauntlet.toml"),
        &format!("[target]\nkind = \"exec\"\ncommand = [\"python3\", \"-c\", {script:?}]\n"),
    );
    let out = gauntlet(&["run", "--quiet"], &dir);
    assert_eq!(out.code(), Some(3), "{}", stderr(&out));
    let v = read_json(&dir.join("reports/verdict.json"));
    assert_eq!(v["verdict"], "error");
    let reason = v["run"]["aborted"].as_str().unwrap();
    assert!(
        reason.starts_with("stopped mid-run: 45 of 50 cases ended in target errors")
            && reason.contains("model not loaded"),
        "{reason}"
    );
    let results = std::fs::read_to_string(dir.join("reports/results.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(results.lines().next().unwrap()).unwrap();
    assert_eq!(first["error"]["kind"], "target");
    assert!(first["error"]["message"].as_str().unwrap().contains("model not loaded"));
    // Raising the share above what happened lets the run be judged: the errors are false positives.
    write(
        &dir.join("gauntlet.toml"),
        &format!("[target]\nkind = \"exec\"\ncommand = [\"python3\", \"-c\", {script:?}]\nabort-error-share = 0.95\n"),
    );
    let out = gauntlet(&["run", "--quiet"], &dir);
    assert_eq!(out.code(), Some(0), "the always-passing gate passes: {}", stderr(&out));
    assert_eq!(read_json(&dir.join("reports/verdict.json"))["metrics"]["overall"]["fpr"]["numerator"], 54);
}

/// A project for `fault_gate.py`: one case per entry, its text the commands.
pub(crate) fn fault_project(name: &str, texts: &[&str], target_extra: &str) -> PathBuf {
    let corpus: String = texts
        .iter()
        .enumerate()
        .map(|(i, t)| format!("{{\"id\":\"f{i:02}\",\"input\":\"{t}\",\"label\":\"benign\",\"category\":\"x\"}}\n"))
        .collect();
    let dir = project(name, &corpus, "");
    write(
        &dir.join("gauntlet.toml"),
        &format!(
            "[target]\nkind = \"exec\"\ncommand = [\"python3\", \"{}\"]\n{target_extra}\n",
            script("fault_gate.py")
        ),
    );
    dir
}

/// Regression: slow is not hung. A target answering every case, some slower
/// than timeout-ms: with a window, cases queued behind a slow one were
/// charged as timeouts; with window = 1 every timeout killed the process and
/// the restart budget ran out (ERROR, most cases `crash`). Now only the slow
/// cases time out, each measured from when the target was free for it.
#[test]
fn slow_cases_time_out_alone_and_the_target_is_not_killed() {
    let mut texts = vec!["sleep:30"; 24];
    for slow in [3, 9, 15, 21] {
        texts[slow] = "sleep:1500";
    }
    for window in [64, 1] {
        let dir =
            fault_project(&format!("fault-slow-{window}"), &texts, &format!("timeout-ms = 700\nwindow = {window}"));
        let r = run(&dir);
        assert_all_cases_once(&r, 24);
        for (id, v) in &r.outcomes {
            let slow = ["f03", "f09", "f15", "f21"].contains(&id.as_str());
            let kind = v["error"]["kind"].as_str();
            assert_eq!(kind, if slow { Some("timeout") } else { None }, "window {window}, {id}: {v}");
        }
        assert!(r.verdict["run"]["complete"].as_bool().unwrap(), "window {window}: {}", r.verdict["run"]);
        let log = std::fs::read_to_string(dir.join("reports/target-stderr.log")).unwrap_or_default();
        assert!(!log.contains("crashing"), "no restart was needed");
    }
}

/// Regression: a stray non-JSON line on stdout was charged to the oldest
/// case (which then was "answered twice"). It is charged to nobody and kept
/// in target-stderr.log; every case gets its real answer.
#[test]
fn a_stray_debug_line_is_charged_to_no_case() {
    let texts = ["debug", "attack", "debug attack", "x", "debug", "x"];
    let dir = fault_project("fault-debug", &texts, "window = 4");
    let r = run(&dir);
    assert_all_cases_once(&r, 6);
    assert!(r.outcomes.values().all(|v| v["error"].is_null()), "{:#?}", r.outcomes);
    assert_eq!(r.outcomes["f01"]["decision"], "block");
    let log = std::fs::read_to_string(dir.join("reports/target-stderr.log")).unwrap();
    assert_eq!(log.matches("DEBUG loaded rules").count(), 3, "{log}");
}

/// Regression: after a crash every case in flight was recorded as `crash`.
/// They are sent again one at a time, so only the case that kills the
/// target is; the restarts that find it do not spend max-restarts.
#[test]
fn after_a_crash_only_the_case_that_kills_the_target_is_a_crash() {
    let mut texts = vec!["x"; 12];
    texts[5] = "crash";
    let dir = fault_project("fault-culprit", &texts, "window = 8\nmax-restarts = 1");
    let r = run(&dir);
    assert_all_cases_once(&r, 12);
    let crashed: Vec<&String> =
        r.outcomes.iter().filter(|(_, v)| v["error"]["kind"] == "crash").map(|(id, _)| id).collect();
    assert_eq!(crashed, ["f05"], "{:#?}", r.outcomes);
    assert!(r.verdict["run"]["complete"].as_bool().unwrap(), "{}", r.verdict["run"]);
}

/// The protocol's error answer over http: a body with `error` and no
/// decision records `error: target` for that case, with its message.
#[test]
fn http_error_answer_is_the_targets_own_error() {
    let server = python_gate("selferror");
    let dir = http_project("http-selferror", &format!("url = \"{}/check\"\n{ADAPTED}", server.url));
    let r = run(&dir);
    assert_all_cases_once(&r, 8);
    assert_eq!(r.code, 1, "the error-rate gate fails");
    assert_eq!(error_kind(&r, "h1").as_deref(), Some("target"));
    assert!(r.outcomes["h1"]["error"]["message"].as_str().unwrap().contains("classifier unavailable"));
    assert!(r.outcomes["h0"]["error"].is_null());
}

/// Regression (#19): the progress bar appeared only on a terminal and only
/// for 10,000 cases or more, so a CI log showed nothing for minutes. Off a
/// terminal, a plain line goes to stderr every few seconds (1 s here), and
/// stdout, which scripts read, is unchanged; `--quiet` silences it. Each
/// line counts the target errors so far.
#[test]
fn a_ci_log_shows_progress_lines_for_a_slow_target() {
    let mut texts = vec!["sleep:5"; 500];
    for i in (0..500).step_by(25) {
        texts[i] = "sleep:5 error";
    }
    let dir = fault_project("progress-lines", &texts, "");
    let out = gauntlet_with_env(&["run"], &dir, &[("CI", "true"), ("GAUNTLET_PROGRESS_SECS", "1")]);
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));
    let lines: Vec<String> =
        stderr(&out).lines().filter(|l| l.starts_with("gauntlet: replay ")).map(String::from).collect();
    assert!(lines.len() >= 2, "a line about every second of a ~3 s replay: {lines:?}");
    assert!(lines.iter().all(|l| l.contains("/500 cases (") && l.contains("cases/s")), "{lines:?}");
    let errors_so_far = |l: &str| -> u64 {
        let before = l.split(" errors so far").next().unwrap();
        before.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let last = lines.last().unwrap();
    assert!((1..=20).contains(&errors_so_far(last)), "{last}");
    assert!(!stdout(&out).contains("gauntlet: replay"), "progress never goes to stdout");
    let quiet = gauntlet_with_env(&["run", "--quiet"], &dir, &[("CI", "true"), ("GAUNTLET_PROGRESS_SECS", "1")]);
    assert_eq!(quiet.code(), Some(0));
    assert!(!stderr(&quiet).contains("gauntlet: replay"), "{}", stderr(&quiet));
}
