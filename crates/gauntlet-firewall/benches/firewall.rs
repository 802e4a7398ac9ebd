//! The firewall alone, on one thread: microseconds per text and megabytes
//! per second, for short prompts and long documents. Inputs are every text
//! of the repository's bundled corpora, repeated to `GAUNTLET_BENCH_TEXTS`
//! (default 100,000). Prints figures; asserts nothing about speed.

use std::time::Instant;

use gauntlet_firewall::{Decision, Firewall};

fn corpus_texts() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpora");
    let mut texts = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("the bundled corpora").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                for line in std::fs::read_to_string(&path).unwrap().lines() {
                    let v: serde_json::Value = serde_json::from_str(line).unwrap();
                    texts.extend(v["input"].as_str().map(str::to_string));
                }
            }
        }
    }
    texts.sort();
    texts
}

fn main() {
    let n: usize = std::env::var("GAUNTLET_BENCH_TEXTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let firewall = Firewall::default_rules();
    let texts = corpus_texts();
    for (what, long) in [("short (< 300 bytes)", false), ("long (>= 300 bytes)", true)] {
        let subset: Vec<&str> = texts.iter().map(String::as_str).filter(|t| (t.len() >= 300) == long).collect();
        if subset.is_empty() {
            continue;
        }
        let picked: Vec<&str> = subset.iter().copied().cycle().take(n).collect();
        let bytes: usize = picked.iter().map(|t| t.len()).sum();
        let start = Instant::now();
        let blocked = picked.iter().filter(|t| firewall.judge(t).decision != Decision::Allow).count();
        let secs = start.elapsed().as_secs_f64();
        println!(
            "firewall, one thread, {what}: {} texts ({} distinct), mean {:.0} bytes, {:.2} us/text, {:.0} MB/s ({blocked} not allowed)",
            picked.len(),
            subset.len(),
            bytes as f64 / picked.len() as f64,
            secs * 1e6 / picked.len() as f64,
            bytes as f64 / secs / 1e6,
        );
    }
}
