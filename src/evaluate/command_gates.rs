//! Gates judged by their own command rather than by `run`: the `load-*`
//! gates over load.json (`gauntlet load`) and `adaptive-evasion-rate` over
//! attack.json (`gauntlet attack`). Pure, like every gate: the commands
//! pass in the facts.

use super::gates::{judge_value, Gate, GateOutcome, GateStatus, Lane, Metric};
use crate::metrics::{CountingPolicy, Rate};

/// What the load gates judge, from load.json.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadFacts {
    pub latency_p99_us: u64,
    /// Requests answered (decisions and errors): the latency's samples.
    pub answered: u64,
    pub errors: u64,
    pub scheduled: u64,
    pub fail_open: u64,
    /// Requests whose case was blocked at rest: the fail-open count's samples.
    pub fail_open_checked: u64,
}

/// Judges the load gates (`load-*` metrics) of `lane` on one load run.
pub fn evaluate_load_gates(gates: &[Gate], facts: &LoadFacts, policy: &CountingPolicy, lane: Lane) -> Vec<GateOutcome> {
    gates
        .iter()
        .filter(|g| g.lanes.contains(&lane) && g.metric.is_load())
        .map(|g| {
            let (value, interval, samples) = match g.metric {
                Metric::LoadLatencyP99 => (Some(facts.latency_p99_us as f64), None, facts.answered),
                Metric::LoadErrorRate => {
                    let r = Rate::new(facts.errors, facts.scheduled, policy);
                    (r.value, r.low.zip(r.high), facts.scheduled)
                }
                _ => (Some(facts.fail_open as f64), None, facts.fail_open_checked.max(1)),
            };
            judge_value(g, value, interval, samples, None)
        })
        .collect()
}

/// What the `adaptive-evasion-rate` gates judge, from attack.json.
#[derive(Debug, Clone, PartialEq)]
pub struct AttackFacts {
    /// The search's own budget: a gate asking about more queries than
    /// were allowed cannot be judged.
    pub run_budget: usize,
    /// For each searched original: the queries its confirmed evasion took (`None`: not evaded).
    pub queries_to_evade: Vec<Option<usize>>,
}

/// Judges the lane's `adaptive-evasion-rate` gates on one attack run.
pub fn evaluate_attack_gates(
    gates: &[Gate],
    facts: &AttackFacts,
    policy: &CountingPolicy,
    lane: Lane,
) -> Vec<GateOutcome> {
    gates
        .iter()
        .filter(|g| g.lanes.contains(&lane) && g.metric == Metric::AdaptiveEvasionRate)
        .map(|g| {
            let budget = g.budget.unwrap_or(facts.run_budget);
            if budget > facts.run_budget {
                let mut o = judge_value(g, None, None, 0, None);
                o.status = GateStatus::Inconclusive;
                o.detail =
                    format!("the gate asks about {budget} queries; the attack ran with --budget {}", facts.run_budget);
                return o;
            }
            let searched = facts.queries_to_evade.len() as u64;
            let evaded = facts.queries_to_evade.iter().filter(|q| q.is_some_and(|q| q <= budget)).count() as u64;
            let r = Rate::new(evaded, searched, policy);
            judge_value(g, r.value, r.low.zip(r.high), searched, None)
        })
        .collect()
}
