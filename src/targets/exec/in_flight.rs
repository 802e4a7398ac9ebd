//! The bookkeeping of one worker: the requests in flight (oldest first,
//! matched by id), the pace at which the window is refilled, and the
//! outcomes recorded so far.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::corpus::Case;
use crate::targets::protocol::excerpt;
use crate::targets::{ErrorKind, Outcome, ReplayProgress};

/// A request in flight, in the order it was sent.
pub(super) struct Slot {
    pub(super) case: usize,
    pub(super) sent: Instant,
    pub(super) answered: bool,
}

/// The requests one process has in flight. Targets mostly answer in order,
/// so an answer is first compared with the oldest request; an id map is
/// built only once a target answers out of order.
pub(super) struct InFlight<'c> {
    pub(super) slots: VecDeque<Slot>,
    /// Sequence number of `slots[0]`.
    pub(super) base: u64,
    pub(super) unanswered: usize,
    pub(super) by_id: Option<HashMap<&'c str, u64>>,
}

impl<'c> InFlight<'c> {
    pub(super) fn new(window: usize) -> Self {
        InFlight { slots: VecDeque::with_capacity(window), base: 0, unanswered: 0, by_id: None }
    }

    pub(super) fn push(&mut self, case: usize, id: &'c str, sent: Instant) {
        if let Some(map) = self.by_id.as_mut() {
            map.insert(id, self.base + self.slots.len() as u64);
        }
        self.slots.push_back(Slot { case, sent, answered: false });
        self.unanswered += 1;
    }

    pub(super) fn trim(&mut self) {
        while self.slots.front().is_some_and(|s| s.answered) {
            self.slots.pop_front();
            self.base += 1;
        }
    }

    pub(super) fn oldest(&mut self) -> Option<&Slot> {
        self.trim();
        self.slots.front()
    }

    /// Takes the in-flight request with this id: (case, sent, whether it
    /// was the oldest unanswered one).
    pub(super) fn answer(&mut self, id: &str, cases: &'c [Case]) -> Option<(usize, Instant, bool)> {
        self.trim();
        let front = self.slots.front()?;
        let at = if cases[front.case].id == id {
            0
        } else {
            let base = self.base;
            let slots = &self.slots;
            let map = self.by_id.get_or_insert_with(|| {
                slots
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| !s.answered)
                    .map(|(k, s)| (cases[s.case].id.as_str(), base + k as u64))
                    .collect()
            });
            (map.get(id)? - base) as usize
        };
        if let Some(map) = self.by_id.as_mut() {
            map.remove(id);
        }
        let slot = &mut self.slots[at];
        slot.answered = true;
        self.unanswered -= 1;
        Some((slot.case, slot.sent, at == 0))
    }

    /// Counts every unanswered request as sent at `now`.
    pub(super) fn restamp(&mut self, now: Instant) {
        self.slots.iter_mut().filter(|s| !s.answered).for_each(|s| s.sent = now);
    }

    /// Every unanswered request, oldest first; leaves nothing in flight.
    pub(super) fn drain(&mut self) -> Vec<(usize, Instant)> {
        let out = self.slots.drain(..).filter(|s| !s.answered).map(|s| (s.case, s.sent)).collect();
        self.base = 0;
        self.unanswered = 0;
        self.by_id = None;
        out
    }

    /// Takes the oldest unanswered request.
    pub(super) fn pop_oldest(&mut self, cases: &[Case]) -> Option<(usize, Instant)> {
        self.trim();
        let slot = self.slots.pop_front()?;
        self.base += 1;
        self.unanswered -= 1;
        if let Some(map) = self.by_id.as_mut() {
            map.remove(cases[slot.case].id.as_str());
        }
        Some((slot.case, slot.sent))
    }
}

/// How many requests a worker keeps in flight. A request waits in the
/// target's stdin until the target reads it, and that wait counts against
/// its timeout; so a full `window` is used only while the target answers
/// fast enough to drain it within a quarter of the timeout. The limit
/// starts small and follows the observed time per answer (Little's law:
/// in flight x time per answer = time a new request waits). Without this, a
/// 10 ms target with a window of 1024 timed out every request past the
/// 200th while it was doing nothing wrong.
pub(super) struct Pace {
    pub(super) window: usize,
    pub(super) timeout: Duration,
    pub(super) limit: usize,
    /// Smoothed seconds per answer; None until two batches were seen.
    pub(super) per_answer: Option<f64>,
    pub(super) last_batch: Option<Instant>,
}

impl Pace {
    /// Requests in flight before anything is known about the target.
    pub(super) const START: usize = 16;

    pub(super) fn new(window: usize, timeout: Duration) -> Pace {
        let window = window.max(1);
        Pace { window, timeout, limit: window.min(Self::START), per_answer: None, last_batch: None }
    }

    /// How long a worker reading a fast target's answers may wait before
    /// reading again, letting lines gather: each wake-up and read of a pipe
    /// costs both processes system time, and against a gate answering in
    /// tens of microseconds that was a third of the run. A latency is then
    /// exact to within this.
    pub(super) const READ_EVERY: Duration = Duration::from_micros(250);

    /// Whether to wait [`Self::READ_EVERY`] before the next read, after a
    /// read of `lines` lines: only while reads are small (a target too fast
    /// for the reader already fills each read, and waiting would only cap
    /// its rate), for a target answering faster than a third of it (a slower
    /// one is read at once, so its lines keep their own times), and while
    /// the target has at least twice that much work queued (it never idles
    /// for it).
    pub(super) fn gather(&self, lines: usize, unanswered: usize) -> Option<Duration> {
        let per_answer = self.per_answer?;
        let every = Self::READ_EVERY.as_secs_f64();
        let small = lines < 8;
        (small && per_answer < every / 3.0 && unanswered as f64 * per_answer >= 2.0 * every).then_some(Self::READ_EVERY)
    }

    /// A new process: what was learnt about the old one may not hold.
    pub(super) fn restart(&mut self) {
        *self = Pace::new(self.window, self.timeout);
    }

    /// `answers` arrived together at `now`.
    pub(super) fn answered(&mut self, answers: usize, now: Instant) {
        // The first batch's wait includes the process's start-up: not a rate.
        if let (Some(last), true) = (self.last_batch, answers > 0) {
            let sample = now.duration_since(last).as_secs_f64() / answers as f64;
            let smoothed = self.per_answer.map_or(sample, |old| 0.5 * old + 0.5 * sample);
            self.per_answer = Some(smoothed);
            // A request may wait a quarter of its timeout in the target's queue.
            let budget = self.timeout.as_secs_f64() / 4.0;
            let fits = (budget / smoothed.max(1e-9)).min(self.window as f64) as usize;
            self.limit = fits.clamp(self.window.min(Self::START), self.window);
        }
        if answers > 0 {
            self.last_batch = Some(now);
        }
    }
}

/// What a worker has recorded: outcomes, and where each case's outcome is
/// (to catch a second answer for it).
pub(super) struct Done {
    pub(super) outcomes: Vec<(usize, Outcome)>,
    /// Per case of the run: position in `outcomes` + 1, or 0.
    pub(super) position: Vec<u32>,
    /// Recorded since the progress counter was last advanced.
    pub(super) unreported: u64,
    /// Of those, how many ended in an error.
    pub(super) unreported_failed: u64,
    /// Cases timed out while their process lived on: a late answer for one
    /// is discarded, never taken as an answer or as answering twice.
    pub(super) late: std::collections::HashSet<usize>,
    /// Stdout lines no case could be tied to (not JSON, no known id), oldest
    /// first: each timeout tells the oldest one not yet told.
    pub(super) strays: VecDeque<String>,
    /// `outcomes[..told]` have been passed to `ReplayProgress::outcome`.
    pub(super) told: usize,
    /// Positions in `outcomes` changed after they were told.
    pub(super) changed: Vec<usize>,
}

impl Done {
    pub(super) fn record(&mut self, case: usize, outcome: Outcome) {
        self.position[case] = self.outcomes.len() as u32 + 1;
        self.unreported_failed += u64::from(outcome.decision.is_err());
        self.outcomes.push((case, outcome));
        self.unreported += 1;
    }

    pub(super) fn report(&mut self, progress: &dyn ReplayProgress) {
        for (case, outcome) in &self.outcomes[self.told..] {
            progress.outcome(*case, outcome);
        }
        self.told = self.outcomes.len();
        for at in self.changed.drain(..) {
            let (case, outcome) = &self.outcomes[at];
            progress.outcome(*case, outcome);
        }
        if self.unreported > 0 {
            progress.advance(std::mem::take(&mut self.unreported));
        }
        if self.unreported_failed > 0 {
            progress.failed(std::mem::take(&mut self.unreported_failed));
        }
    }

    /// A second answer for an answered case makes its outcome a protocol error.
    pub(super) fn answered_twice(&mut self, case: usize, line: &str) -> bool {
        match self.position[case] {
            0 => false,
            at => {
                let outcome = &mut self.outcomes[at as usize - 1].1;
                self.unreported_failed += u64::from(outcome.decision.is_ok());
                *outcome = Outcome::error(
                    ErrorKind::Protocol,
                    format!("answered twice; second answer: {}", excerpt(line)),
                    outcome.latency_us,
                );
                if at as usize - 1 < self.told {
                    self.changed.push(at as usize - 1);
                }
                true
            }
        }
    }
}
