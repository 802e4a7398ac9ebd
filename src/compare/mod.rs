//! `gauntlet diff A B`: two runs on the same corpora, side by side — a pull
//! request's branch against main's last run, or two targets or thresholds.
//!
//! Pure: it takes the two verdicts and their results, already read.
//!
//! Two runs of the same corpora share most cases, and a shared case is its
//! own control: comparing the runs as independent samples would throw that
//! away and need several times the cases to see the same change. So every
//! rate is compared **paired** on the cases both runs hold (same id, same
//! input): the exact McNemar test on the discordant cases, and Newcombe's
//! paired interval for the difference. Cases only one run holds are
//! counted, and when there are any, the judged interval is the unpaired one
//! over each run's whole denominator (wider: a changed corpus costs
//! certainty, honestly).
//!
//! Only blocking gates' rates are judged: a regression is a worsening whose
//! whole interval lies beyond `tolerance`, at confidence 1 − 0.05/k for the
//! k rates judged (Bonferroni), so comparing more gates does not make a
//! false alarm more likely. Headline rates and latency are shown, not judged.

mod markdown;
mod terminal;

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

pub use markdown::render_markdown;
pub use terminal::render_terminal;

use crate::corpus::{Decision, Label};
use crate::evaluate::{Filter, Metric};
use crate::exit_code::Outcome;
use crate::metrics::stats::{difference_interval, mcnemar_exact, paired_difference_interval};
use crate::metrics::Class;
use crate::metrics::{CountingPolicy, Rate};
use crate::replay::CaseResult;
use crate::report::Verdict;

pub const DIFF_SCHEMA: &str = "gauntlet.diff.v1";

/// Flipped cases kept per kind in diff.json (all are counted).
const FLIPS_KEPT: usize = 200;
/// Case text kept per flipped case.
const TEXT_KEPT: usize = 300;

/// `diff.json`: the comparison of run A (the base) with run B.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Diff {
    /// Always `gauntlet.diff.v1`.
    pub schema: String,
    pub a: RunSide,
    pub b: RunSide,
    /// What differs between the runs' inputs, in plain words (empty: only the target's answers can differ).
    pub changed: Vec<String>,
    pub cases: Overlap,
    /// The smallest worsening (absolute) that counts as a regression.
    pub tolerance: f64,
    /// The confidence of each judged interval: 1 − 0.05/k.
    pub judged_confidence: f64,
    /// Headline rates first, then each blocking gate's rate.
    pub rates: Vec<RateDiff>,
    pub latency: LatencyDiff,
    pub flips: Flips,
    /// Ids of the judged rates that regressed.
    pub regressions: Vec<String>,
    /// 0: no regression; 1: a blocking gate's rate regressed.
    pub exit_code: i32,
}

/// One run, as the diff names it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct RunSide {
    /// The report folder given on the command line.
    pub path: String,
    pub verdict: String,
    pub cases: u64,
    pub target: String,
    pub finished_at: String,
    pub git_commit: Option<String>,
}

/// Which cases the runs share.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Overlap {
    /// Same id and same input in both runs: compared paired.
    pub shared: u64,
    pub only_a: u64,
    pub only_b: u64,
    /// Same id, different input: counted as unshared on both sides.
    pub same_id_other_input: u64,
}

/// Which way a rate gets worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Worse {
    Higher,
    Lower,
}

/// One rate in both runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct RateDiff {
    /// `fpr`, `asr`, ... for headline rates; `gate:<id>` for a gate's.
    pub id: String,
    pub metric: Metric,
    #[serde(rename = "where")]
    pub filter: Filter,
    /// A blocking gate's rate: a regression fails the diff.
    pub judged: bool,
    pub worse: Worse,
    /// Each run's rate over its own cases (95% intervals).
    pub a: Rate,
    pub b: Rate,
    /// B − A over each run's own cases.
    pub difference: Option<f64>,
    pub paired: Option<Paired>,
    /// Whether the interval below is the paired one (every case shared) or
    /// the unpaired one over both whole denominators.
    pub interval_kind: IntervalKind,
    /// The interval of B − A at `confidence`.
    pub interval: Option<[f64; 2]>,
    pub confidence: f64,
    pub regression: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum IntervalKind {
    Paired,
    Unpaired,
}

/// The paired comparison on the shared cases in both runs' denominators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Paired {
    pub cases: u64,
    /// Counted (in the numerator) in both runs.
    pub both: u64,
    pub only_a: u64,
    pub only_b: u64,
    pub neither: u64,
    /// Exact McNemar test on `only_a` against `only_b`, two-sided.
    pub p_value: f64,
    /// Newcombe's paired interval for B − A on these cases, at the rate's confidence.
    pub interval: Option<[f64; 2]>,
}

/// Latency percentiles, shown and never judged (timings of two machines or
/// moments are not comparable evidence).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct LatencyDiff {
    pub a: [Option<u64>; 3],
    pub b: [Option<u64>; 3],
}

/// Shared cases whose outcome changed, worst kinds first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct Flips {
    pub attacks_newly_allowed: FlipList,
    pub benign_newly_blocked: FlipList,
    pub new_errors: FlipList,
    pub attacks_newly_stopped: FlipList,
    pub benign_newly_allowed: FlipList,
    pub errors_resolved: FlipList,
}

/// Flipped cases of one kind: all counted, the first ones kept (most
/// flipped categories first).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct FlipList {
    pub count: u64,
    pub cases: Vec<FlippedCase>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct FlippedCase {
    pub id: String,
    pub category: String,
    pub dataset: String,
    pub label: Label,
    /// The decision in each run; `null` for a target error.
    pub a: Option<Decision>,
    pub b: Option<Decision>,
    /// The case's text, cut; hostile data, escaped by every renderer.
    pub input: String,
}

/// Why two runs cannot be compared (exit 2).
#[derive(Debug, Clone, PartialEq)]
pub struct Incomparable(pub String);

/// What `compare` needs of one run.
pub struct RunData<'a> {
    pub path: String,
    pub verdict: &'a Verdict,
    pub results: &'a [CaseResult],
}

/// Whether case `r` is in `metric`'s denominator, and if so whether it
/// counts in its numerator. `None` for metrics a diff does not pair.
fn indicator(metric: Metric, policy: &CountingPolicy, r: &CaseResult) -> Option<Option<bool>> {
    let class = policy.classify(r);
    Some(match metric {
        Metric::Fpr => match class {
            Class::FalsePositive => Some(true),
            Class::TrueNegative => Some(false),
            _ => None,
        },
        Metric::Asr | Metric::DetectionRate => match class {
            Class::AttackSuccess => Some(metric == Metric::Asr),
            Class::Detected => Some(metric == Metric::DetectionRate),
            _ => None,
        },
        Metric::ErrorRate => Some(r.decision.is_none()),
        _ => return None,
    })
}

fn worse_for(metric: Metric) -> Worse {
    match metric {
        Metric::DetectionRate => Worse::Lower,
        _ => Worse::Higher,
    }
}

/// The rates a diff compares: the four headline rates, then each blocking
/// gate whose metric is one of them.
fn rates_to_compare(b: &Verdict) -> Vec<(String, Metric, Filter, bool)> {
    let headline = [Metric::Fpr, Metric::Asr, Metric::DetectionRate, Metric::ErrorRate];
    let mut out: Vec<(String, Metric, Filter, bool)> =
        headline.iter().map(|&m| (metric_name(m).to_string(), m, Filter::default(), false)).collect();
    for g in b.gates.iter().filter(|g| g.blocking && headline.contains(&g.metric)) {
        out.push((format!("gate:{}", g.id), g.metric, g.filter.clone(), true));
    }
    out
}

pub fn metric_name(m: Metric) -> &'static str {
    match m {
        Metric::Fpr => "fpr",
        Metric::Asr => "asr",
        Metric::DetectionRate => "detection-rate",
        Metric::ErrorRate => "error-rate",
        Metric::EvasionRate => "evasion-rate",
        _ => "other",
    }
}

/// A case's identity for pairing: its id and what was sent.
fn input_key(r: &CaseResult) -> String {
    serde_json::to_string(&r.input).unwrap_or_default()
}

/// Compares run `b` against the base run `a`.
pub fn compare(a: &RunData, b: &RunData, tolerance: f64) -> Result<Diff, Incomparable> {
    let policy = b.verdict.run.counting;
    if a.verdict.run.counting != policy {
        return Err(Incomparable(
            "the runs count outcomes differently ([counting] in gauntlet.toml): their rates mean different things"
                .into(),
        ));
    }
    let by_id: HashMap<&str, &CaseResult> = a.results.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut overlap = Overlap::default();
    let mut pairs: Vec<(&CaseResult, &CaseResult)> = Vec::new();
    for rb in b.results {
        match by_id.get(rb.id.as_str()) {
            Some(ra) if input_key(ra) == input_key(rb) => pairs.push((ra, rb)),
            Some(_) => overlap.same_id_other_input += 1,
            None => {}
        }
    }
    overlap.shared = pairs.len() as u64;
    overlap.only_a = a.results.len() as u64 - overlap.shared;
    overlap.only_b = b.results.len() as u64 - overlap.shared;
    if overlap.shared == 0 && !(a.results.is_empty() && b.results.is_empty()) {
        return Err(Incomparable(
            "the runs share no case (same id and input): a diff compares runs on the same corpora".into(),
        ));
    }

    let wanted = rates_to_compare(b.verdict);
    let judged_count = wanted.iter().filter(|w| w.3).count();
    let judged_confidence = 1.0 - 0.05 / judged_count.max(1) as f64;
    let mut rates = Vec::new();
    let mut regressions = Vec::new();
    for (id, metric, filter, judged) in wanted {
        let confidence = if judged { judged_confidence } else { 0.95 };
        let rate = rate_diff(&id, metric, &filter, judged, confidence, tolerance, &policy, a, b, &pairs);
        if rate.regression {
            regressions.push(rate.id.clone());
        }
        rates.push(rate);
    }
    rates.extend(evasion_rows(a.verdict, b.verdict));
    let lat = |v: &Verdict| {
        let l = &v.metrics.overall.latency;
        [l.p50, l.p95, l.p99]
    };
    Ok(Diff {
        schema: DIFF_SCHEMA.into(),
        a: side(a),
        b: side(b),
        changed: what_changed(a.verdict, b.verdict),
        cases: overlap,
        tolerance,
        judged_confidence,
        rates,
        latency: LatencyDiff { a: lat(a.verdict), b: lat(b.verdict) },
        // Originals only: a transform's variants are summed up per chain in `rates`.
        flips: flips(&pairs.iter().filter(|(_, rb)| rb.transform.is_none()).copied().collect::<Vec<_>>(), &policy),
        exit_code: Outcome::failed_if(!regressions.is_empty()).code(),
        regressions,
    })
}

fn side(r: &RunData) -> RunSide {
    RunSide {
        path: r.path.clone(),
        verdict: r.verdict.verdict.as_str().to_string(),
        cases: r.results.len() as u64,
        target: r.verdict.run.target.description.clone(),
        finished_at: r.verdict.run.finished_at.clone(),
        git_commit: r.verdict.run.git_commit.clone(),
    }
}

/// Counts a rate over one run's results: (numerator, denominator).
fn count(metric: Metric, filter: &Filter, policy: &CountingPolicy, results: &[CaseResult]) -> (u64, u64) {
    results
        .iter()
        .filter(|r| filter.matches(r))
        .filter_map(|r| indicator(metric, policy, r).flatten())
        .fold((0, 0), |(x, n), hit| (x + u64::from(hit), n + 1))
}

#[allow(clippy::too_many_arguments)]
fn rate_diff(
    id: &str,
    metric: Metric,
    filter: &Filter,
    judged: bool,
    confidence: f64,
    tolerance: f64,
    policy: &CountingPolicy,
    a: &RunData,
    b: &RunData,
    pairs: &[(&CaseResult, &CaseResult)],
) -> RateDiff {
    let (xa, na) = count(metric, filter, policy, a.results);
    let (xb, nb) = count(metric, filter, policy, b.results);
    let (mut both, mut only_a, mut only_b, mut neither) = (0u64, 0u64, 0u64, 0u64);
    for (ra, rb) in pairs.iter().filter(|(_, rb)| filter.matches(rb)) {
        if let (Some(Some(ha)), Some(Some(hb))) = (indicator(metric, policy, ra), indicator(metric, policy, rb)) {
            match (ha, hb) {
                (true, true) => both += 1,
                (true, false) => only_a += 1,
                (false, true) => only_b += 1,
                (false, false) => neither += 1,
            }
        }
    }
    let paired_cases = both + only_a + only_b + neither;
    let paired = (paired_cases > 0).then(|| Paired {
        cases: paired_cases,
        both,
        only_a,
        only_b,
        neither,
        p_value: mcnemar_exact(only_a, only_b),
        interval: paired_difference_interval(both, only_b, only_a, neither, confidence).map(|(l, h)| [l, h]),
    });
    // Paired only when every case of both denominators is a shared one.
    let all_paired = paired_cases == na && paired_cases == nb;
    let (interval_kind, interval) = if all_paired {
        (IntervalKind::Paired, paired.as_ref().and_then(|p| p.interval))
    } else {
        (IntervalKind::Unpaired, difference_interval(xb, nb, xa, na, confidence).map(|(l, h)| [l, h]))
    };
    let worse = worse_for(metric);
    let regression = judged
        && interval.is_some_and(|[low, high]| match worse {
            Worse::Higher => low > tolerance,
            Worse::Lower => high < -tolerance,
        });
    let display = CountingPolicy { confidence: 0.95, ..*policy };
    let (ra, rb) = (Rate::new(xa, na, &display), Rate::new(xb, nb, &display));
    RateDiff {
        id: id.to_string(),
        metric,
        filter: filter.clone(),
        judged,
        worse,
        difference: rb.value.zip(ra.value).map(|(vb, va)| vb - va),
        a: ra,
        b: rb,
        paired,
        interval_kind,
        interval,
        confidence,
        regression,
    }
}

/// Each transform chain both runs measured: its evasion rate in A and B,
/// shown (unpaired Newcombe interval on each run's pairs), never judged:
/// the robustness of a gate is reported, its blocking gates decide.
fn evasion_rows(a: &Verdict, b: &Verdict) -> Vec<RateDiff> {
    b.metrics
        .by_transform
        .iter()
        .filter_map(|(chain, sb)| {
            let sa = a.metrics.by_transform.get(chain)?;
            let (ra, rb) = (&sa.evasion_rate, &sb.evasion_rate);
            Some(RateDiff {
                id: format!("evasion:{chain}"),
                metric: Metric::EvasionRate,
                filter: Filter { transform: Some(chain.clone()), ..Filter::default() },
                judged: false,
                worse: Worse::Higher,
                difference: rb.value.zip(ra.value).map(|(vb, va)| vb - va),
                paired: None,
                interval_kind: IntervalKind::Unpaired,
                interval: difference_interval(rb.numerator, rb.denominator, ra.numerator, ra.denominator, 0.95)
                    .map(|(l, h)| [l, h]),
                confidence: 0.95,
                regression: false,
                a: *ra,
                b: *rb,
            })
        })
        .collect()
}

/// Plain statements of what differs between the runs' inputs.
fn what_changed(a: &Verdict, b: &Verdict) -> Vec<String> {
    let (ha, hb) = (&a.run.hashes, &b.run.hashes);
    let mut out = Vec::new();
    if a.run.target.description != b.run.target.description {
        out.push(format!("target: {} → {}", a.run.target.description, b.run.target.description));
    } else if ha.target != hb.target {
        out.push(format!(
            "target {} changed (its rules, settings or version; hash {} → {})",
            a.run.target.description,
            short(&ha.target),
            short(&hb.target)
        ));
    }
    for (what, x, y) in
        [("config", &ha.config, &hb.config), ("corpora", &ha.corpora, &hb.corpora), ("gates", &ha.gates, &hb.gates)]
    {
        if x != y {
            out.push(format!("{what} changed (hash {} → {})", short(x), short(y)));
        }
    }
    if a.run.lane != b.run.lane {
        out.push(format!("lane: {:?} → {:?}", a.run.lane, b.run.lane).to_lowercase());
    }
    if a.run.tool_version != b.run.tool_version {
        out.push(format!("gauntlet: {} → {}", a.run.tool_version, b.run.tool_version));
    }
    out
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// Shared cases whose outcome changed, sorted: most flipped categories
/// first, then by id.
fn flips(pairs: &[(&CaseResult, &CaseResult)], policy: &CountingPolicy) -> Flips {
    let mut kinds: [Vec<(&CaseResult, &CaseResult)>; 6] = Default::default();
    for &(ra, rb) in pairs {
        let (ca, cb) = (policy.classify(ra), policy.classify(rb));
        let kind = match (ra.decision.is_some(), rb.decision.is_some()) {
            (true, false) => Some(2),
            (false, true) => Some(5),
            _ => match (ca, cb) {
                (Class::Detected, Class::AttackSuccess) => Some(0),
                (Class::TrueNegative, Class::FalsePositive) => Some(1),
                (Class::AttackSuccess, Class::Detected) => Some(3),
                (Class::FalsePositive, Class::TrueNegative) => Some(4),
                _ => None,
            },
        };
        if let Some(k) = kind {
            kinds[k].push((ra, rb));
        }
    }
    let [a0, a1, a2, a3, a4, a5] = kinds.map(flip_list);
    Flips {
        attacks_newly_allowed: a0,
        benign_newly_blocked: a1,
        new_errors: a2,
        attacks_newly_stopped: a3,
        benign_newly_allowed: a4,
        errors_resolved: a5,
    }
}

fn flip_list(mut cases: Vec<(&CaseResult, &CaseResult)>) -> FlipList {
    let mut per_category: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, rb) in &cases {
        *per_category.entry(&rb.category).or_default() += 1;
    }
    cases.sort_by(|(_, x), (_, y)| {
        per_category[&*y.category]
            .cmp(&per_category[&*x.category])
            .then_with(|| x.category.cmp(&y.category))
            .then_with(|| x.id.cmp(&y.id))
    });
    FlipList {
        count: cases.len() as u64,
        cases: cases
            .iter()
            .take(FLIPS_KEPT)
            .map(|(ra, rb)| FlippedCase {
                id: rb.id.clone(),
                category: rb.category.to_string(),
                dataset: rb.dataset.to_string(),
                label: rb.label,
                a: ra.decision,
                b: rb.decision,
                input: crate::text::truncate_chars(&rb.input.display_text(), TEXT_KEPT).0,
            })
            .collect(),
    }
}

/// The JSON Schema of `diff.json`.
pub fn diff_schema() -> schemars::Schema {
    schemars::schema_for!(Diff)
}
