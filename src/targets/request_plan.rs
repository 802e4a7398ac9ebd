//! What a run will send before it sends it: the number of requests (cases
//! × tenants × transforms × repeats, plus fixtures, probes, connection
//! warm-ups and the determinism pass) and, with a per-request `cost`, what
//! they cost. It lives with the targets because it counts their requests:
//! the warm-up rule is the http target's. `gauntlet run --dry-run` prints
//! it; `max-requests` and `max-cost` stop a run whose plan already exceeds
//! them, before any request (exit 2).

use super::TargetSpec;
use crate::corpus::Case;

#[derive(Debug, Clone, PartialEq)]
pub struct RequestPlan {
    /// Corpus cases in this run: originals and variants, per tenant, this shard's.
    pub corpus_cases: u64,
    /// Of which robustness variants.
    pub variants: u64,
    /// Fixture inputs and tenant probes.
    pub extra_cases: u64,
    pub repeat: u32,
    /// 2 with `--check-determinism` (everything is replayed twice).
    pub passes: u32,
    /// The health probe (1, or 0 when off), and the canary's two cases.
    pub probes: u64,
    /// An http target's untimed first request on each connection, per
    /// round and pass (with the health probe on).
    pub warm_ups: u64,
    /// Case-rounds a resumed run already has from its journal.
    pub recorded: u64,
    pub requests: u64,
    pub cost_per_request: Option<f64>,
}

impl RequestPlan {
    /// The plan for `cases` (of which the first `corpus_len` come from the
    /// corpora), less the `recorded` case-rounds a resumed run has.
    /// `passes`: 2 when everything is replayed twice (`--check-determinism`).
    pub fn new(
        cases: &[Case],
        corpus_len: usize,
        repeat: u32,
        passes: u32,
        spec: &TargetSpec,
        recorded: u64,
    ) -> RequestPlan {
        let corpus_cases = corpus_len as u64;
        let extra_cases = (cases.len() - corpus_len) as u64;
        let variants = cases[..corpus_len].iter().filter(|c| c.transform.is_some()).count() as u64;
        let repeat = repeat.max(1);
        let passes = passes.max(1);
        let probe_on = spec.health_probe.unwrap_or(true);
        let probes = u64::from(probe_on);
        let case_rounds = (corpus_cases + extra_cases) * repeat as u64;
        let left = case_rounds.saturating_sub(recorded);
        // The http target's warm-up rule: each connection sends the probe's
        // request once before its first case (see `http`).
        let warm_ups = match (spec.kind.as_str(), probe_on) {
            ("http", true) => {
                let connections = spec.concurrency() as u64;
                // Per round, as many connections as there are cases left to send.
                connections.min(left.div_ceil(repeat as u64)) * repeat as u64 * passes as u64
            }
            _ => 0,
        };
        // The canary's must-block and must-allow cases, after the probe.
        let probes = probes + if spec.canary_texts().is_some() { 2 } else { 0 };
        let requests = left + case_rounds * (passes as u64 - 1) + probes + warm_ups;
        RequestPlan {
            corpus_cases,
            variants,
            extra_cases,
            repeat,
            passes,
            probes,
            warm_ups,
            recorded,
            requests,
            cost_per_request: spec.cost,
        }
    }

    /// How many requests the budget allows in all (`max-requests`, and
    /// `max-cost` ÷ `cost`), when either is set.
    pub fn limit(spec: &TargetSpec) -> Option<u64> {
        let by_cost = match (spec.max_cost, spec.cost) {
            (Some(max), Some(cost)) if cost > 0.0 => Some((max / cost + 1e-9).floor() as u64),
            _ => None,
        };
        match (spec.max_requests, by_cost) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn cost(&self) -> Option<f64> {
        self.cost_per_request.map(|c| c * self.requests as f64)
    }

    /// The plan against `max-requests` and `max-cost`: the key it exceeds
    /// and why, before any request is sent.
    pub fn over_budget(&self, spec: &TargetSpec) -> Option<(&'static str, String)> {
        let over = |key: &'static str, message: String| Some((key, message));
        if let Some(max) = spec.max_requests {
            if self.requests > max {
                return over(
                    "max-requests",
                    format!(
                        "this run would send {} requests, over max-requests = {max}; plan: {}",
                        self.requests,
                        self.breakdown()
                    ),
                );
            }
        }
        if let (Some(max), Some(cost)) = (spec.max_cost, self.cost()) {
            if cost > max {
                return over(
                    "max-cost",
                    format!(
                        "this run would cost {cost:.4} ({} requests × {}), over max-cost = {max}",
                        self.requests,
                        self.cost_per_request.unwrap_or(0.0)
                    ),
                );
            }
        }
        None
    }

    fn breakdown(&self) -> String {
        let mut parts = vec![format!("{} corpus cases ({} of them variants)", self.corpus_cases, self.variants)];
        if self.extra_cases > 0 {
            parts.push(format!("{} fixture and tenant-probe cases", self.extra_cases));
        }
        let mut text = parts.join(" + ");
        if self.repeat > 1 {
            text = format!("({text}) × {} repeats", self.repeat);
        }
        if self.passes > 1 {
            text = format!("({text}) × 2 for --check-determinism");
        }
        if self.recorded > 0 {
            text = format!("{text} − {} already recorded in the journal", self.recorded);
        }
        match self.probes {
            0 => {}
            1 => text.push_str(" + 1 health probe"),
            n => text.push_str(&format!(" + 1 health probe + {} canary cases", n - 1)),
        }
        if self.warm_ups > 0 {
            text.push_str(&format!(
                " + {} connection warm-up{}",
                self.warm_ups,
                if self.warm_ups == 1 { "" } else { "s" }
            ));
        }
        text
    }

    /// The `--dry-run` report.
    pub fn render(&self) -> String {
        let mut out = format!("dry run: {} requests = {}\n", self.requests, self.breakdown());
        match self.cost() {
            Some(cost) => out.push_str(&format!(
                "cost: {cost:.4} ({} × {} per request)\n",
                self.requests,
                self.cost_per_request.unwrap_or(0.0)
            )),
            None => out.push_str("cost: unknown (set `cost` per request in [target])\n"),
        }
        out.push_str("nothing was sent\n");
        out
    }
}
