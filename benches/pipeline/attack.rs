//! `gauntlet attack`: queries a second against the built-in target (the
//! search and the firewall in one process), and gauntlet's own cost per
//! query against a cheap exec target (the same requests piped straight
//! through the target give its own time).

use std::path::{Path, PathBuf};
use std::time::Instant;

use gauntlet::attack::{Strategy, DEFAULT_MAX_EDIT_SHARE};
use gauntlet::evaluate::Lane;
use gauntlet::pipeline::{attack, AttackOptions};

fn options(config: PathBuf, strategy: Strategy) -> AttackOptions {
    AttackOptions {
        out: Some(config.parent().unwrap().join("reports")),
        config,
        lane: Lane::Full,
        quiet: true,
        budget: 50,
        seed: 0,
        strategy,
        max_edit_share: DEFAULT_MAX_EDIT_SHARE,
        resume: false,
    }
}

fn queries(r: &gauntlet::attack::AttackReport) -> u64 {
    r.queries.at_rest + r.queries.search + r.queries.confirmations
}

/// A project of `n` adversarial prompts behind `target` (TOML lines).
fn project(name: &str, n: usize, target: &str) -> PathBuf {
    let dir = super::root().join("target/bench-data").join(name);
    std::fs::create_dir_all(dir.join("corpora")).unwrap();
    std::fs::create_dir_all(dir.join("gates")).unwrap();
    std::fs::copy(super::root().join("gates/runbook.toml"), dir.join("gates/runbook.toml")).unwrap();
    let inputs = super::bundled_inputs();
    let adversarial: Vec<&String> = inputs.iter().filter(|(_, l, _)| l == "adversarial").map(|(t, _, _)| t).collect();
    let mut lines = String::new();
    for i in 0..n {
        let line = serde_json::json!({"id": format!("a{i}"), "input": format!("{} (ticket {i})", adversarial[i % adversarial.len()]), "label": "adversarial", "category": "c"});
        lines.push_str(&format!("{line}\n"));
    }
    std::fs::write(dir.join("corpora/cases.jsonl"), lines).unwrap();
    std::fs::write(dir.join("gauntlet.toml"), target).unwrap();
    dir.join("gauntlet.toml")
}

fn piped_seconds(command: &[String], requests: &Path) -> f64 {
    let start = Instant::now();
    let status = std::process::Command::new(&command[0])
        .args(&command[1..])
        .stdin(std::fs::File::open(requests).unwrap())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    start.elapsed().as_secs_f64()
}

pub fn bench_attack() {
    // The built-in firewall returns scores: guided, and random for comparison.
    let builtin = project("attack-builtin", 2_000, "[target]\nkind = \"builtin\"\n");
    for strategy in [Strategy::Guided, Strategy::Random] {
        let start = Instant::now();
        let r = attack(&options(builtin.clone(), strategy)).expect("attack runs");
        let secs = start.elapsed().as_secs_f64();
        println!(
            "attack builtin {strategy:?}: {} originals, {} queries in {secs:.2} s = {:.0} queries/s; evaded {} ({:.1}%), median {} queries",
            r.originals.searched,
            queries(&r),
            queries(&r) as f64 / secs,
            r.evaded,
            r.curve.last().and_then(|p| p.rate).unwrap_or(0.0) * 100.0,
            r.median_queries.unwrap_or(0.0)
        );
    }

    // A cheap exec target that blocks everything: every search spends its
    // whole budget; the difference from piping the same number of requests
    // straight through it is gauntlet's cost per query.
    let bin = env!("CARGO_BIN_EXE_gauntlet");
    let command: Vec<String> = [bin, "target", "serve", "--stdio", "--always", "block"].map(String::from).to_vec();
    let toml = format!(
        "[target]\nkind = \"exec\"\ncommand = [{}]\nhealth-probe = false\n",
        command.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ")
    );
    let exec = project("attack-exec", 400, &toml);
    let start = Instant::now();
    let r = attack(&options(exec.clone(), Strategy::Random)).expect("attack runs");
    let secs = start.elapsed().as_secs_f64();
    let n = queries(&r);
    let requests = exec.parent().unwrap().join("requests.jsonl");
    let mut buf = Vec::new();
    let cases = super::load_cases(&exec);
    for i in 0..n as usize {
        gauntlet::targets::protocol::Request::write_line(&cases[i % cases.len()], &mut buf);
    }
    std::fs::write(&requests, &buf).unwrap();
    let piped = piped_seconds(&command, &requests);
    println!(
        "attack exec (always block, decision only): {n} queries in {secs:.2} s = {:.0} queries/s; the same number piped straight through the target: {piped:.2} s; gauntlet's cost {:.1} µs per query",
        n as f64 / secs,
        (secs - piped).max(0.0) / n as f64 * 1e6
    );
}
