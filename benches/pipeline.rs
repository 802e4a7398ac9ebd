//! Benchmarks that print figures (no assertions): `cargo bench`, or
//! `cargo bench -- NAME` for one of them. Corpora are generated in
//! target/bench-data from the bundled cases with per-case variations, so
//! texts are realistic and no two are identical.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use gauntlet::pipeline::{run, RunOptions};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Peak resident memory of this process so far, in MiB (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn bundled_inputs() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for file in ["benign.jsonl", "adversarial.jsonl"] {
        let text = std::fs::read_to_string(root().join("corpora/bundled").join(file)).unwrap();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            out.push((
                v["input"].as_str().unwrap().to_string(),
                v["label"].as_str().unwrap().to_string(),
                v["category"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

const FILLERS: &[&str] = &[
    "",
    "Thanks in advance.",
    "Please keep it short.",
    "This is for a school project.",
    "I need the answer by tomorrow morning.",
    "Answer in a friendly tone.",
    "My manager asked me to check this.",
    "Use simple words.",
];

/// Writes an n-case corpus project and returns its gauntlet.toml.
pub fn generate_project(n: usize) -> PathBuf {
    let dir = root().join("target/bench-data").join(format!("cases-{n}"));
    let config = dir.join("gauntlet.toml");
    if config.exists() {
        return config;
    }
    std::fs::create_dir_all(dir.join("corpora")).unwrap();
    std::fs::create_dir_all(dir.join("gates")).unwrap();
    std::fs::copy(root().join("gates/runbook.toml"), dir.join("gates/runbook.toml")).unwrap();
    let inputs = bundled_inputs();
    let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join("corpora/cases.jsonl")).unwrap());
    for i in 0..n {
        let (text, label, category) = &inputs[i % inputs.len()];
        let filler = FILLERS[(i / inputs.len()) % FILLERS.len()];
        let input = format!("{text} {filler} (ticket {i})");
        let line = serde_json::json!({"id": format!("gen-{i}"), "input": input, "label": label, "category": category});
        writeln!(w, "{line}").unwrap();
    }
    w.flush().unwrap();
    std::fs::write(&config, "[target]\nkind = \"builtin\"\n").unwrap();
    config
}

fn bench_end_to_end(n: usize) {
    let config = generate_project(n);
    let out_dir = config.parent().unwrap().join("reports");
    let rss_before = peak_rss_mib().unwrap_or(0.0);
    let start = Instant::now();
    let output = run(&RunOptions { out_dir: Some(out_dir), ..RunOptions::new(config) }).expect("bench run succeeds");
    let secs = start.elapsed().as_secs_f64();
    println!(
        "end-to-end builtin: {n} cases in {secs:.2} s = {:.0} cases/s; peak RSS {:.0} MiB (before run {:.0} MiB); verdict {}",
        n as f64 / secs,
        peak_rss_mib().unwrap_or(0.0),
        rss_before,
        output.verdict.verdict.as_str()
    );
}

fn main() {
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let n: usize = std::env::var("GAUNTLET_BENCH_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    if wanted("end_to_end") {
        bench_end_to_end(n);
    }
    let _ = Path::new(".");
}
