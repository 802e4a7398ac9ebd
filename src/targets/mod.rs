//! Targets: the systems under test.
//!
//! A target turns cases into outcomes. Each case ends as exactly one
//! [`Outcome`]: a decision, or an error that says why there is none. Errors
//! are data, not exceptions, so the metrics can count them honestly.

pub mod answer;
pub mod builtin;
pub mod canary;
pub mod exec;
pub mod http;
pub mod presets;
pub mod protocol;
pub mod rate;
mod request_plan;
mod spec;
pub mod tenants;
mod tls;

pub use request_plan::RequestPlan;
pub use spec::{from_config, SpecFile, TargetSpec, TenantSpec};

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::corpus::{Case, Decision};
use crate::errors::Error;

/// Why a case has no decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The target process died with the case in flight.
    Crash,
    /// No answer within the per-case timeout.
    Timeout,
    /// The answer broke the protocol (malformed, unknown or repeated id, missing).
    Protocol,
    /// An HTTP error status after retries.
    Http,
    /// The connection could not be made.
    Connect,
    /// The target could not process the case (e.g. it cannot read this payload).
    Target,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::Crash,
        ErrorKind::Timeout,
        ErrorKind::Protocol,
        ErrorKind::Http,
        ErrorKind::Connect,
        ErrorKind::Target,
    ];

    /// The kebab-case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Crash => "crash",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Http => "http",
            ErrorKind::Connect => "connect",
            ErrorKind::Target => "target",
        }
    }
}

/// A target error as recorded for one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CaseError {
    pub kind: ErrorKind,
    pub message: String,
}

/// The result of replaying one case.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// `Err` when the target failed for this case.
    pub decision: Result<Decision, CaseError>,
    pub score: Option<f64>,
    pub reasons: Vec<Arc<str>>,
    /// Measured by the harness, monotonic clock, microseconds.
    pub latency_us: u64,
    /// The target's own timing, when it reports one.
    pub target_latency_us: Option<u64>,
    /// Time the request waited in the target's own queue before the target
    /// was free to start it (exec, answering in order); never part of `latency_us`.
    pub queue_us: Option<u64>,
    pub attempts: u32,
    /// For a conversation: the index of the message at which it was blocked.
    pub blocked_at_turn: Option<u32>,
}

impl Outcome {
    pub fn error(kind: ErrorKind, message: impl Into<String>, latency_us: u64) -> Self {
        Outcome {
            decision: Err(CaseError { kind, message: message.into() }),
            ..Outcome::decided(Decision::Allow, latency_us)
        }
    }

    /// A plain decision, with no score or reasons, in one attempt.
    pub fn decided(decision: Decision, latency_us: u64) -> Self {
        Outcome {
            decision: Ok(decision),
            score: None,
            reasons: Vec::new(),
            latency_us,
            target_latency_us: None,
            queue_us: None,
            attempts: 1,
            blocked_at_turn: None,
        }
    }
}

/// What a case's `latency-us` measures, by target kind (docs/protocol.md,
/// "What latency measures"). Recorded in the verdict so a reader knows
/// which clock a latency gate judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LatencyMethod {
    /// The decision call inside gauntlet's own process.
    InProcess,
    /// From when the process was free to start the case (its previous
    /// answer, or the send if later) to its answer: the process answers in
    /// order, so the wait behind earlier requests is excluded.
    ServiceTime,
    /// As `service-time`, except for the answers of a process that answered
    /// out of order (it works on several cases at once): those run from the
    /// send, since when such a process starts a case cannot be seen.
    ServiceTimeAndSendToAnswer,
    /// From sending the request to reading the whole answer, for the attempt
    /// that gave the outcome (HTTP: one request per connection at a time;
    /// the server's own queue, if it keeps one, is included).
    SendToAnswer,
}

/// Processes an exec target replaced during a replay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Restarts {
    /// After a crash or a hang: spent from `max-restarts`.
    pub failures: u32,
    /// After a case timed out and waiting for its late answer would have
    /// cost more than a fresh process: not failures, not counted against
    /// `max-restarts`; the cases queued behind it were sent again.
    pub timeouts: u32,
}

/// What was tested, recorded in the verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct TargetFingerprint {
    pub kind: String,
    /// The rules file, command line or URL (never credentials).
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub version: Option<String>,
    /// SHA-256 of what defines the target's behaviour (rules, command, URL).
    pub hash: String,
    /// Time requests spent held back by the rate limit or a server's 429,
    /// summed over connections (a timing: not part of any hash).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub throttled_ms: Option<u64>,
    /// What each case's `latency-us` measures.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub latency_method: Option<LatencyMethod>,
    /// When set, each latency is exact only to within this many
    /// microseconds: a fast exec target's answers were read in batches.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub latency_resolution_us: Option<u64>,
    /// Processes replaced during the replay (exec targets; shown when any were).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub restarts: Option<Restarts>,
}

pub use crate::progress::Progress;

/// Progress, plus what a journaled and budgeted replay needs from a target:
/// each case's final outcome as soon as it is known, and leave before each
/// request. The defaults are a replay with neither.
pub trait ReplayProgress: Progress {
    /// Case `case` (its index in the replayed slice) has this final outcome:
    /// a run journal records it so an interrupted run can resume. Called
    /// again for the same case if a later event changes it (a second answer
    /// makes it a protocol error); the last call wins.
    fn outcome(&self, _case: usize, _outcome: &Outcome) {}
    /// Asks to send `n` more requests; returns how many may go (a request
    /// budget can run out mid-way, through retries). A target given fewer
    /// stops taking cases and leaves the rest without an outcome.
    fn reserve(&self, n: u64) -> u64 {
        n
    }
    /// The budget ran out: cases left without an outcome were never sent.
    fn stopped(&self) -> bool {
        false
    }
    /// `Some(why)` once the run must stop sending (the abort rule holds:
    /// the target is broken). The cases left are recorded as not run.
    fn halted(&self) -> Option<String> {
        None
    }
    /// For a paced replay (`gauntlet load` on a batched target): when the
    /// next case falls due. `reserve` then grants only the cases already
    /// due, and a target with nothing in flight waits until this time
    /// instead of finishing. `None`: every case may go at once.
    fn next_due(&self) -> Option<std::time::Instant> {
        None
    }
    /// Whether an http target opens each connection with the untimed
    /// warm-up request. `gauntlet attack` sends many short batches and
    /// reports no latency: it says no, and sends only its queries.
    fn warm_connections(&self) -> bool {
        true
    }
}

impl ReplayProgress for () {}

impl ReplayProgress for crate::progress::Counter {}

/// Plain progress, for a replay with no journal and no budget.
pub struct Unmetered<'a>(pub &'a dyn Progress);

impl Progress for Unmetered<'_> {
    fn advance(&self, n: u64) {
        self.0.advance(n)
    }
    fn failed(&self, n: u64) {
        self.0.failed(n)
    }
    fn set_total(&self, n: u64) {
        self.0.set_total(n)
    }
}

impl ReplayProgress for Unmetered<'_> {}

/// A system under test.
pub trait Target: Sync {
    fn fingerprint(&self) -> TargetFingerprint;

    /// Replays `cases`, returning one outcome per case in the same order.
    /// `Err` only when the run cannot continue at all (an infrastructure
    /// failure); per-case failures are outcomes.
    fn replay(&self, cases: &[Case], progress: &dyn ReplayProgress) -> Result<Replayed, Error>;

    /// One untimed request before the replay (`case`, id `gauntlet:probe`):
    /// a target that cannot start, answers garbage or refuses connections
    /// is found at once and reported as exit 3 with the cause, instead of
    /// failing every case. The default (in-process targets) always passes.
    /// `budget` meters its requests (retries included) like the cases'.
    fn probe(&self, case: &Case, budget: &dyn ReplayProgress) -> Result<(), Error> {
        let _ = (case, budget);
        Ok(())
    }

    /// One request for `case`, sent now, once: no retry, no rate limit, no
    /// budget, since the load generator (`gauntlet load`) is the pacing and
    /// a retry would hide the failure it measures. `None`: this kind of
    /// target only replays in batches.
    fn send_once(&self, case: &Case) -> Option<Outcome> {
        let _ = case;
        None
    }

    /// What the target wrote to stderr (bounded), for `target-stderr.log`.
    fn stderr_log(&self) -> Option<String> {
        None
    }

    /// Why this target cannot send `case` at all (a preset whose API has no
    /// place for a conversation, say), checked for every case before the
    /// run starts; `None`: it can.
    fn cannot_send(&self, case: &Case) -> Option<String> {
        let _ = case;
        None
    }
}

/// Id of the health-probe request; never a corpus case's id.
pub const PROBE_ID: &str = "gauntlet:probe";

/// The health probe's request: a plain benign prompt, or, for a target fed
/// only structured requests or conversations (a policy engine), the first
/// case's input, so the probe has a shape the target understands.
pub fn probe_case(cases: &[Case]) -> Case {
    let text_inputs = cases.is_empty() || cases.iter().any(|c| matches!(c.payload, crate::corpus::Payload::Text(_)));
    let payload = match cases.first() {
        Some(first) if !text_inputs => first.payload.clone(),
        _ => crate::corpus::Payload::Text("Hello, what are your opening hours?".into()),
    };
    Case {
        id: PROBE_ID.into(),
        payload,
        label: crate::corpus::Label::Benign,
        category: Arc::from("health-probe"),
        source: Arc::from("gauntlet"),
        tags: Vec::new(),
        expected: None,
        direction: Default::default(),
        context: None,
        dataset: Arc::from("probes"),
        expected_first_block: None,
        origin: crate::corpus::Origin { path: Arc::new("<health probe>".into()), line: 0 },
        transform: None,
        variant_of: None,
    }
}

/// The outcomes of a replay, and whether every case got a real attempt.
#[derive(Debug)]
pub struct Replayed {
    pub outcomes: Vec<Outcome>,
    /// `Some(reason)` when the target gave up part way (e.g. too many crashes):
    /// the outcomes are complete but the verdict is not honest.
    pub aborted: Option<String>,
}
