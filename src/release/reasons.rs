//! Reason codes in decision logs: a spike in one reason is how a false
//! positive storm shows first (the enforcement runbook's "spike in
//! decision reasons for a single reason"). The signal compares each
//! reason's share of the canary's decisions with its share of the
//! baseline's; the report lists both distributions, largest shifts first.

use serde::{Deserialize, Serialize};

use super::logs::Entry;

/// Decisions carrying each reason bit.
fn count<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> ([u64; 32], u64) {
    let mut n = [0u64; 32];
    let mut total = 0;
    for d in entries {
        total += 1;
        let mut bits = d.reasons;
        while bits != 0 {
            n[bits.trailing_zeros() as usize] += 1;
            bits &= bits - 1;
        }
    }
    (n, total)
}

/// The reason whose share rose most against the baseline's, as (ratio,
/// canary decisions carrying it, baseline share, its bit). A reason the
/// baseline never gave counts half a decision there, as the deny-rate
/// signal does, so a reason new in the canary is a large finite multiple.
pub(super) fn highest_shift(canary: &[&Entry], baseline: &[&Entry]) -> Option<(f64, u64, f64, u32)> {
    let ((c, ct), (b, bt)) = (count(canary.iter().copied()), count(baseline.iter().copied()));
    (0..32u32)
        .filter(|&i| c[i as usize] > 0)
        .map(|i| {
            let theirs = (b[i as usize] as f64).max(0.5) / bt as f64;
            ((c[i as usize] as f64 / ct as f64) / theirs, c[i as usize], theirs, i)
        })
        .max_by(|x, y| x.0.total_cmp(&y.0).then(y.3.cmp(&x.3)))
}

/// One reason code in the canary's and the baseline's decisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct ReasonShare {
    pub reason: String,
    pub canary: u64,
    /// Of the canary's decisions.
    pub canary_share: f64,
    pub baseline: u64,
    /// Of the baseline's decisions; `null` without a baseline.
    pub baseline_share: Option<f64>,
    /// Canary share less baseline share (the canary's share without a baseline).
    pub shift: f64,
}

/// Every reason code the logs gave, canary beside baseline, largest shift
/// (either way) first.
pub fn distribution(entries: &[Entry], reasons: &[String]) -> Vec<ReasonShare> {
    let (c, ct) = count(entries.iter().filter(|e| e.canary));
    let (b, bt) = count(entries.iter().filter(|e| !e.canary));
    let mut out: Vec<ReasonShare> = reasons
        .iter()
        .enumerate()
        .take(32)
        .filter(|(i, _)| c[*i] + b[*i] > 0)
        .map(|(i, reason)| {
            let canary_share = if ct > 0 { c[i] as f64 / ct as f64 } else { 0.0 };
            let baseline_share = (bt > 0).then(|| b[i] as f64 / bt as f64);
            ReasonShare {
                reason: reason.clone(),
                canary: c[i],
                canary_share,
                baseline: b[i],
                baseline_share,
                shift: canary_share - baseline_share.unwrap_or(0.0),
            }
        })
        .collect();
    out.sort_by(|x, y| y.shift.abs().total_cmp(&x.shift.abs()).then(x.reason.cmp(&y.reason)));
    out
}

#[cfg(test)]
mod tests {
    use super::super::logs::{Entry, Names};
    use super::super::signals::{evaluate, AlertRule, Signal, SignalPolicy};
    use crate::metrics::CountingPolicy;

    const MINUTE: i64 = 60_000;

    /// 40 decisions a minute on each track; `share` of the canary's (and
    /// 5% of the baseline's) carry reason 0, the rest reason 1.
    fn minutes(from: i64, n: i64, share: f64) -> Vec<Entry> {
        let mut out = Vec::new();
        for m in from..from + n {
            for k in 0..40 {
                let ts_ms = m * MINUTE + k * MINUTE / 40;
                for (canary, s) in [(true, share), (false, 0.05)] {
                    let spiked = (k as f64) < (40.0 * s).round();
                    out.push(Entry { ts_ms, canary, reasons: if spiked { 1 } else { 2 }, ..Entry::default() });
                }
            }
        }
        out
    }

    fn policy() -> SignalPolicy {
        let rule =
            AlertRule { id: "reason-spike".into(), signal: Signal::ReasonShareVsBaseline, above: 3.0, for_minutes: 5 };
        SignalPolicy { rules: vec![rule], ..SignalPolicy::default() }
    }

    fn names() -> Names {
        Names { tenants: Vec::new(), reasons: vec!["pii-email".into(), "ok".into()] }
    }

    #[test]
    fn a_reason_rising_from_5_to_40_percent_for_ten_minutes_fires_and_for_three_does_not() {
        let mut held = minutes(0, 30, 0.05);
        held.extend(minutes(30, 10, 0.40));
        let state = evaluate(&held, &names(), &policy(), &CountingPolicy::default()).remove(0);
        assert!(state.firing, "{state:?}");
        assert_eq!(state.reason.as_deref(), Some("pii-email"));
        assert!((state.value.unwrap() - 8.0).abs() < 1e-9, "40% against 5%: {:?}", state.value);

        let mut brief = minutes(0, 30, 0.05);
        brief.extend(minutes(30, 3, 0.40));
        brief.extend(minutes(33, 15, 0.05));
        let state = evaluate(&brief, &names(), &policy(), &CountingPolicy::default()).remove(0);
        assert!(!state.firing && state.fired_at_ms.is_none(), "{state:?}");
    }

    #[test]
    fn the_distribution_lists_the_largest_shift_first_and_a_new_reason_counts_half_a_decision() {
        let mut log = minutes(0, 10, 0.40);
        // A reason only the canary gives, once.
        log.push(Entry { ts_ms: 0, canary: true, reasons: 4, ..Entry::default() });
        let mut n = names();
        n.reasons.push("brand-new".into());
        let d = super::distribution(&log, &n.reasons);
        assert_eq!(d[0].reason, "ok", "ok fell from 95% to 60%: {d:?}");
        assert_eq!(d[1].reason, "pii-email");
        assert_eq!(d.iter().find(|r| r.reason == "brand-new").unwrap().baseline, 0);
        let canary: Vec<&Entry> = log.iter().filter(|e| e.canary).collect();
        let baseline: Vec<&Entry> = log.iter().filter(|e| !e.canary).collect();
        let (ratio, _, theirs, bit) = super::highest_shift(&canary, &baseline).unwrap();
        assert_eq!(bit, 0, "pii-email rose most");
        assert!((theirs - 0.05).abs() < 1e-12 && (ratio - 160.0 / 401.0 / 0.05).abs() < 1e-9);
        // The new reason alone: one canary decision against half a baseline one.
        let only_new: Vec<&Entry> = canary.iter().copied().filter(|e| e.reasons == 4).collect();
        let (ratio, _, theirs, bit) = super::highest_shift(&only_new, &baseline).unwrap();
        assert_eq!(bit, 2);
        assert!((theirs - 0.5 / 400.0).abs() < 1e-12 && ratio.is_finite() && ratio == 800.0);
    }
}
