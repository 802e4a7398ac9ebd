//! `dashboard.html`: one self-contained page (inline CSS, SVG, a few lines of
//! script, nothing fetched), rendered by tera from a view built here.
//!
//! All computing happens in [`DashboardView::build`]: numbers are formatted
//! and chart geometry laid out in Rust, so the template only places values.
//! Every string from the run goes through tera's HTML autoescaping; on top,
//! bidi and zero-width characters are made visible ([`visible`]) so a case
//! cannot reorder or hide the text around it. A Content-Security-Policy
//! allows only the page's own script (by hash) and no network at all.

use serde::Serialize;
use sha2::Digest;

use super::history::HistoryEntry;
use super::model::{CaseSamples, GateReport, Verdict};
use crate::evaluate::status_name;
use crate::metrics::Rate;
use crate::text::is_dangerous;

mod sections;

const TEMPLATE: &str = include_str!("../templates/dashboard.html.tera");
const SCRIPT: &str = include_str!("../templates/dashboard.js");
/// Case text longer than this is cut, with the rest behind a <details>.
const SHORT_TEXT: usize = 240;

/// Replaces characters that change how surrounding text displays with a
/// visible marker, e.g. `⟨U+202E⟩`.
pub fn visible(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_dangerous(c) && c != '\n' && c != '\t' {
            out.push_str(&format!("⟨U+{:04X}⟩", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn pct(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

fn rate_text(r: &Rate) -> String {
    match r.value {
        Some(v) => pct(v),
        None => "no data".into(),
    }
}

fn interval_text(r: &Rate) -> String {
    match (r.low, r.high) {
        (Some(l), Some(h)) => format!("[{}, {}]", pct(l), pct(h)),
        _ => "–".into(),
    }
}

#[derive(Serialize)]
struct GateRow {
    id: String,
    description: String,
    status: &'static str,
    blocking: bool,
    value: String,
    interval: String,
    threshold: String,
    samples: u64,
    mode: String,
    note: String,
    /// The whole detail (a golden diff, every failing reason), shown on hover.
    detail: String,
}

#[derive(Serialize)]
struct HistBar {
    x: f64,
    y: f64,
    h: f64,
    label: String,
    count: u64,
}

#[derive(Serialize)]
struct Latency {
    bars: Vec<HistBar>,
    markers: Vec<sections::Marker>,
    bar_width: f64,
    summary: String,
}

#[derive(Serialize)]
struct CaseRow {
    id: String,
    category: String,
    short: String,
    rest: String,
    truncated: bool,
    decision: String,
    score: String,
    reasons: String,
}

#[derive(Serialize)]
struct CaseGroup {
    title: &'static str,
    total: u64,
    shown: usize,
    more: u64,
    rows: Vec<CaseRow>,
}

#[derive(Serialize)]
struct Trend {
    title: &'static str,
    points: String,
    last: String,
    max: String,
}

#[derive(Serialize)]
struct SimpleRow {
    cells: Vec<String>,
    class: String,
}

#[derive(Serialize)]
pub struct DashboardView {
    verdict: String,
    verdict_upper: String,
    /// Said under the banner when nothing in the run can block.
    notice: String,
    lane: String,
    commit: String,
    date: String,
    target: String,
    tool: String,
    /// The blocking gates that did not pass, named in the banner.
    banner_reasons: Vec<String>,
    /// Whether the rates are honest (not an ERROR verdict).
    honest: bool,
    aborted: String,
    /// target-stderr.log has content: linked from the banner.
    stderr_log: bool,
    headline: Vec<sections::Headline>,
    headline_note: String,
    cases: u64,
    benign: u64,
    adversarial: u64,
    errors: u64,
    gates: Vec<GateRow>,
    /// The run's confidence as printed above every interval column (`95%`).
    confidence: String,
    datasets: Vec<SimpleRow>,
    charts: Vec<sections::Chart>,
    robustness: Vec<SimpleRow>,
    scores: Option<sections::Scores>,
    confusion: Vec<SimpleRow>,
    latency: Latency,
    failing: Vec<CaseGroup>,
    directions: Vec<SimpleRow>,
    detectors: Vec<SimpleRow>,
    leak_kinds: Vec<SimpleRow>,
    matrix_columns: Vec<String>,
    matrix: Vec<SimpleRow>,
    weighted_cost: String,
    waivers: Vec<SimpleRow>,
    fixtures: Vec<SimpleRow>,
    golden: Vec<SimpleRow>,
    trends: Vec<Trend>,
    production: Option<Production>,
    load: Option<LoadView>,
    attack: Option<AttackView>,
    script: &'static str,
    script_hash: String,
}

fn gate_row(g: &GateReport) -> GateRow {
    let view = g.view();
    GateRow {
        id: visible(&g.id),
        description: visible(&g.description),
        status: view.status,
        blocking: g.blocking,
        value: view.value,
        interval: view.interval.unwrap_or_else(|| "–".into()),
        threshold: view.threshold,
        samples: g.samples,
        mode: format!("{:?}", g.mode).to_lowercase(),
        note: visible(&view.note),
        // The note is the detail's first line; the rest, when there is more, on hover.
        detail: if g.detail.contains('\n') { visible(&g.detail) } else { String::new() },
    }
}

fn latency_view(v: &Verdict) -> Latency {
    let h = &v.metrics.latency_histogram;
    let width = 640.0;
    let n = h.counts.len().max(1) as f64;
    let bar_width = ((width / n) * 100.0).floor() / 100.0;
    let max = h.counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let bars = h
        .counts
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let height = ((c as f64 / max) * 120.0 * 100.0).round() / 100.0;
            HistBar {
                x: (i as f64 * bar_width * 100.0).round() / 100.0,
                y: ((120.0 - height) * 100.0).round() / 100.0,
                h: height,
                label: format!("< {} µs", h.upper_us[i]),
                count: c,
            }
        })
        .collect();
    let l = &v.metrics.overall.latency;
    let position = |us: u64| {
        // Bucket i holds [2^(i-1), 2^i): place the marker inside its bucket.
        let bucket = (64 - us.leading_zeros()) as f64;
        ((bucket + 0.5) * bar_width * 100.0).round() / 100.0
    };
    let markers = sections::markers(
        [("p50", l.p50), ("p95", l.p95), ("p99", l.p99)]
            .into_iter()
            .filter_map(|(name, v)| v.map(|v| (position(v), format!("{name} {v} µs"))))
            .collect(),
    );
    let summary = match (l.p50, l.p95, l.p99, l.max) {
        (Some(a), Some(b), Some(c), Some(d)) => {
            format!("p50 {a} µs · p95 {b} µs · p99 {c} µs · max {d} µs over {} cases", l.count)
        }
        _ => "no latency data".into(),
    };
    Latency { bars, markers, bar_width, summary }
}

fn case_group(title: &'static str, s: &CaseSamples) -> CaseGroup {
    let rows = s
        .shown
        .iter()
        .map(|c| {
            let text = visible(&c.text);
            let (short, cut) = crate::text::truncate_chars(&text, SHORT_TEXT);
            let rest = if cut { text[short.len()..].to_string() } else { String::new() };
            CaseRow {
                id: visible(&c.id),
                category: visible(&c.category),
                short,
                rest,
                truncated: cut || c.truncated,
                decision: match (&c.decision, &c.error) {
                    (Some(d), _) => d.as_str().to_string(),
                    (None, Some(e)) => format!("error: {}", visible(&e.message)),
                    _ => "error".into(),
                },
                score: c.score.map(|s| format!("{s:.3}")).unwrap_or_else(|| "–".into()),
                reasons: visible(&c.reasons.join(", ")),
            }
        })
        .collect::<Vec<_>>();
    CaseGroup { title, total: s.total, shown: rows.len(), more: s.total - rows.len() as u64, rows }
}

fn trend(title: &'static str, values: &[f64], unit: fn(f64) -> String) -> Option<Trend> {
    if values.len() < 2 {
        return None;
    }
    let max = values.iter().copied().fold(f64::MIN, f64::max).max(1e-9);
    let step = 600.0 / (values.len() - 1) as f64;
    let points = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", i as f64 * step, 80.0 - v / max * 76.0))
        .collect::<Vec<_>>()
        .join(" ");
    Some(Trend { title, points, last: unit(*values.last().expect("two or more")), max: unit(max) })
}

/// What the page needs besides the verdict and history.
#[derive(Debug, Clone, Default)]
pub struct PageContext {
    /// target-stderr.log beside the dashboard has content.
    pub stderr_log: bool,
    /// release-readiness.json beside the dashboard, when there is one.
    pub release: Option<crate::release::ReleaseReport>,
    /// load.json beside the dashboard, when there is one.
    pub load: Option<crate::load::LoadReport>,
    /// attack.json beside the dashboard, when there is one.
    pub attack: Option<crate::attack::AttackReport>,
}

/// The latest `gauntlet attack`, summarised; the whole of it is attack.html.
#[derive(Serialize)]
struct AttackView {
    headline: String,
    failed: bool,
    /// Built by `report::attack` from numbers and escaped names only.
    curve: Option<String>,
    tables: String,
}

fn attack_view(r: Option<&crate::attack::AttackReport>) -> Option<AttackView> {
    let r = r?;
    let last = r.curve.last();
    Some(AttackView {
        headline: format!(
            "{} of {} blocked originals evaded within {} queries ({}), median {} queries, strategy {} ({})",
            r.evaded,
            r.originals.searched,
            r.budget,
            last.and_then(|p| p.rate).map_or("–".into(), |v| format!("{:.1}%", v * 100.0)),
            r.median_queries.map_or("–".into(), |m| m.to_string()),
            r.strategy,
            r.generated_at
        ),
        failed: r.outcome() == crate::exit_code::Outcome::GateFailed,
        curve: super::attack::curve_svg(r),
        tables: super::attack::tables_html(r),
    })
}

/// The latest `gauntlet load`, summarised; the whole of it is load.html.
#[derive(Serialize)]
struct LoadView {
    headline: String,
    rows: Vec<SimpleRow>,
    fail_open: String,
    failed: bool,
    /// Built by `report::load::curve_svg` from numbers only.
    curve: Option<String>,
}

fn load_view(r: Option<&crate::load::LoadReport>) -> Option<LoadView> {
    use crate::load::show_us;
    let r = r?;
    let s = &r.summary;
    let row = |name: &str, p: &crate::load::Percentiles| SimpleRow {
        cells: vec![name.into(), show_us(p.p50), show_us(p.p90), show_us(p.p99), show_us(p.p99_9), show_us(p.max)],
        class: String::new(),
    };
    Some(LoadView {
        headline: format!(
            "{:.0}/s asked, {:.1}/s achieved, {:.0} s, {} requests, {:.2}% errors{} ({})",
            s.rate.asked,
            s.rate.achieved,
            s.duration_s,
            s.requests.scheduled,
            s.requests.error_rate * 100.0,
            r.found_rate.map_or(String::new(), |f| format!("; found rate {f:.0}/s")),
            r.generated_at
        ),
        rows: vec![row("latency (corrected)", &s.latency), row("service", &s.service_latency)],
        fail_open: format!(
            "{} of {} answers to cases blocked at rest allowed them under load",
            r.fail_open.count, r.fail_open.checked
        ),
        failed: r.outcome() == crate::exit_code::Outcome::GateFailed,
        curve: super::load::curve_svg(r),
    })
}

/// The latest `gauntlet release`'s rolling rates, charted.
#[derive(Serialize)]
struct Production {
    decision: String,
    generated_at: String,
    charts: Vec<ProductionChart>,
}

#[derive(Serialize)]
struct ProductionChart {
    caption: String,
    /// Built by `signal_chart::svg` from numbers and fixed names only.
    svg: String,
}

fn production(release: Option<&crate::release::ReleaseReport>) -> Option<Production> {
    let r = release?;
    let charts: Vec<ProductionChart> = r
        .signals
        .iter()
        .filter(|s| s.tenant.is_none())
        .filter_map(|s| {
            let svg = super::signal_chart::svg(s)?;
            let caption = format!("{} ({} > {})", s.rule.id, s.rule.signal.as_str(), s.rule.signal.show(s.rule.above));
            Some(ProductionChart { caption: visible(&caption), svg })
        })
        .collect();
    (!charts.is_empty()).then(|| Production {
        decision: r.decision.clone(),
        generated_at: r.generated_at.clone(),
        charts,
    })
}

impl DashboardView {
    pub fn build(v: &Verdict, history: &[HistoryEntry], page: &PageContext) -> Self {
        let o = &v.metrics.overall;
        let c = &o.confusion;
        let row = |cells: Vec<String>, class: &str| SimpleRow { cells, class: class.to_string() };
        let confusion = vec![
            row(
                vec![
                    "benign".into(),
                    c.true_negatives.to_string(),
                    c.false_positives.to_string(),
                    o.benign.error.to_string(),
                ],
                "",
            ),
            row(
                vec![
                    "adversarial".into(),
                    c.detected.to_string(),
                    c.attack_successes.to_string(),
                    o.adversarial.error.to_string(),
                ],
                "",
            ),
        ];
        let waivers = v
            .waivers
            .waivers
            .iter()
            .map(|w| {
                row(
                    vec![
                        visible(&w.id),
                        status_name(w.status).into(),
                        w.days_remaining.map(|d| d.to_string()).unwrap_or_else(|| "–".into()),
                        visible(&w.applied_to.join(", ")),
                        visible(&w.detail.join("; ")),
                    ],
                    status_name(w.status),
                )
            })
            .collect();
        let fixtures = v
            .fixtures
            .iter()
            .flat_map(|s| {
                s.cases.iter().map(move |c| {
                    let actual = match (&c.actual, &c.error) {
                        (Some(d), _) => d.as_str().to_string(),
                        (None, Some(e)) => format!("error: {}", e.message),
                        _ => "missing".into(),
                    };
                    let status = if c.pass {
                        "pass"
                    } else if c.waiver.is_some() {
                        "waived"
                    } else {
                        "fail"
                    };
                    SimpleRow {
                        cells: vec![
                            visible(&c.qualified_name),
                            c.expect.as_str().into(),
                            visible(&actual),
                            status.into(),
                            visible(&c.reasons.join(", ")),
                            visible(&c.note),
                        ],
                        class: status.into(),
                    }
                })
            })
            .collect();
        let golden = v
            .golden
            .iter()
            .map(|g| {
                let status = format!("{:?}", g.status).to_lowercase();
                row(
                    vec![
                        visible(&g.dataset),
                        status.clone(),
                        g.flips.to_string(),
                        g.changes.to_string(),
                        visible(&g.diff),
                    ],
                    &status,
                )
            })
            .collect();
        let directions = v
            .metrics
            .by_direction
            .iter()
            .map(|(d, m)| {
                row(
                    vec![
                        d.clone(),
                        m.cases.to_string(),
                        format!("{} {}", rate_text(&m.fpr), interval_text(&m.fpr)),
                        format!("{} {}", rate_text(&m.detection_rate), interval_text(&m.detection_rate)),
                    ],
                    "",
                )
            })
            .collect();
        let detectors = v
            .metrics
            .by_detector
            .get("egress")
            .map(|ds| {
                ds.iter()
                    .map(|(name, d)| {
                        row(
                            vec![
                                visible(name),
                                format!("{} ({})", rate_text(&d.false_positive_rate), d.false_positive_rate.numerator),
                                format!(
                                    "{} ({})",
                                    rate_text(&d.share_of_attacks_stopped),
                                    d.share_of_attacks_stopped.numerator
                                ),
                            ],
                            "",
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let matrix_columns: Vec<String> =
            ["allow", "block", "require_approval", "error"].iter().map(|s| s.to_string()).collect();
        let matrix = o
            .decision_matrix
            .iter()
            .map(|(expected, actual)| {
                let mut cells = vec![expected.clone()];
                cells.extend(matrix_columns.iter().map(|c| actual.get(c).copied().unwrap_or(0).to_string()));
                row(cells, "")
            })
            .collect();
        let weighted_cost = v.metrics.weighted_cost.map(|c| format!("{c:.3}")).unwrap_or_default();
        let fpr: Vec<f64> = history.iter().filter_map(|h| h.fpr).collect();
        let asr: Vec<f64> = history.iter().filter_map(|h| h.asr).collect();
        let p99: Vec<f64> = history.iter().filter_map(|h| h.p99_us.map(|x| x as f64)).collect();
        let trends =
            [trend("FPR", &fpr, pct), trend("ASR", &asr, pct), trend("p99 latency", &p99, |x| format!("{x:.0} µs"))]
                .into_iter()
                .flatten()
                .collect();
        // The previous run is the last history entry before this one.
        let previous = history.iter().rev().find(|h| h.finished_at != v.run.finished_at);
        let (headline, headline_note) = sections::headline(v, previous);
        let script_hash = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(SCRIPT.as_bytes()))
        };
        DashboardView {
            verdict: v.verdict.as_str().into(),
            verdict_upper: v.verdict.as_str().to_uppercase(),
            notice: if v.run.no_blocking_gate { super::NO_BLOCKING_GATE_NOTE.to_string() } else { String::new() },
            lane: v.run.lane.as_str().into(),
            commit: visible(v.run.git_commit.as_deref().unwrap_or("unknown")),
            date: v.run.finished_at.clone(),
            target: visible(&format!(
                "{} {}{}",
                v.run.target.kind,
                v.run.target.description,
                v.run.target.version.as_deref().map(|x| format!(" ({x})")).unwrap_or_default()
            )),
            tool: v.run.tool_version.clone(),
            cases: o.cases,
            benign: o.benign.total,
            adversarial: o.adversarial.total,
            errors: o.benign.error + o.adversarial.error,
            banner_reasons: sections::banner_reasons(v),
            honest: v.verdict != crate::evaluate::Overall::Error,
            aborted: visible(v.run.aborted.as_deref().unwrap_or(if v.run.complete {
                ""
            } else {
                "the run did not complete"
            })),
            stderr_log: page.stderr_log,
            headline,
            headline_note,
            gates: {
                // What needs attention first: blocking gates that did not
                // pass, then waived ones, then the rest, each in file order.
                let mut gates: Vec<&GateReport> = v.gates.iter().collect();
                gates.sort_by_key(|g| g.view().attention);
                gates.into_iter().map(gate_row).collect()
            },
            confidence: crate::metrics::interval::percent_label(v.run.counting.confidence),
            datasets: sections::dataset_rows(v).into_iter().map(|cells| row(cells, "")).collect(),
            charts: sections::category_charts(v),
            robustness: super::robustness::rows(v)
                .into_iter()
                .map(|r| {
                    row(vec![visible(&r.chain), r.variants.to_string(), r.evasion, r.p, r.p_adjusted, r.over_block], "")
                })
                .collect(),
            scores: v.metrics.scores.as_ref().map(sections::scores),
            confusion,
            latency: latency_view(v),
            failing: vec![
                case_group("False positives", &v.failing_cases.false_positives),
                case_group("Successful attacks", &v.failing_cases.attack_successes),
                case_group("Target errors", &v.failing_cases.errors),
            ],
            directions,
            detectors,
            leak_kinds: v
                .metrics
                .by_leak_kind
                .iter()
                .map(|(kind, r)| {
                    row(
                        vec![
                            visible(kind),
                            rate_text(r),
                            interval_text(r),
                            format!("{} / {}", r.numerator, r.denominator),
                        ],
                        "",
                    )
                })
                .collect(),
            matrix_columns,
            matrix,
            weighted_cost,
            waivers,
            fixtures,
            golden,
            trends,
            production: production(page.release.as_ref()),
            load: load_view(page.load.as_ref()),
            attack: attack_view(page.attack.as_ref()),
            script: SCRIPT,
            script_hash,
        }
    }
}

/// Renders the dashboard.
pub fn render_dashboard(v: &Verdict, history: &[HistoryEntry], page: &PageContext) -> Result<String, String> {
    let mut tera = tera::Tera::default();
    tera.add_raw_template("dashboard.html", TEMPLATE).map_err(|e| format!("dashboard template: {e}"))?;
    let context = tera::Context::from_serialize(&DashboardView::build(v, history, page)).map_err(|e| e.to_string())?;
    tera.render("dashboard.html", &context).map_err(|e| format!("dashboard: {e}"))
}
