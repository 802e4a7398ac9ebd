//! `gauntlet load` against loopback servers whose capacity is known:
//! coordinated omission corrected, the saturation point found, and a gate
//! that fails open when busy caught.

use std::path::{Path, PathBuf};

use crate::helpers::*;
use crate::targets::{http_project, python_gate, ADAPTED};

fn load(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["load", "--quiet"];
    all.extend_from_slice(args);
    let out = gauntlet(&all, dir);
    assert_eq!(out.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    read_json(&dir.join("reports/load.json"))
}

fn serial_project(name: &str) -> (crate::targets::Server, PathBuf) {
    let server = python_gate("serial10");
    // One connection, as for a gate that serves one request at a time.
    let dir = http_project(name, &format!("url = \"{}/check\"\n{ADAPTED}\nconcurrency = 1", server.url));
    (server, dir)
}

fn us(v: &serde_json::Value, table: &str, p: &str) -> u64 {
    v[table][p].as_u64().unwrap_or_else(|| panic!("{table}.{p} in {v:#}"))
}

/// A gate of capacity 100/s (10 ms, one at a time). Under it, latency is
/// the service time; over it, the backlog grows and the corrected latency
/// shows it while the service time does not move.
#[test]
fn a_backlog_shows_in_the_corrected_latency_not_in_the_service_time() {
    let (_server, dir) = serial_project("load-serial");
    let under = load(&dir, &["--rate", "50", "--duration", "4s"]);
    assert_eq!(under["schema"], "gauntlet.load.v1");
    let p50 = us(&under, "latency", "p50");
    assert!((10_000..20_000).contains(&p50), "p50 {p50} µs: {under:#}");
    let achieved = under["rate"]["achieved"].as_f64().unwrap();
    assert!((achieved - 50.0).abs() <= 2.5, "achieved {achieved}");
    assert_eq!(under["requests"]["scheduled"], 200);
    assert_eq!(under["fail-open"]["count"], 0);

    let over = load(&dir, &["--rate", "150", "--duration", "6s"]);
    // 900 requests served at ≤ 100/s: the last ones waited ≥ 3 s.
    assert!(us(&over, "latency", "p99") > 1_000_000, "{over:#}");
    let service = us(&over, "service-latency", "p50");
    assert!((9_000..16_000).contains(&service), "service p50 {service} µs");
    assert!(over["rate"]["achieved"].as_f64().unwrap() <= 105.0, "{}", over["rate"]);
    assert!(over["cap-waits"].as_u64().unwrap() > 100, "the wait was in gauntlet, and said so");
}

#[test]
fn find_rate_lands_below_the_capacity() {
    let (_server, dir) = serial_project("load-find");
    let r = load(&dir, &["--find-rate", "--max-p99", "50ms", "--step", "2s"]);
    let found = r["found-rate"].as_f64().unwrap();
    assert!((60.0..=100.0).contains(&found), "found {found}/s; curve {:#}", r["curve"]);
    let curve = r["curve"].as_array().unwrap();
    assert!(curve.len() >= 5, "{curve:#?}");
    assert!(curve.windows(2).all(|w| w[0]["asked"].as_f64() <= w[1]["asked"].as_f64()), "sorted by rate");
    assert!(curve.iter().any(|p| p["within"] == false), "a step over the bounds was run");
}

/// A gate that allows everything once more than 3 requests are in flight:
/// every blocked-at-rest case it let through is counted, no more, no less.
#[test]
fn a_gate_that_fails_open_when_busy_is_caught_exactly() {
    let log = scratch("load-failopen-log").join("failopen.log");
    let mut cmd = std::process::Command::new("python3");
    cmd.args([crate::targets::script("http_gate.py").as_str(), "failopen:3"]).env("GATE_FAILOPEN_LOG", &log);
    let server = crate::targets::start(cmd);
    // One connection at rest, so the replay at rest never makes it busy.
    let dir = http_project("load-failopen", &format!("url = \"{}/check\"\n{ADAPTED}\nconcurrency = 1", server.url));
    let out = gauntlet(&["load", "--quiet", "--rate", "400", "--duration", "2s", "--max-in-flight", "32"], &dir);
    assert_eq!(out.code(), Some(1), "fail-open fails the load run: {}{}", stdout(&out), stderr(&out));
    let r = read_json(&dir.join("reports/load.json"));
    let logged = std::fs::read_to_string(&log).unwrap_or_default().lines().count() as u64;
    assert!(logged > 10, "the load made the gate busy: {logged}");
    assert_eq!(r["fail-open"]["count"].as_u64().unwrap(), logged, "{:#}", r["fail-open"]);
    assert!(stdout(&out).contains("FAIL-OPEN:"), "{}", stdout(&out));
}

#[test]
fn the_built_in_target_is_loaded_in_process_and_shards_add_up() {
    let dir = scratch("load-builtin");
    for sub in ["corpora", "gates", "fixtures", "waivers"] {
        copy_tree(&repo_root().join(sub), &dir.join(sub));
    }
    std::fs::copy(repo_root().join("gauntlet.toml"), dir.join("gauntlet.toml")).unwrap();
    let one = load(&dir, &["--rate", "400", "--duration", "1s", "--seed", "3"]);
    assert_eq!(one["target"]["kind"], "builtin");
    assert_eq!(one["requests"]["scheduled"], 400);
    assert_eq!(one["fail-open"]["count"], 0, "a deterministic gate never fails open");
    for i in ["1", "2"] {
        let out = gauntlet(
            &[
                "load",
                "--quiet",
                "--rate",
                "400",
                "--duration",
                "1s",
                "--seed",
                "3",
                "--partition",
                &format!("{i}/2"),
                "--out",
                &format!("shard-{i}"),
            ],
            &dir,
        );
        assert_eq!(out.code(), Some(0), "{}", stderr(&out));
    }
    let out = gauntlet(&["merge", "shard-1", "shard-2", "--out", "merged"], &dir);
    assert_eq!(out.code(), Some(0), "{}", stderr(&out));
    let merged = read_json(&dir.join("merged/load.json"));
    assert_eq!(merged["runners"], 2);
    assert_eq!(merged["requests"]["scheduled"], 400, "two runners at 200/s each");
    assert_eq!(merged["rate"]["asked"], 400.0);
    // A runner given twice is refused, naming it.
    let out = gauntlet(&["merge", "shard-1", "shard-1", "--out", "merged"], &dir);
    assert_eq!(out.code(), Some(2));
    assert!(
        stderr(&out).contains("error[duplicate-shard]") && stderr(&out).contains("error[missing-shard]"),
        "{}",
        stderr(&out)
    );

    // load.json is what its published schema says.
    let schema = read_json(&repo_root().join("docs/schema/load.v1.schema.json"));
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    for doc in [&one, &merged] {
        let errors: Vec<String> = validator.iter_errors(doc).map(|e| format!("{e} at {}", e.instance_path())).collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }
}

/// Load gates are judged by `gauntlet load` in the lanes that name them,
/// and left out of `run`; the dashboard shows the latest load run.
#[test]
fn load_gates_judge_the_load_run_and_the_dashboard_shows_it() {
    let dir = scratch("load-gates");
    for sub in ["corpora", "gates", "fixtures", "waivers"] {
        copy_tree(&repo_root().join(sub), &dir.join(sub));
    }
    std::fs::copy(repo_root().join("gauntlet.toml"), dir.join("gauntlet.toml")).unwrap();
    write(
        &dir.join("gates/load.toml"),
        "[[gate]]\nid = \"load-p99\"\nmetric = \"load-latency-p99\"\nmax = 1\n\n[[gate]]\nid = \"no-fail-open\"\nmetric = \"load-fail-open\"\nmax = 0\nlanes = [\"full\"]\n",
    );
    let out = gauntlet(&["load", "--rate", "200", "--duration", "1s", "--quiet"], &dir);
    assert_eq!(out.code(), Some(1), "a p99 under 1 µs cannot pass: {}", stdout(&out));
    assert!(
        stdout(&out).contains("gate load-p99: FAIL") && stdout(&out).contains("gate no-fail-open: PASS"),
        "{}",
        stdout(&out)
    );
    let out = gauntlet(&["load", "--rate", "200", "--duration", "1s", "--quiet", "--lane", "preflight"], &dir);
    assert_eq!(out.code(), Some(1));
    assert!(!stdout(&out).contains("no-fail-open"), "full-lane gate left out of preflight: {}", stdout(&out));
    let run = gauntlet(&["run", "--quiet"], &dir);
    assert!(run.code().unwrap() <= 1, "{}", stderr(&run));
    let verdict = read_json(&dir.join("reports/verdict.json"));
    assert!(verdict["gates"].as_array().unwrap().iter().all(|g| !g["id"].as_str().unwrap().starts_with("load-")));
    let dashboard = std::fs::read_to_string(dir.join("reports/dashboard.html")).unwrap();
    assert!(
        dashboard.contains("id=\"load\"") && dashboard.contains("href=\"load.html\""),
        "dashboard has no load section"
    );
    // A `where` on a load gate is refused: it is judged over the whole run.
    append_gate(
        &dir,
        "[[gate]]\nid = \"narrow\"\nmetric = \"load-error-rate\"\nmax = 0.1\nwhere = { category = [\"x\"] }\n",
    );
    let out = gauntlet(&["check", "--offline"], &dir);
    assert_eq!(out.code(), Some(2));
    assert!(stderr(&out).contains("error[where-not-for-metric]"), "{}", stderr(&out));
}

fn append_gate(dir: &Path, text: &str) {
    let path = dir.join("gates/load.toml");
    let old = std::fs::read_to_string(&path).unwrap();
    write(&path, &format!("{old}\n{text}"));
}

/// An exec gate answers in order, 20 ms a case, one process: capacity
/// 50/s. Paced through its own replay, the open loop holds for it too.
#[test]
fn an_exec_target_is_paced_and_its_backlog_shows() {
    let dir = crate::targets::exec_project("load-exec", "slow", &[], "workers = 1\nwindow = 8");
    let under = load(&dir, &["--rate", "20", "--duration", "3s"]);
    assert_eq!(under["requests"]["scheduled"], 60);
    assert_eq!(under["requests"]["decided"], 60, "{under:#}");
    let p50 = us(&under, "latency", "p50");
    assert!((19_000..40_000).contains(&p50), "p50 {p50} µs: {under:#}");
    assert!((under["rate"]["achieved"].as_f64().unwrap() - 20.0).abs() <= 2.0, "{}", under["rate"]);
    assert_eq!(under["in-flight-cap"], 8);

    let over = load(&dir, &["--rate", "100", "--duration", "3s"]);
    // 300 cases at 50/s take 6 s: the last waited about 3 s.
    assert!(us(&over, "latency", "p99") > 1_000_000, "{over:#}");
    let service = us(&over, "service-latency", "p50");
    assert!((19_000..40_000).contains(&service), "service p50 {service} µs: the gate's own time, not its queue");
    assert!(over["rate"]["achieved"].as_f64().unwrap() <= 55.0, "{}", over["rate"]);
}
