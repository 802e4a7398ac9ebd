//! Latency under load: an open-loop generator (`gauntlet load`).
//!
//! Why open loop: a replay sends the next case when the last one returns,
//! so a gate that stalls simply receives fewer requests, and the stall
//! hides in a handful of samples (coordinated omission). Here every request
//! has an intended send time from a fixed schedule, and its latency runs
//! from that time, not from when it was finally sent: a stall costs every
//! request that should have gone out during it, as it would in production.
//!
//! Why a cap on requests in flight: a gate reached over a connection pool,
//! or a process per worker, has as many places to queue as the team allows
//! (`concurrency` in [target], or `--max-in-flight`). Requests never wait
//! for answers while a connection is free; when every one is busy the
//! request waits in gauntlet, that wait is counted (`cap-waits`), and its
//! latency still runs from its intended time, so nothing is hidden.
//!
//! The engine measures; the pipeline chooses cases, probes the target and
//! writes `load.json`. The search for the saturation point is pure
//! ([`find_rate`]) over a function that runs one step.

mod paced;
mod summary;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::corpus::Decision;
use crate::progress::Progress;
use crate::targets::{ErrorKind, Outcome};

pub use paced::generate_paced;
pub use summary::{
    decode, fail_open, merge_summaries, show_us, summarise, CommandGateVerdict, CurvePoint, FailOpen, LoadReport,
    LoadSummary, Percentiles, RateFigures, Requests, StepVerdict, LOAD_SCHEMA,
};

/// How intended send times are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Arrivals {
    /// Exactly `1 / rate` apart: the wrk2 and k6 constant-arrival-rate model.
    Constant,
    /// Exponential gaps with mean `1 / rate` (seeded): independent users.
    Poisson,
}

/// `[load]` in gauntlet.toml; each key can be given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct LoadSettings {
    /// Requests per second (over every runner of a partitioned run).
    pub rate: f64,
    /// How long one load step runs, in seconds.
    pub duration_seconds: f64,
    /// `constant` spacing or `poisson` arrivals.
    pub arrivals: Arrivals,
    /// Requests in flight at most; default the target's `concurrency`
    /// (the connections the team lets gauntlet open), or the cores for the
    /// built-in target.
    pub max_in_flight: Option<usize>,
    /// Seed of the case order and of Poisson arrivals.
    pub seed: u64,
    /// `--find-rate`: the highest corrected p99 a rate may have.
    pub max_p99_ms: f64,
    /// `--find-rate`: the highest error rate a rate may have.
    pub max_error_rate: f64,
    /// `--find-rate`: how long each step runs, and the rate it starts at.
    pub step_seconds: f64,
    /// The rate `--find-rate` starts doubling from.
    pub start_rate: f64,
}

impl Default for LoadSettings {
    fn default() -> Self {
        LoadSettings {
            rate: 100.0,
            duration_seconds: 30.0,
            arrivals: Arrivals::Constant,
            max_in_flight: None,
            seed: 1,
            max_p99_ms: 50.0,
            max_error_rate: 0.01,
            step_seconds: 10.0,
            start_rate: 10.0,
        }
    }
}

/// One load step: how fast, how long, how spread, how many at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadPlan {
    /// Requests per second from this runner.
    pub rate: f64,
    pub duration: Duration,
    pub arrivals: Arrivals,
    pub seed: u64,
    /// At most this many requests in flight (connections, workers).
    pub max_in_flight: usize,
    /// Where this runner's schedule starts within one gap (a share in
    /// [0, 1)): shards of one load run interleave instead of colliding.
    pub phase: f64,
}

/// splitmix64: a small, seeded, well-mixed generator; the schedule and the
/// case order must be the same for the same seed on every machine.
pub(crate) struct SplitMix(u64);

impl SplitMix {
    pub(crate) fn new(seed: u64) -> SplitMix {
        SplitMix(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1]: never 0, so its logarithm is finite.
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }
}

/// Intended send times, in nanoseconds from the start, for `plan`.
pub fn schedule(plan: &LoadPlan) -> Vec<u64> {
    // A hair under the end: 300/s for 2 s is 600 requests, not 601 after
    // the sum of 600 gaps rounds just under 2 s.
    let end = plan.duration.as_nanos() as f64 - 1.0;
    let gap = 1e9 / plan.rate;
    let mut out = Vec::with_capacity((plan.rate * plan.duration.as_secs_f64()).ceil() as usize + 1);
    let mut rng = SplitMix::new(plan.seed);
    let mut at = plan.phase.clamp(0.0, 0.999_999) * gap;
    while at < end {
        out.push(at as u64);
        at = match plan.arrivals {
            // From the index, not a running sum: no drift over a long run.
            Arrivals::Constant => plan.phase.clamp(0.0, 0.999_999) * gap + out.len() as f64 * gap,
            Arrivals::Poisson => at - rng.unit().ln() * gap,
        };
    }
    out
}

/// The order cases are sent in: every case once per cycle, shuffled by
/// the seed, so benign and adversarial cases mix from the first second.
pub fn case_order(cases: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..cases).collect();
    let mut rng = SplitMix::new(seed ^ 0x6C6F_6164);
    for i in (1..order.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

/// One request as measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Index of the case sent (into the pipeline's case list).
    pub case: u32,
    /// Nanoseconds from the start: when it should have gone, when it went,
    /// when its answer was whole.
    pub intended_ns: u64,
    pub sent_ns: u64,
    pub done_ns: u64,
    /// The gate's own time for it (the target's measured latency).
    pub service_us: u64,
    pub decision: Result<Decision, ErrorKind>,
}

impl Sample {
    /// From the intended send time: what a user queued behind a stall waits.
    pub fn latency_us(&self) -> u64 {
        self.done_ns.saturating_sub(self.intended_ns) / 1_000
    }

    /// How late gauntlet sent it (its own scheduling error, or a cap wait).
    pub fn send_error_us(&self) -> u64 {
        self.sent_ns.saturating_sub(self.intended_ns) / 1_000
    }
}

/// What one load step measured.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadRun {
    pub plan: LoadPlan,
    pub scheduled: u64,
    pub samples: Vec<Sample>,
    pub in_flight_peak: u64,
    /// Requests that found every allowed connection busy and waited in
    /// gauntlet for one.
    pub cap_waits: u64,
    /// From the start to the last answer.
    pub wall: Duration,
}

struct Job {
    index: usize,
    intended_ns: u64,
}

/// Sleeps, then yields, until `t`. A sleep overshoots by the thread's
/// timer slack (50 µs by default on Linux, a whole gap at 20,000 requests a
/// second), so the dispatcher asks for a fine one ([`FineTimer`]) and
/// yields only the last few microseconds: a busy spin would take the core
/// the workers, or an in-process gate, need.
fn wait_until(t: Instant) {
    loop {
        let now = Instant::now();
        if now >= t {
            return;
        }
        let left = t - now;
        if left > Duration::from_micros(40) {
            std::thread::sleep(left - Duration::from_micros(25));
        } else {
            std::thread::yield_now();
        }
    }
}

/// The calling thread's timer slack set to 1 ns while it lives (Linux), so
/// its sleeps end when asked; the old slack is restored on drop.
struct FineTimer(#[allow(dead_code)] Option<u64>);

impl FineTimer {
    fn new() -> FineTimer {
        #[cfg(target_os = "linux")]
        {
            let old = rustix::thread::current_timer_slack().ok();
            let _ = rustix::thread::set_current_timer_slack(std::num::NonZeroU64::new(1));
            FineTimer(old)
        }
        #[cfg(not(target_os = "linux"))]
        FineTimer(None)
    }
}

impl Drop for FineTimer {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        let _ = rustix::thread::set_current_timer_slack(self.0.and_then(std::num::NonZeroU64::new));
    }
}

/// Sends `order[i % order.len()]` through `send` at each intended time of
/// `plan`'s schedule, from as many worker threads as needed up to the cap.
/// `send` returns the target's outcome for one case index.
pub fn generate(
    send: &(dyn Fn(usize) -> Outcome + Sync),
    order: &[usize],
    plan: &LoadPlan,
    progress: &dyn Progress,
) -> LoadRun {
    let offsets = schedule(plan);
    progress.set_total(offsets.len() as u64);
    let _fine = FineTimer::new();
    let cap = plan.max_in_flight.max(1);
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Mutex::new(rx);
    // Workers waiting for a job, claimed by the dispatcher before it sends
    // one, so a job is never queued behind a busy worker unnoticed.
    let idle = AtomicUsize::new(0);
    let in_flight = AtomicUsize::new(0);
    let peak = AtomicUsize::new(0);
    let last_done = AtomicU64::new(0);
    let samples: Mutex<Vec<Sample>> = Mutex::new(Vec::with_capacity(offsets.len()));
    let mut cap_waits = 0u64;
    // A moment to spawn the first worker before the first intended time.
    let start = Instant::now() + Duration::from_millis(2);
    let work = |job: Job, local: &mut Vec<Sample>| {
        let now_in_flight = in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        peak.fetch_max(now_in_flight, Ordering::Relaxed);
        let sent = Instant::now();
        let case = order[job.index % order.len()];
        let outcome = send(case);
        let done = Instant::now();
        in_flight.fetch_sub(1, Ordering::Relaxed);
        let done_ns = (done - start).as_nanos() as u64;
        last_done.fetch_max(done_ns, Ordering::Relaxed);
        let failed = outcome.decision.is_err();
        local.push(Sample {
            case: case as u32,
            intended_ns: job.intended_ns,
            sent_ns: sent.saturating_duration_since(start).as_nanos() as u64,
            done_ns,
            service_us: outcome.latency_us,
            decision: outcome.decision.map_err(|e| e.kind),
        });
        progress.advance(1);
        if failed {
            progress.failed(1);
        }
    };
    std::thread::scope(|s| {
        let mut spawned = 0usize;
        for (index, &offset) in offsets.iter().enumerate() {
            wait_until(start + Duration::from_nanos(offset));
            let job = Job { index, intended_ns: offset };
            let claimed = idle.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1)).is_ok();
            if claimed {
                tx.send(job).expect("a worker is waiting");
                continue;
            }
            if spawned < cap {
                spawned += 1;
                let (rx, idle, samples, work) = (&rx, &idle, &samples, &work);
                std::thread::Builder::new()
                    .name("gauntlet-load".into())
                    .stack_size(256 * 1024)
                    .spawn_scoped(s, move || {
                        let mut local = Vec::new();
                        let mut next = Some(job);
                        while let Some(job) = next.take() {
                            work(job, &mut local);
                            idle.fetch_add(1, Ordering::AcqRel);
                            let received = rx.lock().expect("job queue").recv();
                            next = received.ok();
                        }
                        samples.lock().expect("samples").append(&mut local);
                    })
                    .expect("a load worker starts");
                continue;
            }
            // Every allowed connection is busy: wait for one, counted.
            cap_waits += 1;
            // Yield rather than sleep: a sleep is 50 µs or more, a whole
            // gap at 20,000/s, and the worker that frees up needs the core.
            while idle.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1)).is_err() {
                std::thread::yield_now();
            }
            tx.send(job).expect("a worker is waiting");
        }
        // Workers finish what they hold, find the queue closed, and stop.
        drop(tx);
    });
    let mut samples = samples.into_inner().expect("samples");
    samples.sort_unstable_by_key(|s| s.intended_ns);
    LoadRun {
        plan: *plan,
        scheduled: offsets.len() as u64,
        samples,
        in_flight_peak: peak.load(Ordering::Relaxed) as u64,
        cap_waits,
        wall: Duration::from_nanos(last_done.load(Ordering::Relaxed)),
    }
}

/// Whether one step kept within the bounds of `--find-rate`.
pub trait StepJudge {
    fn within(&self, step: &LoadSummary) -> bool;
}

/// The highest rate whose step stays within bounds: doubling from `start`
/// until a step fails (or `ceiling` is passed), then bisection between the
/// last good rate and the first bad one until they are within `precision`
/// (a share of the good rate) or `max_steps` were run. A step that cannot
/// run at all (the target broke) ends the search with its error.
pub fn find_rate<E>(
    mut step: impl FnMut(f64) -> Result<LoadSummary, E>,
    judge: &dyn StepJudge,
    start: f64,
    ceiling: f64,
    precision: f64,
    max_steps: usize,
) -> Result<FoundRate, E> {
    let mut steps = Vec::new();
    let mut run = |rate: f64, steps: &mut Vec<(f64, LoadSummary, bool)>| -> Result<bool, E> {
        let summary = step(rate)?;
        let ok = judge.within(&summary);
        steps.push((rate, summary, ok));
        Ok(ok)
    };
    let (mut good, mut bad) = (None, None);
    let mut rate = start;
    while steps.len() < max_steps {
        if run(rate, &mut steps)? {
            good = Some(rate);
            if rate * 2.0 > ceiling {
                break;
            }
            rate *= 2.0;
        } else {
            bad = Some(rate);
            break;
        }
    }
    if let (Some(mut lo), Some(mut hi)) = (good, bad) {
        while steps.len() < max_steps && (hi - lo) / lo > precision {
            let mid = ((lo + hi) / 2.0).round().max(lo + 1.0);
            if mid >= hi {
                break;
            }
            if run(mid, &mut steps)? {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        good = Some(lo);
    }
    Ok((good, steps))
}

/// The found rate (`None`: even the first step failed) and every step
/// run, in order: (rate asked, its summary, whether it was within bounds).
pub type FoundRate = (Option<f64>, Vec<(f64, LoadSummary, bool)>);

#[cfg(test)]
mod tests;
