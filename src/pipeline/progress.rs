//! Progress of the replay in every log. On a terminal, a bar; anywhere
//! else (a CI log), a plain line on stderr every few seconds, so a slow or
//! dead target never means minutes of silence. Only stderr: nothing a
//! script parses changes. `--quiet` silences it.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::replay::Counter;
use crate::target::Progress;

struct Bar(indicatif::ProgressBar);

impl Progress for Bar {
    fn advance(&self, cases: u64) {
        self.0.inc(cases);
    }
}

/// Seconds between plain progress lines: `GAUNTLET_PROGRESS_SECS`, default 5.
fn interval() -> Duration {
    let secs = std::env::var("GAUNTLET_PROGRESS_SECS").ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(5.0);
    Duration::from_secs_f64(secs.clamp(0.1, 3600.0))
}

/// One plain progress line: cases done, rate and time left.
fn line(what: &str, done: u64, total: u64, elapsed: Duration) -> String {
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
    let left =
        if done == 0 { "unknown".to_string() } else { format!("{:.0} s", (total - done.min(total)) as f64 / rate) };
    format!(
        "gauntlet: {what} {done}/{total} cases ({:.0}%), {rate:.0} cases/s, {left} left",
        done as f64 * 100.0 / total.max(1) as f64
    )
}

/// Runs `step` with a progress reporter for `total` cases.
pub(super) fn with_progress<T>(what: &str, total: u64, quiet: bool, step: impl FnOnce(&dyn Progress) -> T) -> T {
    if quiet {
        return step(&Counter::default());
    }
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} cases {per_sec} eta {eta}")
                .expect("valid template"),
        );
        let bar = Bar(bar);
        let out = step(&bar);
        bar.0.finish_and_clear();
        return out;
    }
    let counter = Counter::default();
    let finished = AtomicBool::new(false);
    let (every, started) = (interval(), Instant::now());
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut next = started + every;
            while !finished.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50).min(every));
                if Instant::now() >= next && !finished.load(Ordering::Relaxed) {
                    let done = counter.0.load(Ordering::Relaxed);
                    eprintln!("{}", line(what, done, total, started.elapsed()));
                    next += every;
                }
            }
        });
        let out = step(&counter);
        finished.store(true, Ordering::Relaxed);
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_progress_line_gives_count_share_rate_and_time_left() {
        let l = line("replay", 500, 2000, Duration::from_secs(5));
        assert_eq!(l, "gauntlet: replay 500/2000 cases (25%), 100 cases/s, 15 s left");
        assert!(line("replay", 0, 10, Duration::from_secs(1)).ends_with("unknown left"));
    }
}
