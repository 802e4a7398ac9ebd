//! What a load run says: percentiles from HdrHistograms, rates, errors,
//! and the cases a gate let through only because it was busy. Pure: built
//! from the samples [`super::generate`] measured.

use std::collections::BTreeMap;

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::{Arrivals, LoadRun, Sample, StepJudge};
use crate::corpus::Decision;

/// `schema` of load.json (docs/schema/load.v1.schema.json).
pub const LOAD_SCHEMA: &str = "gauntlet.load.v1";

/// Highest latency a histogram holds: an hour, in microseconds. Three
/// significant digits: a p99 of 10.0 ms is told from 10.1 ms.
const MAX_US: u64 = 3_600_000_000;
const DIGITS: u8 = 3;

/// A latency for people: `850 µs`, `12.3 ms`, `1.52 s`.
pub fn show_us(us: u64) -> String {
    match us {
        0..=999 => format!("{us} µs"),
        1_000..=999_999 => format!("{:.1} ms", us as f64 / 1e3),
        _ => format!("{:.2} s", us as f64 / 1e6),
    }
}

/// Latency percentiles, microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    #[serde(rename = "p99.9")]
    pub p99_9: u64,
    pub max: u64,
}

impl Percentiles {
    fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p99_9: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// Requests per second: what was asked and what was answered.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RateFigures {
    pub asked: f64,
    /// Answers (decisions and errors) over the time from the start to the
    /// last answer: under a backlog, the rate the gate really served.
    pub achieved: f64,
}

/// What became of the requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Requests {
    pub scheduled: u64,
    /// Answered with a decision.
    pub decided: u64,
    /// Target errors by kind (`timeout`, `http`, `connect`, ...).
    pub errors: BTreeMap<String, u64>,
    /// Errors over scheduled requests.
    pub error_rate: f64,
}

/// The two histograms, HdrHistogram V2 encoding in base64, so shards'
/// runs add up exactly in `gauntlet merge`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Histograms {
    pub latency: String,
    pub service_latency: String,
}

/// One load step (or a whole run), summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct LoadSummary {
    pub arrivals: Arrivals,
    pub duration_s: f64,
    pub rate: RateFigures,
    pub requests: Requests,
    /// Corrected for coordinated omission: from each request's intended
    /// send time to its answer.
    pub latency: Percentiles,
    /// The gate's own time per request (send to answer, as the target
    /// measures it): the difference from `latency` is the queue.
    pub service_latency: Percentiles,
    /// How late requests were sent against the schedule: gauntlet's own
    /// scheduling error, plus any wait for a free connection.
    pub send_error: Percentiles,
    pub in_flight_peak: u64,
    pub in_flight_cap: u64,
    /// Requests that waited in gauntlet because every allowed connection
    /// was busy (their latency still counts from the intended time).
    pub cap_waits: u64,
    pub histograms: Histograms,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, DIGITS).expect("valid histogram bounds")
}

fn encode(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2Serializer::new().serialize(h, &mut bytes).expect("a histogram serialises to memory");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A histogram from load.json, or why it cannot be read.
pub fn decode(text: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).map_err(|e| format!("not base64: {e}"))?;
    Deserializer::new().deserialize(&mut bytes.as_slice()).map_err(|e| format!("not an HdrHistogram: {e:?}"))
}

/// Percentiles and counts of one step.
pub fn summarise(run: &LoadRun) -> LoadSummary {
    let (mut latency, mut service, mut send) = (histogram(), histogram(), histogram());
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut decided = 0;
    for s in &run.samples {
        latency.saturating_record(s.latency_us().max(1));
        service.saturating_record(s.service_us.max(1));
        send.saturating_record(s.send_error_us().max(1));
        match s.decision {
            Ok(_) => decided += 1,
            Err(kind) => *errors.entry(kind.as_str().to_string()).or_default() += 1,
        }
    }
    let answered = run.samples.len() as f64;
    let failed: u64 = errors.values().sum();
    summary_from(
        run.plan.arrivals,
        run.plan.duration.as_secs_f64(),
        RateFigures {
            asked: run.plan.rate,
            achieved: if run.wall.is_zero() { 0.0 } else { answered / run.wall.as_secs_f64() },
        },
        Requests {
            scheduled: run.scheduled,
            decided,
            errors,
            error_rate: if run.scheduled == 0 { 0.0 } else { failed as f64 / run.scheduled as f64 },
        },
        (&latency, &service, &send),
        (run.in_flight_peak, run.plan.max_in_flight as u64, run.cap_waits),
    )
}

fn summary_from(
    arrivals: Arrivals,
    duration_s: f64,
    rate: RateFigures,
    requests: Requests,
    (latency, service, send): (&Histogram<u64>, &Histogram<u64>, &Histogram<u64>),
    (in_flight_peak, in_flight_cap, cap_waits): (u64, u64, u64),
) -> LoadSummary {
    LoadSummary {
        arrivals,
        duration_s,
        rate,
        requests,
        latency: Percentiles::of(latency),
        service_latency: Percentiles::of(service),
        send_error: Percentiles::of(send),
        in_flight_peak,
        in_flight_cap,
        cap_waits,
        histograms: Histograms { latency: encode(latency), service_latency: encode(service) },
    }
}

/// Shards' summaries as one: histograms added (exact: HdrHistograms merge
/// without loss), rates and counts summed, peaks and caps summed (each
/// runner had its own), the send error kept as the worst shard's.
pub fn merge_summaries(parts: &[LoadSummary]) -> Result<LoadSummary, String> {
    let first = parts.first().ok_or("no load summary to merge")?;
    let (mut latency, mut service) = (histogram(), histogram());
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let (mut scheduled, mut decided, mut asked, mut achieved) = (0, 0, 0.0, 0.0);
    let (mut peak, mut cap, mut waits) = (0, 0, 0);
    let mut send = Percentiles::default();
    for p in parts {
        latency.add(decode(&p.histograms.latency)?).map_err(|e| format!("{e:?}"))?;
        service.add(decode(&p.histograms.service_latency)?).map_err(|e| format!("{e:?}"))?;
        for (k, v) in &p.requests.errors {
            *errors.entry(k.clone()).or_default() += v;
        }
        scheduled += p.requests.scheduled;
        decided += p.requests.decided;
        asked += p.rate.asked;
        achieved += p.rate.achieved;
        peak += p.in_flight_peak;
        cap += p.in_flight_cap;
        waits += p.cap_waits;
        if p.send_error.p99 > send.p99 {
            send = p.send_error;
        }
    }
    let failed: u64 = errors.values().sum();
    let mut merged = summary_from(
        first.arrivals,
        first.duration_s,
        RateFigures { asked, achieved },
        Requests {
            scheduled,
            decided,
            errors,
            error_rate: if scheduled == 0 { 0.0 } else { failed as f64 / scheduled as f64 },
        },
        (&latency, &service, &histogram()),
        (peak, cap, waits),
    );
    merged.send_error = send;
    Ok(merged)
}

/// Cases the gate blocked at rest but allowed under load: a security
/// finding, not a performance note.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct FailOpen {
    /// Requests under load whose case was not allowed at rest.
    pub checked: u64,
    /// Of those, answered `allow` under load.
    pub count: u64,
    /// Their case ids, each once, first 50.
    pub cases: Vec<String>,
}

/// Compares each answer under load with the same case's decision at rest
/// (`at_rest[case]`; `None`: the case errored at rest, nothing to compare).
pub fn fail_open(samples: &[Sample], at_rest: &[Option<Decision>], ids: &[String]) -> FailOpen {
    let mut out = FailOpen::default();
    let mut seen = std::collections::BTreeSet::new();
    for s in samples {
        let rest = at_rest.get(s.case as usize).copied().flatten();
        if rest.is_none() || rest == Some(Decision::Allow) {
            continue;
        }
        out.checked += 1;
        if s.decision == Ok(Decision::Allow) {
            out.count += 1;
            if seen.insert(s.case) && out.cases.len() < 50 {
                out.cases.push(ids[s.case as usize].clone());
            }
        }
    }
    out
}

/// One step of `--find-rate`, for the curve of latency against rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct CurvePoint {
    pub asked: f64,
    pub achieved: f64,
    pub latency: Percentiles,
    pub service_latency: Percentiles,
    pub error_rate: f64,
    /// The step kept within `--max-p99` and `--max-error-rate`.
    pub within: bool,
}

impl CurvePoint {
    pub fn of(s: &LoadSummary, within: bool) -> CurvePoint {
        CurvePoint {
            asked: s.rate.asked,
            achieved: s.rate.achieved,
            latency: s.latency,
            service_latency: s.service_latency,
            error_rate: s.requests.error_rate,
            within,
        }
    }
}

/// The bounds of `--find-rate`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct StepVerdict {
    /// Highest corrected p99 a rate may have, microseconds.
    pub max_p99_us: u64,
    /// Highest error rate a rate may have.
    pub max_error_rate: f64,
}

impl StepJudge for StepVerdict {
    fn within(&self, step: &LoadSummary) -> bool {
        step.latency.p99 <= self.max_p99_us && step.requests.error_rate <= self.max_error_rate
    }
}

/// load.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct LoadReport {
    pub schema: String,
    pub generated_at: String,
    pub target: crate::targets::TargetFingerprint,
    pub lane: String,
    pub seed: u64,
    /// This runner's share, when the run was split across machines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<crate::partition::Partition>,
    /// How many runners' files were merged into this one (1: a single run).
    pub runners: u32,
    #[serde(flatten)]
    pub summary: LoadSummary,
    pub fail_open: FailOpen,
    /// After `--find-rate`: the highest rate within the bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounds: Option<StepVerdict>,
    /// After `--find-rate`: every step, by rate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curve: Vec<CurvePoint>,
    /// The lane's load gates (`load-*` metrics), judged on this run.
    #[serde(default)]
    pub gates: Vec<CommandGateVerdict>,
}

/// One verdict of a gate judged by its own command rather than by `run`
/// (the `load-*` gates by `gauntlet load`, `adaptive-evasion-rate` by
/// `gauntlet attack`), kept in that command's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct CommandGateVerdict {
    pub id: String,
    pub metric: String,
    /// pass, fail or inconclusive.
    pub status: String,
    pub detail: String,
    /// A failure fails the load run (`mode = "enforce"`).
    pub blocking: bool,
    /// `path:line` of the gate's definition.
    pub location: String,
}

impl LoadReport {
    /// A gate that lets blocked cases through when busy fails the load run;
    /// so does a search that found no rate within its bounds.
    pub fn outcome(&self) -> crate::exit_code::Outcome {
        crate::exit_code::Outcome::failed_if(
            self.fail_open.count > 0
                || (self.bounds.is_some() && self.found_rate.is_none())
                || self.gates.iter().any(|g| g.blocking && g.status == "fail"),
        )
    }
}
