//! What a run will send before it sends it: the number of requests (cases
//! × tenants × transforms × repeats, plus fixtures, probes and the
//! determinism pass) and, with a per-request `cost`, what they cost.
//! `gauntlet run --dry-run` prints it; `max-requests` and `max-cost` stop a
//! run whose plan already exceeds them, before any request (exit 2).

use super::run::{run_cases, RunCases, RunOptions};
use crate::config::Config;
use crate::corpus::Case;
use crate::errors::{Code, Error};

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
    /// The health probe (1, or 0 when off).
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
    pub fn new(cases: &[Case], corpus_len: usize, opts: &RunOptions, config: &Config, recorded: u64) -> RequestPlan {
        let corpus_cases = corpus_len as u64;
        let extra_cases = (cases.len() - corpus_len) as u64;
        let variants = cases[..corpus_len].iter().filter(|c| c.transform.is_some()).count() as u64;
        let repeat = opts.repeat.max(1);
        let passes = if opts.check_determinism { 2 } else { 1 };
        let probe_on = config.target.health_probe.unwrap_or(true);
        let probes = u64::from(probe_on);
        let case_rounds = (corpus_cases + extra_cases) * repeat as u64;
        let left = case_rounds.saturating_sub(recorded);
        let warm_ups = match (config.target.kind.as_str(), probe_on) {
            ("http", true) => {
                let connections = config.target.concurrency() as u64;
                // Per round, as many connections as there are cases left to send.
                connections.min(left.div_ceil(repeat as u64)) * repeat as u64 * passes as u64
            }
            _ => 0,
        };
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
            cost_per_request: config.target.cost,
        }
    }

    /// How many requests the budget allows in all (`max-requests`, and
    /// `max-cost` ÷ `cost`), when either is set.
    pub fn limit(config: &Config) -> Option<u64> {
        let by_cost = match (config.target.max_cost, config.target.cost) {
            (Some(max), Some(cost)) if cost > 0.0 => Some((max / cost + 1e-9).floor() as u64),
            _ => None,
        };
        match (config.target.max_requests, by_cost) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn cost(&self) -> Option<f64> {
        self.cost_per_request.map(|c| c * self.requests as f64)
    }

    /// The plan against `max-requests` and `max-cost`: over either is an
    /// input error at the key, before any request.
    pub fn check(&self, config: &Config) -> Result<(), Error> {
        let over = |key: &str, message: String| {
            Error::from(config.key_location(&["target", key]).diagnostic(Code::BudgetExceeded, message))
        };
        if let Some(max) = config.target.max_requests {
            if self.requests > max {
                return Err(over(
                    "max-requests",
                    format!(
                        "this run would send {} requests, over max-requests = {max}; plan: {}",
                        self.requests,
                        self.breakdown()
                    ),
                ));
            }
        }
        if let (Some(max), Some(cost)) = (config.target.max_cost, self.cost()) {
            if cost > max {
                return Err(over(
                    "max-cost",
                    format!(
                        "this run would cost {cost:.4} ({} requests × {}), over max-cost = {max}",
                        self.requests,
                        self.cost_per_request.unwrap_or(0.0)
                    ),
                ));
            }
        }
        Ok(())
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
        if self.probes > 0 {
            text.push_str(" + 1 health probe");
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

/// `gauntlet run --dry-run`: everything is loaded and validated as for a
/// run, the budget checked, and no request sent.
pub fn dry_run(opts: &RunOptions) -> Result<RequestPlan, Error> {
    let super::plan::Plan { config, corpus, fixtures, .. } = super::plan::plan(&opts.config, opts.quiet)?;
    let RunCases { cases, corpus_len, .. } = run_cases(corpus.cases, &config, &fixtures, opts)?;
    let plan = RequestPlan::new(&cases, corpus_len, opts, &config, 0);
    plan.check(&config)?;
    Ok(plan)
}
