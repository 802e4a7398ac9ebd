//! Progress of every long step in every log. On a terminal, a bar; anywhere
//! else (a CI log), a plain line on stderr every few seconds, so a slow or
//! dead target never means minutes of silence. Only stderr: nothing a
//! script parses changes. `--quiet` silences it.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::progress::{Counter, Progress};

/// What a step counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unit {
    /// Cases through a target; errors so far are shown.
    Cases,
    /// Bytes of a file read (corpora, results, decision logs).
    Bytes,
}

/// One step's progress: its name, what it counts, how many there are.
#[derive(Debug, Clone, Copy)]
pub(super) struct Step<'a> {
    pub what: &'a str,
    pub unit: Unit,
    pub total: u64,
}

impl<'a> Step<'a> {
    pub(super) fn cases(what: &'a str, total: u64) -> Self {
        Step { what, unit: Unit::Cases, total }
    }

    pub(super) fn bytes(what: &'a str, total: u64) -> Self {
        Step { what, unit: Unit::Bytes, total }
    }

    /// The plain line for a CI log (`total` as the step last set it): done
    /// of total, share, rate, errors, time left. `recent` is what was done
    /// over the last stretch of time: rate and time left come from it, so a
    /// target that slowed down (or stalled) shows at once.
    fn line(&self, total: u64, done: u64, failed: u64, recent: (u64, Duration)) -> String {
        let rate = recent.0 as f64 / recent.1.as_secs_f64().max(1e-9);
        let left = if done == 0 || rate == 0.0 {
            "unknown".to_string()
        } else {
            format!("{:.0} s", total.saturating_sub(done) as f64 / rate)
        };
        let share = done as f64 * 100.0 / total.max(1) as f64;
        match self.unit {
            Unit::Cases => format!(
                "gauntlet: {} {done}/{} cases ({share:.0}%), {rate:.0} cases/s, {failed} errors so far, {left} left",
                self.what, total
            ),
            Unit::Bytes => {
                let mb = |b: f64| b / 1e6;
                format!(
                    "gauntlet: {} {:.1}/{:.1} MB ({share:.0}%), {:.1} MB/s, {left} left",
                    self.what,
                    mb(done as f64),
                    mb(total as f64),
                    mb(rate)
                )
            }
        }
    }
}

/// The terminal bar; errors so far go in its message.
struct Bar {
    bar: indicatif::ProgressBar,
    failed: AtomicU64,
}

impl Progress for Bar {
    fn advance(&self, n: u64) {
        self.bar.inc(n);
    }

    fn failed(&self, n: u64) {
        let failed = self.failed.fetch_add(n, Ordering::Relaxed) + n;
        self.bar.set_message(format!("{failed} errors"));
    }

    fn set_total(&self, n: u64) {
        self.bar.set_length(n);
    }
}

/// Seconds between plain progress lines: `GAUNTLET_PROGRESS_SECS`, default 5.
fn interval() -> Duration {
    let secs = std::env::var("GAUNTLET_PROGRESS_SECS").ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(5.0);
    Duration::from_secs_f64(secs.clamp(0.1, 3600.0))
}

/// Runs `work` with a progress reporter for `step`.
pub(super) fn with_progress<T>(step: Step, quiet: bool, work: impl FnOnce(&dyn Progress) -> T) -> T {
    if quiet {
        return work(&());
    }
    if std::io::stderr().is_terminal() {
        let template = match step.unit {
            Unit::Cases => "{prefix} {bar:40} {pos}/{len} cases {per_sec} eta {eta} {msg}",
            Unit::Bytes => "{prefix} {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        };
        let bar = indicatif::ProgressBar::new(step.total)
            .with_style(indicatif::ProgressStyle::with_template(template).expect("valid template"))
            .with_prefix(step.what.to_string());
        let bar = Bar { bar, failed: AtomicU64::new(0) };
        let out = work(&bar);
        bar.bar.finish_and_clear();
        return out;
    }
    let counter = Counter::default();
    counter.set_total(step.total);
    let finished = AtomicBool::new(false);
    let (every, started) = (interval(), Instant::now());
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut next = started + every;
            let mut window = RecentRate::new(started);
            while !finished.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50).min(every));
                let now = Instant::now();
                if now >= next && !finished.load(Ordering::Relaxed) {
                    let done = counter.done();
                    let recent = window.note(now, done);
                    eprintln!("{}", step.line(counter.total(), done, counter.failed(), recent));
                    next += every;
                }
            }
        });
        let out = work(&counter);
        finished.store(true, Ordering::Relaxed);
        out
    })
}

/// What was done over about the last [`RecentRate::SPAN`]: the samples
/// taken at each progress line, the oldest dropped once a newer one is
/// old enough to measure from.
struct RecentRate {
    samples: std::collections::VecDeque<(Instant, u64)>,
}

impl RecentRate {
    const SPAN: Duration = Duration::from_secs(30);

    fn new(started: Instant) -> Self {
        RecentRate { samples: std::collections::VecDeque::from([(started, 0)]) }
    }

    /// Records `done` at `now`; returns (done since the window's start, its length).
    fn note(&mut self, now: Instant, done: u64) -> (u64, Duration) {
        while self.samples.get(1).is_some_and(|&(t, _)| now.duration_since(t) >= Self::SPAN) {
            self.samples.pop_front();
        }
        let &(since, then) = self.samples.front().expect("never empty");
        self.samples.push_back((now, done));
        (done.saturating_sub(then), now.duration_since(since))
    }
}

/// The total size of `paths` that exist, for a byte-counted step.
pub(super) fn total_bytes(paths: &[std::path::PathBuf]) -> u64 {
    paths.iter().filter_map(|p| std::fs::metadata(p).ok()).map(|m| m.len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_progress_line_gives_count_share_rate_errors_and_time_left() {
        let l = Step::cases("replay", 2000).line(2000, 500, 3, (500, Duration::from_secs(5)));
        assert_eq!(l, "gauntlet: replay 500/2000 cases (25%), 100 cases/s, 3 errors so far, 15 s left");
        assert!(Step::cases("replay", 10).line(10, 0, 0, (0, Duration::from_secs(1))).ends_with("unknown left"));
        let l = Step::bytes("loading corpora", 40_000_000).line(
            40_000_000,
            10_000_000,
            0,
            (10_000_000, Duration::from_secs(2)),
        );
        assert_eq!(l, "gauntlet: loading corpora 10.0/40.0 MB (25%), 5.0 MB/s, 6 s left");
    }

    /// Regression: the rate was done / elapsed since the start, so a target
    /// that had been fast and then stalled still showed its old rate, and
    /// one slow at the start showed "0 cases/s … 481 s left" long after it
    /// had sped up.
    #[test]
    fn rate_and_time_left_follow_the_last_thirty_seconds() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut w = RecentRate::new(t0);
        assert_eq!(w.note(at(5), 1000), (1000, Duration::from_secs(5)));
        for s in (10..=60).step_by(5) {
            w.note(at(s), 1000); // stalled since 5 s
        }
        assert_eq!(w.note(at(65), 1000).0, 0, "a stall shows as no progress");
        let (done, span) = w.note(at(70), 1300);
        assert_eq!(done, 300);
        assert!(span >= RecentRate::SPAN && span < RecentRate::SPAN + Duration::from_secs(5), "{span:?}");
        let l = Step::cases("replay", 2000).line(2000, 1000, 0, (0, Duration::from_secs(30)));
        assert!(l.contains("0 cases/s") && l.ends_with("unknown left"), "{l}");
    }
}
