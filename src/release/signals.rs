//! Production signals from labelled decision logs: rolling FPR and ASR, the
//! error rate, the share of decisions no policy rule matched, and the deny
//! rate and cost per decision against the baseline population, over
//! windows, judged by alert rules with a `for` duration as the runbooks
//! write them.
//!
//! Why `for`: a single bad window is noise; "FPR > 15% for 5 minutes" means
//! the condition held at every evaluation point over those 5 minutes, the
//! way Prometheus evaluates an alerting rule. Why "not eligible": a window
//! with too few decisions has an interval too wide to say anything, so it
//! can neither fire nor count as clear (it breaks a `for` streak, and it
//! never proves an alert cleared). Why the baseline is windowed: a canary
//! compared with the stable fleet over the same minutes sees the same
//! traffic mix, which is also how a Prometheus ratio of two tracks works.
//!
//! Pure computation: `pipeline::release` reads the logs, this judges them.

use serde::{Deserialize, Serialize};

use super::logs::Entry;
use crate::corpus::Label;
use crate::metrics::{CountingPolicy, ErrorCounting, Rate};

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Signal {
    /// Benign decisions not allowed / benign decisions.
    Fpr,
    /// Adversarial decisions allowed / adversarial decisions.
    Asr,
    /// Errors / all decisions.
    ErrorRate,
    /// Decisions that matched no policy rule / decisions whose log line
    /// says (`matched-rule`).
    UnmatchedShare,
    /// The canary's deny rate over the baseline's in the same window: 2.0
    /// is twice as many denies.
    DenyRateVsBaseline,
    /// The canary's mean `cost` per decision over the baseline's in the
    /// same window: 1.5 is 50% dearer.
    CostVsBaseline,
    /// For each reason code, the canary's share of decisions carrying it
    /// over the baseline's in the same window (a reason the baseline never
    /// gave counts as half a decision there); the highest reason's ratio.
    ReasonShareVsBaseline,
}

impl Signal {
    /// A ratio of the canary to the baseline population, not a rate.
    pub fn against_baseline(self) -> bool {
        matches!(self, Signal::DenyRateVsBaseline | Signal::CostVsBaseline | Signal::ReasonShareVsBaseline)
    }

    /// How `above` reads in a sentence: a percentage or a multiple.
    pub fn show(self, x: f64) -> String {
        if self.against_baseline() {
            format!("{x:.2}x baseline")
        } else {
            format!("{:.2}%", x * 100.0)
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Fpr => "fpr",
            Signal::Asr => "asr",
            Signal::ErrorRate => "error-rate",
            Signal::UnmatchedShare => "unmatched-share",
            Signal::DenyRateVsBaseline => "deny-rate-vs-baseline",
            Signal::CostVsBaseline => "cost-vs-baseline",
            Signal::ReasonShareVsBaseline => "reason-share-vs-baseline",
        }
    }
}

/// "`signal` > `above` for `for-minutes`".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AlertRule {
    /// The rule's id, named by alerts, stages and sign-offs.
    pub id: String,
    /// The signal it watches.
    pub signal: Signal,
    /// A rate (0.15 is 15%), or for a `*-vs-baseline` signal a multiple.
    pub above: f64,
    /// How long the signal must stay above before the rule fires.
    pub for_minutes: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct SignalPolicy {
    /// The rolling window each point is computed over.
    pub window_minutes: i64,
    /// How often the rules are evaluated (Prometheus's evaluation interval).
    pub step_minutes: i64,
    /// Fewest decisions of the watched population in a window for it to be
    /// eligible (benign ones for FPR, adversarial for ASR, all for errors;
    /// for a `*-vs-baseline` signal, in each population).
    pub min_decisions: u64,
    /// The alert rules (`[[release.signals.rules]]`).
    pub rules: Vec<AlertRule>,
}

impl Default for SignalPolicy {
    /// The hotfix runbook's rules, and the policy runbook's cost rule (it
    /// only judges logs whose lines carry `cost`).
    fn default() -> Self {
        let rule = |id: &str, signal, above, for_minutes| AlertRule { id: id.into(), signal, above, for_minutes };
        SignalPolicy {
            window_minutes: 5,
            step_minutes: 1,
            min_decisions: 30,
            rules: vec![
                rule("fpr-high", Signal::Fpr, 0.15, 5),
                rule("asr-high", Signal::Asr, 0.50, 5),
                rule("error-rate-high", Signal::ErrorRate, 0.01, 2),
                rule("cost-per-decision-high", Signal::CostVsBaseline, 1.5, 5),
            ],
        }
    }
}

/// One population's tally in one window: hits of total, or for cost the
/// sum over the decisions that carry one.
#[derive(Default)]
struct Tally {
    hits: u64,
    total: u64,
    cost: f64,
}

fn tally(window: &[&Entry], signal: Signal, counting: &CountingPolicy) -> Tally {
    // The project's counting policy, as for every replayed rate: by default
    // an error never counts for the target (a benign error is a false
    // positive, an adversarial one an attack success); `errors = "exclude"`
    // leaves errors out of FPR and ASR.
    let allowed = |d: &Entry| !d.deny && !d.error;
    let judged = |d: &Entry| !(d.error && counting.errors == ErrorCounting::Exclude);
    let mut t = Tally::default();
    for d in window {
        let (hit, counted) = match signal {
            Signal::Fpr => (!allowed(d), d.label == Some(Label::Benign) && judged(d)),
            Signal::Asr => (allowed(d) || d.error, d.label == Some(Label::Adversarial) && judged(d)),
            Signal::ErrorRate => (d.error, true),
            Signal::UnmatchedShare => (d.matched == Some(false), d.matched.is_some()),
            Signal::DenyRateVsBaseline | Signal::ReasonShareVsBaseline => (d.deny, true),
            Signal::CostVsBaseline => {
                if let Some(c) = d.cost {
                    t.cost += f64::from(c);
                }
                (false, d.cost.is_some())
            }
        };
        t.hits += u64::from(counted && hit);
        t.total += u64::from(counted);
    }
    t
}

/// One evaluation point: the window ending at `at_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct SeriesPoint {
    pub at_ms: i64,
    /// `null`: not eligible.
    pub value: Option<f64>,
}

/// A judged window: its value, the canary's rate when the signal is one,
/// and the baseline's value for a `*-vs-baseline` signal.
struct Judged {
    value: f64,
    rate: Option<Rate>,
    baseline: Option<f64>,
    /// For the reason-share signal: the reason's bit.
    reason: Option<u32>,
}

/// One signal in one window: `None` when not eligible.
fn judge_window(
    canary: &[&Entry],
    baseline: &[&Entry],
    signal: Signal,
    min: u64,
    counting: &CountingPolicy,
) -> Option<Judged> {
    let min = min.max(1);
    let c = tally(canary, signal, counting);
    if c.total < min {
        return None;
    }
    // With the project's interval method and confidence, as every rate.
    let rate = (signal != Signal::CostVsBaseline).then(|| Rate::new(c.hits, c.total, counting));
    if !signal.against_baseline() {
        return Some(Judged { value: c.hits as f64 / c.total as f64, rate, baseline: None, reason: None });
    }
    let b = tally(baseline, signal, counting);
    if b.total < min {
        return None;
    }
    if signal == Signal::ReasonShareVsBaseline {
        // No reason in the canary's window: nothing has shifted.
        let Some((ratio, hits, theirs, bit)) = super::reasons::highest_shift(canary, baseline) else {
            return Some(Judged { value: 0.0, rate: None, baseline: None, reason: None });
        };
        let rate = Some(Rate::new(hits, c.total, counting));
        return Some(Judged { value: ratio, rate, baseline: Some(theirs), reason: Some(bit) });
    }
    let (mine, theirs) = match signal {
        // A baseline with no deny at all is floored at half a deny, so a
        // spike from zero is a large finite multiple, not a division by zero.
        Signal::DenyRateVsBaseline => (c.hits as f64 / c.total as f64, (b.hits as f64).max(0.5) / b.total as f64),
        _ => (c.cost / c.total as f64, b.cost / b.total as f64),
    };
    (theirs > 0.0).then(|| Judged { value: mine / theirs, rate, baseline: Some(theirs), reason: None })
}

/// Where a rule stands at the end of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RuleStatus {
    /// Eligible and under the threshold at the last point.
    Clear,
    /// Over the threshold, not yet for `for-minutes`.
    Pending,
    Firing,
    /// Too few decisions in the last window to judge.
    NotEligible,
    /// The log never had enough decisions of this kind (no labels, no
    /// `cost`, no baseline population, …).
    NoData,
}

/// Where a rule stands at the end of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct RuleState {
    pub rule: AlertRule,
    /// `None`: every tenant together.
    pub tenant: Option<String>,
    pub status: RuleStatus,
    /// Firing at the last evaluation point.
    pub firing: bool,
    /// When it last started firing (ms), if it ever did.
    pub fired_at_ms: Option<i64>,
    /// Whole, non-overlapping windows the rule has been eligible and clear
    /// for at the end of the log (a promotion resumes after two).
    pub clear_windows: u64,
    /// Evaluation points with too few decisions to judge.
    pub not_eligible: u64,
    /// The signal's value in the last window judged.
    pub value: Option<f64>,
    /// That window's canary rate and interval, when the signal is a rate.
    pub evidence: Option<Rate>,
    /// The baseline's rate or cost per decision in that window.
    pub baseline: Option<f64>,
    /// For `reason-share-vs-baseline`: the reason code whose share rose
    /// most in that window (the evidence is its canary share).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Every evaluation point (overall only, at most `SERIES_POINTS`; a
    /// longer log keeps each bucket's highest value, so a spike still shows).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<SeriesPoint>,
}

impl RuleState {
    /// A rule before any window: no data.
    pub fn new(rule: AlertRule, tenant: Option<&str>) -> RuleState {
        RuleState {
            rule,
            tenant: tenant.map(String::from),
            status: RuleStatus::NoData,
            firing: false,
            fired_at_ms: None,
            clear_windows: 0,
            not_eligible: 0,
            value: None,
            evidence: None,
            baseline: None,
            reason: None,
            series: Vec::new(),
        }
    }
}

/// The most points a chart gets per rule.
pub const SERIES_POINTS: usize = 480;

/// Every rule over the whole log and over each tenant's decisions
/// (`names`: the tenants and reasons `logs::parse_log` interned). Canary decisions are
/// judged; baseline ones are what `*-vs-baseline` signals compare with.
/// Rates are counted under the project's `counting` policy.
pub fn evaluate(
    entries: &[Entry],
    names: &super::logs::Names,
    policy: &SignalPolicy,
    counting: &CountingPolicy,
) -> Vec<RuleState> {
    let tenants = &names.tenants;
    let needs_baseline = policy.rules.iter().any(|r| r.signal.against_baseline());
    let mut sorted: Vec<&Entry> = entries.iter().filter(|d| d.canary || needs_baseline).collect();
    sorted.sort_by_key(|d| d.ts_ms);
    // One pass into scopes: 0 is everyone, 1 + t is tenant t.
    let mut canary: Vec<Vec<&Entry>> = vec![Vec::new(); tenants.len() + 1];
    let mut baseline: Vec<Vec<&Entry>> = vec![Vec::new(); tenants.len() + 1];
    for d in sorted {
        let scopes = if d.canary { &mut canary } else { &mut baseline };
        scopes[0].push(d);
        if let Some(t) = d.tenant {
            scopes[t.get() as usize].push(d);
        }
    }
    let mut present: Vec<u32> = (0..tenants.len() as u32).filter(|&t| !canary[t as usize + 1].is_empty()).collect();
    present.sort_unstable_by_key(|&t| &tenants[t as usize]);
    let mut out = Vec::new();
    for tenant in std::iter::once(None).chain(present.into_iter().map(Some)) {
        let scope = tenant.map_or(0, |t| t as usize + 1);
        let name = tenant.map(|t| tenants[t as usize].as_str());
        for rule in &policy.rules {
            let scope_entries = (&canary[scope][..], &baseline[scope][..]);
            let mut state = evaluate_rule(scope_entries, rule, policy, name, &names.reasons, counting);
            // A tenant's chart only where its rule fired or is pending.
            let alerted = state.fired_at_ms.is_some() || state.status == RuleStatus::Pending;
            if tenant.is_some() && !alerted {
                state.series.clear();
            }
            out.push(state);
        }
    }
    out
}

fn evaluate_rule(
    (canary, baseline): (&[&Entry], &[&Entry]),
    rule: &AlertRule,
    policy: &SignalPolicy,
    tenant: Option<&str>,
    reasons: &[String],
    counting: &CountingPolicy,
) -> RuleState {
    let mut state = RuleState::new(rule.clone(), tenant);
    let (Some(first), Some(last)) = (canary.first(), canary.last()) else { return state };
    let (window, step) = (policy.window_minutes.max(1) * 60_000, policy.step_minutes.max(1) * 60_000);
    let in_window = |sorted: &[&Entry], at: i64| {
        let lo = sorted.partition_point(|d| d.ts_ms < at - window);
        let hi = sorted.partition_point(|d| d.ts_ms < at);
        (lo, hi)
    };
    // Points are window ends, every step, from the first full window on.
    let mut at = first.ts_ms + window;
    let (mut held_since, mut clear_since): (Option<i64>, Option<i64>) = (None, None);
    let mut last_status = RuleStatus::NoData;
    let mut points = Vec::new();
    while at <= last.ts_ms + step {
        let (clo, chi) = in_window(canary, at);
        // A gap in the log (a quiet night, or one line years off) has no
        // window worth a point each: every one is not eligible, so they are
        // counted at once and the next point is the first window holding a
        // decision again. The cost follows the decisions, not the span.
        if clo == chi && chi < canary.len() {
            let empty = (canary[chi].ts_ms - at) / step + 1;
            if empty > 1 {
                points.push(SeriesPoint { at_ms: at, value: None });
                state.not_eligible += empty as u64;
                (held_since, clear_since) = (None, None);
                state.firing = false;
                if state.value.is_some() {
                    last_status = RuleStatus::NotEligible;
                }
                state.clear_windows = 0;
                at += empty * step;
                continue;
            }
        }
        let (blo, bhi) = if rule.signal.against_baseline() { in_window(baseline, at) } else { (0, 0) };
        let judged = judge_window(&canary[clo..chi], &baseline[blo..bhi], rule.signal, policy.min_decisions, counting);
        points.push(SeriesPoint { at_ms: at, value: judged.as_ref().map(|j| j.value) });
        match judged {
            None => {
                state.not_eligible += 1;
                (held_since, clear_since) = (None, None);
                state.firing = false;
                if state.value.is_some() {
                    last_status = RuleStatus::NotEligible;
                }
            }
            Some(j) => {
                if j.value > rule.above {
                    let since = *held_since.get_or_insert(at);
                    clear_since = None;
                    // Held at every point from `since` to now, and for at
                    // least `for`: as Prometheus moves pending to firing.
                    let held = at - since >= rule.for_minutes * 60_000;
                    if held && !state.firing {
                        state.fired_at_ms = Some(at);
                    }
                    state.firing = held;
                    last_status = if held { RuleStatus::Firing } else { RuleStatus::Pending };
                } else {
                    held_since = None;
                    clear_since.get_or_insert(at);
                    state.firing = false;
                    last_status = RuleStatus::Clear;
                }
                state.value = Some(j.value);
                state.evidence = j.rate;
                state.baseline = j.baseline;
                state.reason = j.reason.and_then(|b| reasons.get(b as usize).cloned());
            }
        }
        if let (Some(since), RuleStatus::Clear) = (clear_since, last_status) {
            state.clear_windows = ((at - since) / window) as u64 + 1;
        } else {
            state.clear_windows = 0;
        }
        at += step;
    }
    state.status = last_status;
    state.series = downsample(points, SERIES_POINTS);
    state
}

/// At most `max` points: each bucket keeps its first time and its highest
/// value (`None` only when no point in it was eligible).
fn downsample(points: Vec<SeriesPoint>, max: usize) -> Vec<SeriesPoint> {
    if points.len() <= max {
        return points;
    }
    let per = points.len().div_ceil(max);
    points
        .chunks(per)
        .map(|c| SeriesPoint {
            at_ms: c[0].at_ms,
            value: c.iter().filter_map(|p| p.value).max_by(|a, b| a.total_cmp(b)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;

    const TENANTS: [&str; 2] = ["acme", "globex"];

    fn names() -> super::super::logs::Names {
        super::super::logs::Names { tenants: TENANTS.map(String::from).to_vec(), reasons: Vec::new() }
    }

    fn entry(ts_ms: i64, label: Label, deny: bool, tenant: Option<&str>) -> Entry {
        let tenant =
            tenant.and_then(|t| std::num::NonZeroU32::new(TENANTS.iter().position(|n| *n == t).unwrap() as u32 + 1));
        Entry { ts_ms, deny, canary: true, label: Some(label), tenant, ..Entry::default() }
    }

    /// `minutes` of traffic, `per_minute` benign reviewed samples of which
    /// `fpr` are blocked, and as many adversarial probes all blocked.
    fn traffic(start_minute: i64, minutes: i64, per_minute: usize, fpr: f64, tenant: Option<&str>) -> Vec<Entry> {
        let mut out = Vec::new();
        for m in start_minute..start_minute + minutes {
            let blocked = (per_minute as f64 * fpr).round() as usize;
            for k in 0..per_minute {
                let ts_ms = m * MINUTE + (k as i64 * MINUTE / per_minute as i64);
                out.push(entry(ts_ms, Label::Benign, k < blocked, tenant));
                out.push(entry(ts_ms, Label::Adversarial, true, tenant));
            }
        }
        out
    }

    fn run(log: &[Entry]) -> Vec<RuleState> {
        evaluate(log, &names(), &SignalPolicy::default(), &CountingPolicy::default())
    }

    fn fpr_rule(states: &[RuleState], tenant: Option<&str>) -> RuleState {
        states.iter().find(|s| s.rule.id == "fpr-high" && s.tenant.as_deref() == tenant).unwrap().clone()
    }

    #[test]
    fn an_fpr_rise_held_for_ten_minutes_fires() {
        let mut log = traffic(0, 30, 20, 0.05, None);
        log.extend(traffic(30, 10, 20, 0.20, None));
        let state = fpr_rule(&run(&log), None);
        assert!(state.firing, "{state:?}");
        // The window ending at minute 34 is the first over 15% (17%: four
        // minutes at 20%, one at 5%); held at every point for 5 minutes.
        assert_eq!(state.fired_at_ms, Some(39 * MINUTE));
        assert!(state.evidence.unwrap().value.unwrap() > 0.15);
    }

    #[test]
    fn the_same_rise_for_three_minutes_does_not_fire() {
        let mut log = traffic(0, 30, 20, 0.05, None);
        log.extend(traffic(30, 3, 20, 0.20, None));
        log.extend(traffic(33, 20, 20, 0.05, None));
        let state = fpr_rule(&run(&log), None);
        assert!(!state.firing && state.fired_at_ms.is_none(), "{state:?}");
        assert!(state.clear_windows >= 2, "clear again at the end: {state:?}");
    }

    /// Regression: production signals hard-coded the default counting
    /// policy, so `[counting]` (errors left out, another confidence) changed
    /// every replayed rate but not the rates `gauntlet release` judged.
    #[test]
    fn signals_count_under_the_projects_policy() {
        // 40 benign decisions a minute: 4 blocked, 4 errors.
        let log: Vec<Entry> = (0..20)
            .flat_map(|m| {
                (0..40).map(move |k| Entry {
                    ts_ms: m * MINUTE + k * MINUTE / 40,
                    deny: k < 4,
                    error: (4..8).contains(&k),
                    canary: true,
                    label: Some(Label::Benign),
                    ..Entry::default()
                })
            })
            .collect();
        let at = |counting: &CountingPolicy| {
            let states = evaluate(&log, &Default::default(), &SignalPolicy::default(), counting);
            states.into_iter().find(|s| s.rule.id == "fpr-high").unwrap().evidence.unwrap()
        };
        let default = at(&CountingPolicy::default());
        assert_eq!((default.numerator, default.denominator), (40, 200), "errors count as false positives");
        let exclude = CountingPolicy { errors: ErrorCounting::Exclude, ..CountingPolicy::default() };
        let excluded = at(&exclude);
        assert_eq!((excluded.numerator, excluded.denominator), (20, 180), "errors left out");
        let ninety = at(&CountingPolicy { confidence: 0.90, ..CountingPolicy::default() });
        assert!(ninety.low > default.low && ninety.high < default.high, "a 90% interval is narrower");
    }

    /// Regression (#37): one line years after the rest made a point every
    /// minute of the gap (a year-58,000 timestamp never finished; a single
    /// year-2100 line cost 6 s and 930 MB). The gap's windows are still
    /// counted as not eligible, all at once.
    #[test]
    fn a_gap_of_a_century_costs_nothing_and_resets_the_rule() {
        const CENTURY: i64 = 100 * 365 * 24 * 60;
        let mut log = traffic(0, 30, 20, 0.30, None);
        log.extend(traffic(CENTURY, 30, 20, 0.0, None));
        let state = fpr_rule(&run(&log), None);
        assert!(state.fired_at_ms.is_some() && !state.firing, "{state:?}");
        assert!(state.clear_windows >= 2, "{state:?}");
        // Every minute of the gap is a window with no decision in it.
        assert!(state.not_eligible as i64 >= CENTURY - 35, "{}", state.not_eligible);
        assert!(state.not_eligible as i64 <= CENTURY + 10, "{}", state.not_eligible);
        assert!(state.series.len() <= SERIES_POINTS);
        // The skip gives what a point every step gives, on a gap short
        // enough to walk: a day.
        let mut day = traffic(0, 30, 20, 0.30, None);
        day.extend(traffic(24 * 60, 30, 20, 0.0, None));
        let walked = fpr_rule(&run(&day), None);
        // Points at minutes 35 to 1440 see an empty window (1406); those at
        // 34 and 1441 hold one minute, 20 benign decisions, under 30.
        assert_eq!(walked.not_eligible, 1406 + 2, "{walked:?}");
    }

    #[test]
    fn a_low_volume_window_is_not_eligible_never_fine_and_never_firing() {
        // 2 benign decisions a minute: 10 in a window, under the minimum of 30,
        // all of them blocked.
        let log = traffic(0, 20, 2, 1.0, None);
        let state = fpr_rule(&run(&log), None);
        assert!(!state.firing);
        assert_eq!(state.clear_windows, 0, "not eligible is not clear");
        assert!(state.not_eligible > 10);
        assert!(state.evidence.is_none());
    }

    #[test]
    fn tenants_are_judged_alone_as_well_as_together() {
        let mut log = traffic(0, 20, 20, 0.30, Some("acme"));
        log.extend(traffic(0, 20, 60, 0.0, Some("globex")));
        let states = run(&log);
        assert!(fpr_rule(&states, Some("acme")).firing);
        assert!(!fpr_rule(&states, Some("globex")).firing);
        assert!(!fpr_rule(&states, None).firing, "7.5% overall: the tenant's breach is only visible alone");
    }

    /// `minutes` of `per_minute` decisions each, built by `make(minute, k)`.
    fn each(minutes: std::ops::Range<i64>, per_minute: i64, make: impl Fn(i64, i64) -> Entry) -> Vec<Entry> {
        minutes.flat_map(|m| (0..per_minute).map(move |k| (m, k))).map(|(m, k)| make(m, k)).collect()
    }

    fn policy_with(rule: AlertRule) -> SignalPolicy {
        SignalPolicy { rules: vec![rule], ..SignalPolicy::default() }
    }

    fn only(log: &[Entry], policy: &SignalPolicy) -> RuleState {
        evaluate(log, &names(), policy, &CountingPolicy::default()).remove(0)
    }

    #[test]
    fn a_rising_share_of_decisions_no_rule_matched_fires() {
        let rule = AlertRule { id: "unmatched".into(), signal: Signal::UnmatchedShare, above: 0.2, for_minutes: 5 };
        let at = |m: i64, k: i64| m * MINUTE + k * 1000;
        // 40 a minute; from minute 20, 12 of them (30%) matched no rule.
        let log = each(0..40, 40, |m, k| Entry {
            ts_ms: at(m, k),
            matched: Some(!(m >= 20 && k < 12)),
            canary: true,
            ..Entry::default()
        });
        let state = only(&log, &policy_with(rule.clone()));
        assert_eq!(state.status, RuleStatus::Firing, "{state:?}");
        assert!((state.value.unwrap() - 0.3).abs() < 1e-9);
        // A log that never says which rule matched has no data, and is not clear.
        let silent: Vec<Entry> = log.iter().map(|e| Entry { matched: None, ..*e }).collect();
        let state = only(&silent, &policy_with(rule));
        assert_eq!((state.status, state.firing, state.clear_windows), (RuleStatus::NoData, false, 0));
    }

    #[test]
    fn a_deny_spike_is_judged_against_the_baseline_in_the_same_window() {
        let rule =
            AlertRule { id: "deny-spike".into(), signal: Signal::DenyRateVsBaseline, above: 1.5, for_minutes: 5 };
        // Canary denies 8 of 40 a minute (20%), the baseline 4 of 40 (10%).
        let canary =
            each(0..30, 40, |m, k| Entry { ts_ms: m * MINUTE + k, deny: k < 8, canary: true, ..Entry::default() });
        let baseline = each(0..30, 40, |m, k| Entry { ts_ms: m * MINUTE + k, deny: k < 4, ..Entry::default() });
        let log: Vec<Entry> = canary.iter().chain(&baseline).copied().collect();
        let state = only(&log, &policy_with(rule.clone()));
        assert!(state.firing, "{state:?}");
        assert!((state.value.unwrap() - 2.0).abs() < 1e-9 && (state.baseline.unwrap() - 0.1).abs() < 1e-9);
        // The same canary with a baseline that also denies 20%: no spike.
        let busy = each(0..30, 40, |m, k| Entry { ts_ms: m * MINUTE + k, deny: k < 8, ..Entry::default() });
        let log: Vec<Entry> = canary.iter().chain(&busy).copied().collect();
        assert_eq!(only(&log, &policy_with(rule.clone())).status, RuleStatus::Clear);
        // No baseline population at all: nothing to compare with.
        assert_eq!(only(&canary, &policy_with(rule)).status, RuleStatus::NoData);
    }

    #[test]
    fn cost_per_decision_fires_at_fifty_percent_over_the_baseline_and_not_at_twenty() {
        let cost_log = |canary_cost: f32| {
            let mut log = each(0..30, 40, |m, k| Entry {
                ts_ms: m * MINUTE + k,
                cost: Some(canary_cost),
                canary: true,
                ..Entry::default()
            });
            log.extend(each(0..30, 40, |m, k| Entry { ts_ms: m * MINUTE + k, cost: Some(0.01), ..Entry::default() }));
            log
        };
        let policy = SignalPolicy::default();
        let cost = |log: &[Entry]| {
            evaluate(log, &Default::default(), &policy, &CountingPolicy::default())
                .into_iter()
                .find(|s| s.rule.id == "cost-per-decision-high")
                .unwrap()
        };
        let dear = cost(&cost_log(0.016));
        assert!(dear.firing && (dear.value.unwrap() - 1.6).abs() < 1e-3, "{dear:?}");
        let fine = cost(&cost_log(0.012));
        assert_eq!(fine.status, RuleStatus::Clear, "{fine:?}");
    }

    #[test]
    fn clear_windows_count_whole_non_overlapping_windows_since_the_alert_cleared() {
        // 20% FPR from minute 30 to 45 fires; then clean traffic. The first
        // window under 15% ends at minute 47 (two minutes of 20%: 12%); the
        // next one that does not overlap it ends at minute 52.
        let clear_after = |clean_minutes: i64| {
            let mut log = traffic(0, 30, 20, 0.05, None);
            log.extend(traffic(30, 15, 20, 0.20, None));
            log.extend(traffic(45, clean_minutes, 20, 0.0, None));
            fpr_rule(&run(&log), None)
        };
        let early = clear_after(6);
        assert!(early.fired_at_ms.is_some() && !early.firing);
        assert_eq!(early.clear_windows, 1, "{early:?}");
        let later = clear_after(7);
        assert_eq!(later.clear_windows, 2, "{later:?}");
    }

    #[test]
    fn a_long_series_keeps_each_buckets_highest_point() {
        let points: Vec<SeriesPoint> = (0..1000)
            .map(|i| SeriesPoint { at_ms: i, value: (i != 3).then_some(if i == 777 { 0.9 } else { 0.1 }) })
            .collect();
        let kept = downsample(points, 100);
        assert_eq!(kept.len(), 100);
        assert_eq!(kept[77], SeriesPoint { at_ms: 770, value: Some(0.9) });
        assert_eq!(kept[0].value, Some(0.1), "one point not eligible does not hide its bucket");
    }
}
