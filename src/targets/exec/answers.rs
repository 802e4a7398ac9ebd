//! What a worker knows of its process, and the reading of its answer
//! lines: each matched to its request by id and timed by the gate's own
//! clock (docs/protocol.md, "What latency measures").

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::in_flight::{Done, InFlight};
use super::probe::ErrorAnswer;
use super::{Process, Run};
use crate::targets::protocol::{excerpt, Response};
use crate::targets::{ErrorKind, Outcome};

/// What a worker knows about its current process.
pub(super) struct Life {
    pub(super) started: Instant,
    /// It has answered once (the probe counts): start-up is over.
    pub(super) ready: bool,
    /// It answered the health probe when it started.
    pub(super) probed: bool,
    /// When it last wrote a line: it was free from then on.
    pub(super) last_line: Instant,
    /// Since when it has been busy with a case that already timed out.
    pub(super) abandoned: Option<Instant>,
    /// It answered a case that was not its oldest: it works on several at
    /// once, so its latencies run from the send (see [`crate::targets::LatencyMethod`]).
    pub(super) out_of_order: bool,
}

impl Life {
    pub(super) fn new(process: &Process) -> Life {
        let now = Instant::now();
        Life {
            started: now,
            ready: process.probed,
            probed: process.probed,
            last_line: now,
            abandoned: None,
            out_of_order: false,
        }
    }
}

/// The clock of the answer lines read together in one wake-up. A process
/// that answers in order starts a case when it is free (its previous line)
/// or when the case was sent, whichever is later; lines that arrive
/// together share the time since then evenly, since when each of them was
/// written cannot be seen.
pub(super) struct BatchClock {
    pub(super) now: Instant,
    /// When the process became free for the next line of the batch.
    pub(super) cursor: Instant,
    /// Lines of the batch not yet timed.
    pub(super) left: u32,
}

impl BatchClock {
    /// (latency, queue wait) in microseconds of the next line, for a request
    /// sent at `sent` (`None`: a line tied to no request in flight).
    pub(super) fn next(&mut self, sent: Option<Instant>, in_order: bool) -> (u64, Option<u64>) {
        let share_of = self.left.max(1);
        self.left = share_of - 1;
        let start = sent.map_or(self.cursor, |s| s.max(self.cursor));
        let service = self.now.saturating_duration_since(start) / share_of;
        self.cursor = start + service;
        match sent {
            Some(sent) if in_order => {
                (service.as_micros() as u64, Some(start.saturating_duration_since(sent).as_micros() as u64))
            }
            Some(sent) => (self.now.saturating_duration_since(sent).as_micros() as u64, None),
            None => (0, None),
        }
    }
}

/// One answer line being read: matched to its request by id, timed by the
/// batch clock.
pub(super) struct Answer<'r, 'c> {
    pub(super) run: &'r Run<'c>,
    pub(super) in_flight: &'r mut InFlight<'c>,
    pub(super) clock: &'r mut BatchClock,
    pub(super) life: &'r mut Life,
}

impl<'c> Answer<'_, 'c> {
    /// Takes the request `id` from those in flight: (case, latency, queue wait).
    fn take(&mut self, id: &str) -> Option<(usize, u64, Option<u64>)> {
        let Some((case, sent, oldest)) = self.in_flight.answer(id, self.run.cases) else {
            self.clock.next(None, false);
            return None;
        };
        self.life.out_of_order |= !oldest;
        let (latency, queue) = self.clock.next(Some(sent), !self.life.out_of_order);
        Some((case, latency, queue))
    }

    /// Records the outcome the line gives. A line that cannot be tied to
    /// any case (not JSON, no known id) is charged to none: it is returned,
    /// to be kept in target-stderr.log and told in the next timeout.
    pub(super) fn read(
        &mut self,
        line: &[u8],
        done: &mut Done,
        reasons: &mut HashMap<String, Arc<str>>,
    ) -> Option<String> {
        let shown = || String::from_utf8_lossy(line).into_owned();
        let r = match serde_json::from_slice::<Response>(line) {
            Ok(r) => r,
            Err(e) => {
                // The protocol's error answer: the target says it could not judge this case.
                if let Ok(a) = serde_json::from_slice::<ErrorAnswer>(line) {
                    if let Some((i, latency_us, queue_us)) = self.take(&a.id) {
                        let message = format!("the target reported: {}", excerpt(&a.error));
                        done.record(i, Outcome { queue_us, ..Outcome::error(ErrorKind::Target, message, latency_us) });
                        return None;
                    }
                    return Some(format!("an error answer with unknown id: {}", excerpt(&shown())));
                }
                let id = serde_json::from_slice::<serde_json::Value>(line)
                    .ok()
                    .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(str::to_string));
                return match id.and_then(|id| self.take(&id)) {
                    // JSON naming a case in flight, but not a valid answer: that case's error.
                    Some((i, latency_us, queue_us)) => {
                        let message = format!("malformed answer ({e}): {}", excerpt(&shown()));
                        done.record(
                            i,
                            Outcome { queue_us, ..Outcome::error(ErrorKind::Protocol, message, latency_us) },
                        );
                        None
                    }
                    None => Some(format!("a line that is not an answer: {}", excerpt(&shown()))),
                };
            }
        };
        let Some((i, latency_us, queue_us)) = self.take(&r.id) else {
            let case = self.run.case_with_id(&r.id);
            if case.is_some_and(|c| done.late.contains(&c)) {
                return None; // the late answer of a case already timed out: discarded
            }
            let twice = case.is_some_and(|c| done.answered_twice(c, &shown()));
            return (!twice).then(|| format!("an answer with unknown id: {}", excerpt(&shown())));
        };
        let score = r.score.filter(|s| (0.0..=1.0).contains(s));
        let outcome = if r.score.is_some() && score.is_none() {
            let message = format!("score outside [0, 1]: {}", excerpt(&shown()));
            Outcome { queue_us, ..Outcome::error(ErrorKind::Protocol, message, latency_us) }
        } else {
            let mut share = |reason: &str| match reasons.get(reason) {
                Some(shared) => shared.clone(),
                None => reasons.entry(reason.to_string()).or_insert_with(|| Arc::from(reason)).clone(),
            };
            Outcome {
                decision: Ok(r.decision),
                score,
                reasons: r.reasons.iter().map(|reason| share(reason)).collect(),
                latency_us,
                target_latency_us: r.latency_us,
                queue_us,
                attempts: 1,
                blocked_at_turn: r.blocked_at_turn,
            }
        };
        done.record(i, outcome);
        None
    }
}
