//! `calibration.html` and `calibration.md` for the monthly review, rendered
//! from the calibration model; escaped like the dashboard.

use std::fmt::Write;

use serde::Serialize;

use super::html::visible;
use super::markdown::md_escape;
use crate::calibrate::{Calibration, OperatingPoint};
use crate::metrics::interval::percent_label;
use crate::metrics::Rate;

const TEMPLATE: &str = include_str!("templates/calibration.html.tera");

fn rate(r: &Rate) -> String {
    match (r.value, r.low, r.high) {
        (Some(v), Some(l), Some(h)) => format!("{:.2}% [{:.2}%, {:.2}%]", v * 100.0, l * 100.0, h * 100.0),
        _ => "no data".into(),
    }
}

fn threshold(p: &OperatingPoint) -> String {
    p.threshold.map(|t| format!("{t}")).unwrap_or_else(|| "decisions".into())
}

#[derive(Serialize)]
struct Row {
    cells: Vec<String>,
    bad: bool,
}

#[derive(Serialize)]
struct Marker {
    x: f64,
    y: f64,
}

#[derive(Serialize)]
struct View {
    generated_at: String,
    source: String,
    recommendation: Vec<String>,
    roc_points: String,
    current_marker: Option<Marker>,
    auc: String,
    targets: Vec<Vec<String>>,
    categories: Vec<Vec<String>>,
    comparisons: Vec<Row>,
    has_baseline: bool,
    regression: bool,
    flips: Vec<Row>,
    flips_note: String,
    added: String,
    removed: String,
}

fn view(c: &Calibration) -> View {
    let size = 300.0;
    let roc_points = c
        .roc
        .as_ref()
        .map(|r| {
            let mut pts: Vec<String> = vec!["0.0,300.0".into()];
            pts.extend(r.points.iter().map(|p| format!("{:.1},{:.1}", p.fpr * size, size - p.detection_rate * size)));
            pts.join(" ")
        })
        .unwrap_or_default();
    let current_marker =
        c.current.fpr.value.zip(c.current.detection_rate.value).map(|(f, d)| Marker {
            x: ((f * size) * 10.0).round() / 10.0,
            y: ((size - d * size) * 10.0).round() / 10.0,
        });
    let auc = c
        .roc
        .as_ref()
        .and_then(|r| r.auc.zip(r.auc_interval))
        .map(|(a, [l, h])| format!("AUC {a:.4} [{l:.4}, {h:.4}] (DeLong {})", percent_label(c.confidence)))
        .unwrap_or_else(|| "AUC: no data".into());
    let targets = c
        .targets
        .iter()
        .map(|t| match &t.point {
            Some(p) => vec![
                format!("{:.0}%", t.target_fpr * 100.0),
                threshold(p),
                rate(&p.fpr),
                rate(&p.asr),
                t.vs_current_p.map(|v| format!("{v:.3}")).unwrap_or_else(|| "–".into()),
                visible(&t.note),
            ],
            None => vec![
                format!("{:.0}%", t.target_fpr * 100.0),
                "–".into(),
                "–".into(),
                "–".into(),
                "–".into(),
                visible(&t.note),
            ],
        })
        .collect();
    let categories = c
        .categories
        .iter()
        .map(|k| {
            vec![
                visible(&k.category),
                k.benign.to_string(),
                k.adversarial.to_string(),
                k.auc.map(|a| format!("{a:.3}")).unwrap_or_else(|| "–".into()),
                rate(&k.current.fpr),
                rate(&k.current.asr),
                k.recommended.as_ref().map(|p| rate(&p.fpr)).unwrap_or_else(|| "–".into()),
                k.recommended.as_ref().map(|p| rate(&p.asr)).unwrap_or_else(|| "–".into()),
            ]
        })
        .collect();
    let (comparisons, regression, flips, flips_note, added, removed) = match &c.baseline {
        Some(b) => (
            b.comparisons
                .iter()
                .map(|x| Row {
                    cells: vec![
                        visible(&x.scope),
                        x.metric.clone(),
                        rate(&x.baseline),
                        rate(&x.current),
                        x.difference_interval
                            .zip(x.difference)
                            .map(|([l, h], d)| format!("{:+.2} pp [{:+.2}, {:+.2}]", d * 100.0, l * 100.0, h * 100.0))
                            .unwrap_or_else(|| "–".into()),
                        format!("{:?}", x.test),
                        format!("{:.4}", x.p_value),
                        format!("{:.4}", x.p_adjusted),
                    ],
                    bad: x.regression,
                })
                .collect(),
            Some(b.regression_detected),
            b.flips
                .iter()
                .map(|f| {
                    let d = |d: Option<crate::corpus::Decision>| {
                        d.map(|d| d.as_str().to_string()).unwrap_or_else(|| "error".into())
                    };
                    Row {
                        cells: vec![
                            visible(&f.id),
                            f.label.as_str().into(),
                            visible(&f.category),
                            format!("{} → {}", d(f.before), d(f.after)),
                            visible(&f.text),
                            visible(&f.reasons.join(", ")),
                        ],
                        bad: f.worse,
                    }
                })
                .collect(),
            format!("{} flips ({} shown); worse ones first", b.flips_total, b.flips.len()),
            format!("{} added: {}", b.added_total, visible(&b.added.join(", "))),
            format!("{} removed: {}", b.removed_total, visible(&b.removed.join(", "))),
        ),
        None => (Vec::new(), None, Vec::new(), String::new(), String::new(), String::new()),
    };
    View {
        generated_at: c.generated_at.clone(),
        source: visible(&c.source),
        recommendation: c.recommendation.lines().map(visible).collect(),
        roc_points,
        current_marker,
        auc,
        targets,
        categories,
        comparisons,
        has_baseline: regression.is_some(),
        regression: regression.unwrap_or(false),
        flips,
        flips_note,
        added,
        removed,
    }
}

pub fn render_html(c: &Calibration) -> Result<String, String> {
    let mut tera = tera::Tera::default();
    tera.add_raw_template("calibration.html", TEMPLATE).map_err(|e| e.to_string())?;
    let ctx = tera::Context::from_serialize(&view(c)).map_err(|e| e.to_string())?;
    tera.render("calibration.html", &ctx).map_err(|e| e.to_string())
}

pub fn render_markdown(c: &Calibration) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Calibration review\n\nSource: {}\n", md_escape(&c.source));
    for line in c.recommendation.lines() {
        let _ = writeln!(out, "- {}", md_escape(line));
    }
    if let Some(r) = &c.roc {
        if let (Some(a), Some([l, h])) = (r.auc, r.auc_interval) {
            let _ = writeln!(
                out,
                "\nAUC {a:.4} [{l:.4}, {h:.4}] over {} benign and {} adversarial cases ({} unscored).",
                r.benign, r.adversarial, r.unscored
            );
        }
    }
    if !c.targets.is_empty() {
        out.push_str("\n| Target FPR | Threshold | FPR | ASR | vs current (McNemar p) |\n|---|---|---|---|---|\n");
        for t in &c.targets {
            match &t.point {
                Some(p) => {
                    let _ = writeln!(
                        out,
                        "| {:.0}% | {} | {} | {} | {} |",
                        t.target_fpr * 100.0,
                        threshold(p),
                        rate(&p.fpr),
                        rate(&p.asr),
                        t.vs_current_p.map(|v| format!("{v:.3}")).unwrap_or_else(|| "–".into())
                    );
                }
                None => {
                    let _ = writeln!(out, "| {:.0}% | – | – | – | {} |", t.target_fpr * 100.0, md_escape(&t.note));
                }
            }
        }
    }
    if let Some(b) = &c.baseline {
        let _ = writeln!(
            out,
            "\n### Against the baseline ({})\n\nRegression detected: **{}** (Holm-adjusted p < 0.05 and worse by more than {:.1} pp).\n",
            md_escape(&b.source),
            if b.regression_detected { "yes" } else { "no" },
            b.tolerance * 100.0
        );
        for x in b.comparisons.iter().filter(|x| x.regression) {
            let _ = writeln!(
                out,
                "- {} {}: {} → {} (adjusted p {:.4})",
                md_escape(&x.scope),
                x.metric,
                rate(&x.baseline),
                rate(&x.current),
                x.p_adjusted
            );
        }
        let _ = writeln!(
            out,
            "\nFlips: {} (worse first). Corpus drift: {} added, {} removed.",
            b.flips_total, b.added_total, b.removed_total
        );
        for f in b.flips.iter().take(10) {
            let (text, _) = crate::text::truncate_chars(&f.text, 120);
            let _ = writeln!(
                out,
                "- {} ({}): {:?} → {:?}: {}",
                md_escape(&f.id),
                f.label.as_str(),
                f.before,
                f.after,
                md_escape(&text)
            );
        }
    }
    out
}
