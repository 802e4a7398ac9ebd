//! Gates, fixture cases and waivers as `cargo test` trials (libtest-mimic).
//!
//! Another crate gets the same with a test target of its own:
//!
//! ```toml
//! [[test]]
//! name = "conformance"
//! harness = false
//! ```
//!
//! ```text
//! // tests/conformance.rs
//! fn main() {
//!     gauntlet::conformance::main()
//! }
//! ```
//!
//! (This repository's own `tests/conformance.rs` is exactly that file.)
//!
//! It reads `gauntlet.toml` from the crate root (or `GAUNTLET_CONFIG`).
//! Trials are `gate::<id>`, `fixture::<suite>::<case>` and `waiver::<id>`.
//! A waived gate is ignored with "waived until … (tracking)". A config error
//! exits with code 2, not as a failed test.
//!
//! nextest runs every trial in its own process, so the replay is not repeated
//! per trial: the verdict is cached under `target/gauntlet-conformance/`,
//! keyed by a hash of everything it depends on (tool version, config,
//! corpora, gates, fixtures, waivers, rules, lane and date). The first
//! process to need it replays, holding a lock file; the others wait and read.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};

use crate::errors::Error;
use crate::evaluate::{Lane, WaiverStatus};
use crate::hashing::{hash_dir, Fingerprint};
use crate::pipeline::{resolve_today, run, RunOptions};
use crate::report::Verdict;

/// How long a process waits for another one's replay before running its own.
const LOCK_WAIT: Duration = Duration::from_secs(600);

/// The cache key: everything the verdict depends on.
fn cache_key(config_path: &Path, lane: Lane, today: &str) -> Result<String, Error> {
    let config = crate::config::Config::load(config_path)?;
    let mut f = Fingerprint::new();
    f.part(env!("CARGO_PKG_VERSION").as_bytes())
        .part(config.text.as_bytes())
        .part(lane.as_str().as_bytes())
        .part(today.as_bytes());
    for dir in &config.corpora {
        for ext in ["jsonl", "csv", "toml"] {
            f.part(hash_dir(dir, ext).as_bytes());
        }
    }
    for dir in [&config.gates, &config.fixtures, &config.waivers] {
        f.part(hash_dir(dir, "toml").as_bytes());
    }
    f.part(hash_dir(&config.fixtures.join("golden"), "snap").as_bytes());
    if let Some(rules) = &config.target.rules {
        f.part(&std::fs::read(config.base.join(rules)).unwrap_or_default());
    }
    Ok(f.finish())
}

/// The verdict for `config_path`, from the cache or a fresh replay.
pub fn cached_verdict(config_path: &Path, lane: Lane, cache_dir: &Path) -> Result<Verdict, Error> {
    let today = resolve_today(None)?.format("%Y-%m-%d").to_string();
    let key = cache_key(config_path, lane, &today)?;
    let dir = cache_dir.join(&key[..16]);
    let verdict_path = dir.join("verdict.json");
    let read = |p: &Path| -> Option<Verdict> { serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok() };
    if let Some(v) = read(&verdict_path) {
        return Ok(v);
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let lock = dir.join("replay.lock");
    let start = Instant::now();
    loop {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&lock) {
            Ok(_) => break,
            Err(_) if start.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(50));
                if let Some(v) = read(&verdict_path) {
                    return Ok(v);
                }
            }
            Err(_) => break, // the holder died; replay ourselves
        }
    }
    let result = run(&RunOptions {
        out_dir: Some(dir.clone()),
        lane,
        quiet: true,
        ..RunOptions::new(config_path.to_path_buf())
    });
    let _ = std::fs::remove_file(&lock);
    Ok(result?.verdict)
}

/// Trials from a verdict.
pub fn trials(v: &Verdict) -> Vec<Trial> {
    let mut trials = Vec::new();
    for g in &v.gates {
        let name = format!("gate::{}", g.id);
        // Through the one gate view, as every report: the same status,
        // value, threshold and note a reader sees elsewhere.
        let view = g.view();
        let trial = match view.attention {
            2 => Trial::test(name, || Ok(())).with_ignored_flag(true).with_kind(view.note),
            4 => Trial::test(name, || Ok(())),
            3 => {
                Trial::test(name, || Ok(())).with_ignored_flag(true).with_kind(format!("non-blocking, {}", view.status))
            }
            _ => {
                let message = format!(
                    "{}: {} (threshold {}): {}",
                    view.status,
                    view.value,
                    view.threshold,
                    g.detail.lines().next().unwrap_or("")
                );
                Trial::test(name, move || Err(Failed::from(message)))
            }
        };
        trials.push(trial);
    }
    for suite in &v.fixtures {
        for c in &suite.cases {
            let name = format!("fixture::{}", c.qualified_name);
            let trial = if c.pass {
                Trial::test(name, || Ok(()))
            } else if let Some(w) = &c.waiver {
                Trial::test(name, || Ok(()))
                    .with_ignored_flag(true)
                    .with_kind(format!("waived until {} ({})", w.expires, w.tracking))
            } else {
                let actual = c.actual.map(|d| d.as_str().to_string()).unwrap_or_else(|| {
                    c.error.as_ref().map(|e| format!("error: {}", e.message)).unwrap_or_else(|| "missing".into())
                });
                let msg = format!("expected {}, got {} [{}]", c.expect.as_str(), actual, c.reasons.join(", "));
                Trial::test(name, move || Err(Failed::from(msg)))
            };
            trials.push(trial);
        }
    }
    for w in &v.waivers.waivers {
        let name = format!("waiver::{}", w.id);
        let detail = w.detail.join("; ");
        trials.push(match w.status {
            WaiverStatus::Expired | WaiverStatus::Invalid => {
                let status = crate::evaluate::status_name(w.status);
                Trial::test(name, move || Err(Failed::from(format!("{status}: {detail}"))))
            }
            _ => Trial::test(name, || Ok(())),
        });
    }
    trials
}

fn config_path() -> PathBuf {
    std::env::var_os("GAUNTLET_CONFIG").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default()).join("gauntlet.toml")
    })
}

/// The test harness entry point. Lane from `GAUNTLET_LANE` (default preflight).
pub fn main() -> ! {
    let args = Arguments::from_args();
    let lane = match std::env::var("GAUNTLET_LANE").as_deref() {
        Ok("full") => Lane::Full,
        _ => Lane::Preflight,
    };
    let config = config_path();
    let cache = config.parent().unwrap_or(Path::new(".")).join("target").join("gauntlet-conformance");
    match cached_verdict(&config, lane, &cache) {
        Ok(v) => libtest_mimic::run(&args, trials(&v)).exit(),
        Err(e) => {
            eprintln!("gauntlet conformance: {e}");
            std::process::exit(e.exit_code());
        }
    }
}
