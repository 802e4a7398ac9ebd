//! The open loop for a target that replays in batches (exec): the whole
//! schedule is handed to its replay, and this pacer grants each case only
//! when it falls due. The target keeps its own processes and windows; a
//! case due while every window is full waits in gauntlet, and its latency
//! still runs from its intended time.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{schedule, LoadPlan, LoadRun, Sample};
use crate::corpus::Case;
use crate::errors::Error;
use crate::progress::Progress;
use crate::targets::{Outcome, ReplayProgress, Target};

/// How late a grant must be to count as a wait for a free slot.
const WAITED: Duration = Duration::from_millis(1);

struct Pacer<'a> {
    offsets: &'a [u64],
    start: Instant,
    /// Cases granted so far; the k-th grant is the k-th case taken.
    granted: AtomicUsize,
    sent_ns: Vec<AtomicU64>,
    done_ns: Vec<AtomicU64>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    waits: AtomicU64,
    inner: &'a dyn Progress,
}

impl Pacer<'_> {
    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

impl Progress for Pacer<'_> {
    fn advance(&self, n: u64) {
        self.inner.advance(n)
    }
    fn failed(&self, n: u64) {
        self.inner.failed(n)
    }
}

impl ReplayProgress for Pacer<'_> {
    fn reserve(&self, n: u64) -> u64 {
        let now = self.now_ns();
        let granted = self.granted.load(Ordering::Acquire);
        let due = self.offsets.partition_point(|&o| o <= now).saturating_sub(granted);
        let k = (n as usize).min(due);
        for (i, &intended) in self.offsets.iter().enumerate().skip(granted).take(k) {
            self.sent_ns[i].store(now, Ordering::Relaxed);
            if now.saturating_sub(intended) >= WAITED.as_nanos() as u64 {
                self.waits.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.granted.store(granted + k, Ordering::Release);
        let flying = self.in_flight.fetch_add(k, Ordering::AcqRel) + k;
        self.peak.fetch_max(flying, Ordering::AcqRel);
        k as u64
    }

    fn next_due(&self) -> Option<Instant> {
        let granted = self.granted.load(Ordering::Acquire);
        self.offsets.get(granted).map(|&o| self.start + Duration::from_nanos(o))
    }

    fn outcome(&self, case: usize, _: &Outcome) {
        // A revised outcome moves the answer time; it is in flight once.
        if self.done_ns[case].swap(self.now_ns(), Ordering::AcqRel) == 0 {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// [`super::generate`] for a target without `send_once`.
pub fn generate_paced(
    target: &dyn Target,
    cases: &[Case],
    order: &[usize],
    plan: &LoadPlan,
    progress: &dyn Progress,
) -> Result<LoadRun, Error> {
    let offsets = schedule(plan);
    progress.set_total(offsets.len() as u64);
    // One case per request, each with its own id: a batched target
    // matches answers to requests by id.
    let scheduled: Vec<Case> = (0..offsets.len())
        .map(|i| {
            let c = &cases[order[i % order.len()]];
            Case { id: format!("{}~{i}", c.id), ..c.clone() }
        })
        .collect();
    let pacer = Pacer {
        offsets: &offsets,
        start: Instant::now() + Duration::from_millis(2),
        granted: AtomicUsize::new(0),
        sent_ns: offsets.iter().map(|_| AtomicU64::new(0)).collect(),
        done_ns: offsets.iter().map(|_| AtomicU64::new(0)).collect(),
        in_flight: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
        waits: AtomicU64::new(0),
        inner: progress,
    };
    let replayed = target.replay(&scheduled, &pacer)?;
    let end = pacer.now_ns();
    let samples: Vec<Sample> = replayed
        .outcomes
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            let done = pacer.done_ns[i].load(Ordering::Relaxed);
            Sample {
                case: order[i % order.len()] as u32,
                intended_ns: offsets[i],
                sent_ns: pacer.sent_ns[i].load(Ordering::Relaxed).max(offsets[i]),
                done_ns: if done == 0 { end } else { done },
                service_us: o.latency_us,
                decision: o.decision.map_err(|e| e.kind),
            }
        })
        .collect();
    let wall = samples.iter().map(|s| s.done_ns).max().unwrap_or(0);
    Ok(LoadRun {
        plan: *plan,
        scheduled: offsets.len() as u64,
        samples,
        in_flight_peak: pacer.peak.load(Ordering::Relaxed) as u64,
        cap_waits: pacer.waits.load(Ordering::Relaxed),
        wall: Duration::from_nanos(wall),
    })
}
