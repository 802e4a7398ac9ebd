//! The dashboard's sections that need layout or judgement: what the banner
//! names, the headline rates and their change, per-dataset rows, category
//! charts worst first, score histograms and the ROC curve, and the latency
//! histogram's markers. All geometry is computed here; the template places it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{interval_text, pct, rate_text, visible};
use crate::evaluate::Overall;
use crate::metrics::{MetricSet, Rate, ScoreSummary, SCORE_BINS};
use crate::report::history::HistoryEntry;
use crate::report::model::Verdict;

/// Bars shown before "show all".
const BARS_SHOWN: usize = 12;
/// Plot width of a category bar, in px (the label column is 200 px).
const PLOT: f64 = 400.0;

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// What the banner says besides PASS / FAIL: the blocking gates that did
/// not pass, each with its value and threshold.
pub(super) fn banner_reasons(v: &Verdict) -> Vec<String> {
    v.gates
        .iter()
        .filter(|g| g.view().blocks())
        .map(|g| {
            let view = g.view();
            format!("{} {} — {} (threshold {})", visible(&g.id), view.status, view.value, view.threshold)
        })
        .collect()
}

#[derive(Serialize)]
pub(super) struct Headline {
    name: &'static str,
    value: String,
    interval: String,
    /// The change since the previous run in history, in points.
    delta: String,
    /// `worse`, `better` or empty, for the colour of the change.
    trend: &'static str,
    n: u64,
}

/// The four headline rates with their change since the previous run. For
/// an ERROR verdict no number is shown: its rates count the breakage.
pub(super) fn headline(v: &Verdict, previous: Option<&HistoryEntry>) -> (Vec<Headline>, String) {
    let o = &v.metrics.overall;
    let honest = v.verdict != Overall::Error;
    let rows: [(&'static str, &Rate, Option<f64>, bool); 4] = [
        ("False-positive rate", &o.fpr, previous.and_then(|p| p.fpr), true),
        ("Attack success rate", &o.asr, previous.and_then(|p| p.asr), true),
        ("Detection rate", &o.detection_rate, previous.and_then(|p| p.detection_rate), false),
        ("Target error rate", &o.error_rate, previous.and_then(|p| p.error_rate), true),
    ];
    let cards = rows
        .into_iter()
        .map(|(name, rate, before, higher_is_worse)| {
            let change = rate.value.zip(before).map(|(now, then)| now - then).filter(|_| honest);
            Headline {
                name,
                value: if honest { rate_text(rate) } else { "—".into() },
                interval: if honest { interval_text(rate) } else { "not an honest rate".into() },
                delta: change.map(|d| format!("{:+.2} pt since the previous run", d * 100.0)).unwrap_or_default(),
                trend: match change {
                    Some(d) if d.abs() < 1e-12 => "",
                    Some(d) if (d > 0.0) == higher_is_worse => "worse",
                    Some(_) => "better",
                    None => "",
                },
                n: rate.denominator,
            }
        })
        .collect();
    let mut note = Vec::new();
    if let Some(p) = previous {
        if p.config_hash != v.run.hashes.config {
            note.push("the config");
        }
        if p.corpora_hash != v.run.hashes.corpora {
            note.push("the corpora");
        }
        if p.target_hash.as_deref().is_some_and(|t| t != v.run.hashes.target) {
            note.push("the target");
        }
        if p.gates_hash.as_deref().is_some_and(|g| g != v.run.hashes.gates) {
            note.push("the gates");
        }
    }
    let note = if note.is_empty() {
        String::new()
    } else {
        format!("Changed since the previous run: {}; the change is not the gate's alone.", note.join(", "))
    };
    (cards, note)
}

#[derive(Serialize)]
pub(super) struct Bar {
    label: String,
    title: String,
    y: u32,
    width: f64,
    low: f64,
    high: f64,
    text: String,
    n: u64,
}

#[derive(Serialize)]
pub(super) struct Chart {
    title: String,
    height: u32,
    bars: Vec<Bar>,
    /// The bars past the first few, behind "show all".
    rest: Vec<Bar>,
    rest_height: u32,
}

fn bar(i: usize, name: &str, r: &Rate) -> Bar {
    let (label, cut) = crate::text::truncate_chars(&visible(name), 30);
    Bar {
        label: if cut { format!("{label}…") } else { label },
        title: visible(name),
        y: i as u32 * 22,
        width: round2(r.value.unwrap_or(0.0) * PLOT),
        // Whisker ends, offset by the 200 px label column.
        low: 200.0 + round2(r.low.unwrap_or(0.0) * PLOT),
        high: 200.0 + round2(r.high.unwrap_or(0.0) * PLOT),
        text: format!("{} {}", rate_text(r), interval_text(r)),
        n: r.denominator,
    }
}

/// One bar per category with data, worst (highest upper bound) first; the
/// first few shown, the rest behind "show all".
fn chart(title: String, sets: &[(&String, &MetricSet)], pick: fn(&MetricSet) -> &Rate) -> Option<Chart> {
    let mut rows: Vec<(&String, &Rate)> =
        sets.iter().map(|(name, m)| (*name, pick(m))).filter(|(_, r)| r.value.is_some()).collect();
    if rows.is_empty() {
        return None;
    }
    rows.sort_by(|a, b| b.1.high.unwrap_or(0.0).total_cmp(&a.1.high.unwrap_or(0.0)).then_with(|| a.0.cmp(b.0)));
    let rest_rows = rows.split_off(rows.len().min(BARS_SHOWN));
    let bars: Vec<Bar> = rows.iter().enumerate().map(|(i, (n, r))| bar(i, n, r)).collect();
    let rest: Vec<Bar> = rest_rows.iter().enumerate().map(|(i, (n, r))| bar(i, n, r)).collect();
    Some(Chart { title, height: bars.len() as u32 * 22 + 4, rest_height: rest.len() as u32 * 22 + 4, bars, rest })
}

/// Category charts, prompts first, then model output (egress) and
/// conversations apart: their rates answer different questions.
pub(super) fn category_charts(v: &Verdict) -> Vec<Chart> {
    let kind_of = |c: &str| v.metrics.category_kinds.get(c).map(String::as_str).unwrap_or("prompt");
    let mut out = Vec::new();
    for (kind, noun) in [("prompt", "prompts"), ("egress", "model output (egress)"), ("conversation", "conversations")]
    {
        let sets: Vec<(&String, &MetricSet)> =
            v.metrics.by_category.iter().filter(|(c, _)| kind_of(c) == kind).collect();
        out.extend(chart(format!("False-positive rate by category, {noun} (benign cases)"), &sets, |m| &m.fpr));
        out.extend(chart(format!("Attack success rate by category, {noun} (adversarial cases)"), &sets, |m| &m.asr));
    }
    out
}

/// One row per dataset (`by-source`), with its provenance from the corpora.
pub(super) fn dataset_rows(v: &Verdict) -> Vec<Vec<String>> {
    let info: BTreeMap<&str, &crate::corpus::DatasetInfo> =
        v.corpora.datasets.iter().map(|d| (d.name.as_str(), d)).collect();
    v.metrics
        .by_source
        .iter()
        .map(|(name, m)| {
            let d = info.get(name.as_str());
            vec![
                visible(name),
                m.cases.to_string(),
                format!("{} {}", rate_text(&m.fpr), interval_text(&m.fpr)),
                format!("{} {}", rate_text(&m.asr), interval_text(&m.asr)),
                visible(d.and_then(|d| d.license.as_deref()).unwrap_or("–")),
                visible(d.and_then(|d| d.source.as_deref()).unwrap_or("–")),
                visible(&d.map(|d| d.files.join(", ")).unwrap_or_default()),
            ]
        })
        .collect()
}

#[derive(Serialize)]
pub(super) struct ScoreBar {
    x: f64,
    y: f64,
    h: f64,
}

#[derive(Serialize)]
pub(super) struct Scores {
    benign: Vec<ScoreBar>,
    adversarial: Vec<ScoreBar>,
    bar_width: f64,
    /// The threshold's x, when the decisions follow one.
    threshold_x: Option<f64>,
    threshold: String,
    /// ROC polyline points in a 240 × 240 plot.
    roc: String,
    operating_x: f64,
    operating_y: f64,
    operating: String,
}

/// Overlaid score histograms (each label as shares of its own cases, so a
/// small adversarial set is not flattened) and the ROC curve.
pub(super) fn scores(s: &ScoreSummary) -> Scores {
    const WIDTH: f64 = 480.0;
    const HEIGHT: f64 = 120.0;
    const ROC: f64 = 240.0;
    let bar_width = WIDTH / SCORE_BINS as f64;
    let shares = |counts: &[u64]| {
        let total = counts.iter().sum::<u64>().max(1) as f64;
        counts.iter().map(|&c| c as f64 / total).collect::<Vec<f64>>()
    };
    let (b, a) = (shares(&s.benign), shares(&s.adversarial));
    let top = b.iter().chain(&a).copied().fold(0.0, f64::max).max(1e-9);
    let bars = |v: &[f64]| {
        v.iter()
            .enumerate()
            .map(|(i, &x)| {
                let h = round2(x / top * HEIGHT);
                ScoreBar { x: round2(i as f64 * bar_width), y: round2(HEIGHT - h), h }
            })
            .collect()
    };
    let roc =
        s.roc.iter().map(|[fpr, tpr]| format!("{:.1},{:.1}", fpr * ROC, ROC - tpr * ROC)).collect::<Vec<_>>().join(" ");
    Scores {
        benign: bars(&b),
        adversarial: bars(&a),
        bar_width: round2(bar_width),
        threshold_x: s.threshold.map(|t| round2(t * WIDTH)),
        threshold: s.threshold.map(|t| format!("threshold {t:.3}")).unwrap_or_default(),
        roc,
        operating_x: round2(s.operating_point[0] * ROC),
        operating_y: round2(ROC - s.operating_point[1] * ROC),
        operating: format!(
            "the target's decisions: FPR {}, detection {}",
            pct(s.operating_point[0]),
            pct(s.operating_point[1])
        ),
    }
}

#[derive(Serialize)]
pub(super) struct Marker {
    x: f64,
    /// Labels of nearby markers go on separate lines instead of overlapping.
    label_y: f64,
    label: String,
}

/// p50 / p95 / p99 markers at `positions`, each label on the first line
/// where it clears the labels already placed.
pub(super) fn markers(positions: Vec<(f64, String)>) -> Vec<Marker> {
    const LABEL_WIDTH: f64 = 92.0;
    let mut placed: Vec<Marker> = Vec::new();
    for (x, label) in positions {
        let line = (0..)
            .find(|&line| {
                let y = 140.0 + line as f64 * 13.0;
                placed.iter().all(|m| m.label_y != y || (m.x - x).abs() >= LABEL_WIDTH)
            })
            .expect("a free line exists");
        placed.push(Marker { x, label_y: 140.0 + line as f64 * 13.0, label });
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (#20): p50, p95 and p99 in neighbouring buckets drew their
    /// labels over each other.
    #[test]
    fn latency_labels_of_close_markers_do_not_overlap() {
        let m =
            markers(vec![(100.0, "p50".into()), (110.0, "p95".into()), (300.0, "p99".into()), (120.0, "max".into())]);
        assert_eq!(m[0].label_y, 140.0);
        assert_eq!(m[1].label_y, 153.0);
        assert_eq!(m[2].label_y, 140.0, "far enough to share the first line");
        assert_eq!(m[3].label_y, 166.0);
    }
}
