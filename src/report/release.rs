//! release-readiness.md and .html: the decision first, then every blocking
//! reason with the evidence it rests on, then the evidence index.

use std::fmt::Write;

use super::html::visible;
use super::markdown::md_escape;
use crate::release::signals::{RuleState, RuleStatus, Signal};
use crate::release::ReleaseReport;

/// One signal rule's row: rule, tenant, state, last window's value (and
/// interval, or baseline), clear windows, windows too small to judge.
fn signal_row(s: &RuleState) -> [String; 6] {
    let signal = s.rule.signal;
    let rate = s.evidence.as_ref();
    let window = match (s.value, rate.and_then(|r| r.low.zip(r.high)), s.baseline) {
        (Some(v), _, Some(b)) if signal.against_baseline() => {
            let base = if signal == Signal::CostVsBaseline { format!("{b:.4}") } else { format!("{:.2}%", b * 100.0) };
            let reason = s.reason.as_ref().map(|r| format!(" for reason {r}")).unwrap_or_default();
            format!("{}{reason} (baseline {base})", signal.show(v))
        }
        (Some(v), Some((l, h)), _) => {
            format!(
                "{} [{:.2}%, {:.2}%] of {}",
                signal.show(v),
                l * 100.0,
                h * 100.0,
                rate.map_or(0, |r| r.denominator)
            )
        }
        _ => "not eligible".into(),
    };
    let state = match (s.status, s.fired_at_ms) {
        (RuleStatus::Firing, _) => "FIRING",
        (RuleStatus::Pending, _) => "pending",
        (_, Some(_)) => "fired, cleared",
        (RuleStatus::Clear, None) => "clear",
        (RuleStatus::NotEligible, None) => "not eligible",
        (RuleStatus::NoData, None) => "no data",
    };
    [
        format!("{} ({} > {} for {} min)", s.rule.id, signal.as_str(), signal.show(s.rule.above), s.rule.for_minutes),
        s.tenant.clone().unwrap_or_else(|| "all".into()),
        state.into(),
        window,
        s.clear_windows.to_string(),
        s.not_eligible.to_string(),
    ]
}

/// The promotion state as sentences: the stage and its requirements,
/// each alert waiting to resume, sign-offs that cleared nothing.
fn promotion_lines(r: &ReleaseReport) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(s) = &r.stage {
        out.push(format!(
            "Stage {} ({}% of traffic) since {}: soaked {:.1} of {} h; {}",
            s.stage,
            s.traffic_percent,
            s.started_at,
            s.soak_hours,
            s.min_soak_hours,
            match &s.next {
                Some(n) => format!("GO promotes it to {n}"),
                None => "the last stage: GO completes the rollout".into(),
            }
        ));
        for (kind, req) in s.gates.iter().map(|g| ("gate", g)).chain(s.signals.iter().map(|g| ("signal", g))) {
            out.push(format!("{} {} {}: {}", if req.met { "✓" } else { "✗" }, kind, req.id, req.status));
        }
    }
    for x in &r.resumes {
        out.push(format!(
            "Alert {}{} fired at {}: clear for {} window(s) ({} needed), sign-off {}: {}",
            x.rule,
            x.tenant.as_ref().map(|t| format!(" (tenant {t})")).unwrap_or_default(),
            x.fired_at,
            x.clear_windows,
            x.clear_windows_needed,
            x.sign_off.as_deref().unwrap_or("none"),
            if x.resumed { "promotion resumes" } else { "promotion waits" }
        ));
    }
    for o in &r.unused_sign_offs {
        out.push(format!("Sign-off {o} is scoped to this version but clears no alert of this log"));
    }
    out
}

/// The states charted: every overall rule, and each tenant's that fired or is pending.
fn charted(r: &ReleaseReport) -> impl Iterator<Item = &RuleState> {
    r.signals.iter().filter(|s| {
        !s.series.is_empty() && (s.tenant.is_none() || s.fired_at_ms.is_some() || s.status == RuleStatus::Pending)
    })
}

/// A Mermaid `xychart-beta` of a rule's rolling value and its threshold:
/// GitHub draws it in the Markdown without any script of ours. Windows too
/// small to judge are left out of the line.
fn mermaid_chart(s: &RuleState) -> Option<String> {
    let points: Vec<(i64, f64)> = s.series.iter().filter_map(|p| p.value.map(|v| (p.at_ms, v))).collect();
    if points.len() < 2 {
        return None;
    }
    let scale = if s.rule.signal.against_baseline() { 1.0 } else { 100.0 };
    let labels: Vec<String> = points
        .iter()
        .map(|(at, _)| {
            chrono::DateTime::from_timestamp_millis(*at).map_or("?".into(), |t| format!("\"{}\"", t.format("%H:%M")))
        })
        .collect();
    let values: Vec<String> = points.iter().map(|(_, v)| format!("{:.3}", v * scale)).collect();
    let threshold: Vec<String> = points.iter().map(|_| format!("{:.3}", s.rule.above * scale)).collect();
    let top = points.iter().map(|(_, v)| v * scale).fold(s.rule.above * scale, f64::max) * 1.2;
    let unit = if scale == 1.0 { "x baseline" } else { "%" };
    Some(format!(
        "```mermaid\nxychart-beta\n    title \"{}{} ({})\"\n    x-axis [{}]\n    y-axis \"{unit}\" 0 --> {top:.3}\n    line [{}]\n    line [{}]\n```\n",
        s.rule.id.replace('"', "'"),
        s.tenant.as_ref().map(|t| format!(", tenant {}", t.replace(['"', '\n', '`'], "'"))).unwrap_or_default(),
        s.rule.signal.as_str(),
        labels.join(", "),
        values.join(", "),
        threshold.join(", ")
    ))
}

/// Reason codes, canary beside baseline (at most 20 rows, largest shift first).
fn reason_rows(r: &ReleaseReport) -> Vec<[String; 4]> {
    let pct = |v: f64| format!("{:.1}%", v * 100.0);
    r.reasons
        .iter()
        .take(20)
        .map(|x| {
            [
                x.reason.clone(),
                format!("{} ({})", x.canary, pct(x.canary_share)),
                x.baseline_share.map_or("–".into(), |b| format!("{} ({})", x.baseline, pct(b))),
                format!("{:+.1} pts", x.shift * 100.0),
            ]
        })
        .collect()
}

const REASON_HEADER: [&str; 4] = ["Reason", "Canary", "Baseline", "Shift"];

const SIGNAL_HEADER: [&str; 6] = ["Rule", "Tenant", "State", "Last window", "Clear windows", "Not eligible"];

pub fn render_markdown(r: &ReleaseReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Release readiness{}: **{}**\n",
        r.version.as_deref().map(|v| format!(" of {}", md_escape(v))).unwrap_or_default(),
        r.decision
    );
    if r.blocking.is_empty() {
        out.push_str("Every check passed.\n");
    } else {
        out.push_str("Blocking:\n\n");
        for b in &r.blocking {
            let _ = writeln!(out, "- **{}**: {} (evidence: {})", b.check, md_escape(&b.message), b.evidence);
        }
    }
    if !r.signals.is_empty() {
        let _ = writeln!(out, "\n| {} |\n|---|---|---|---|---|---|", SIGNAL_HEADER.join(" | "));
        for s in &r.signals {
            let cells: Vec<String> = signal_row(s).iter().map(|c| md_escape(c)).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
    }
    let charts: Vec<String> = charted(r)
        .filter(|s| s.firing || s.fired_at_ms.is_some() || s.status == RuleStatus::Pending)
        .filter_map(mermaid_chart)
        .collect();
    if !charts.is_empty() {
        out.push_str("\nRolling values of the rules that fired or are pending (the second line is the threshold):\n\n");
        for c in charts {
            out.push_str(&c);
        }
    }
    if !r.reasons.is_empty() {
        let _ = writeln!(
            out,
            "\nReason codes, largest shift first:\n\n| {} |\n|---|---|---|---|",
            REASON_HEADER.join(" | ")
        );
        for row in reason_rows(r) {
            let cells: Vec<String> = row.iter().map(|c| md_escape(c)).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
    }
    let promotion = promotion_lines(r);
    if !promotion.is_empty() {
        out.push_str("\nPromotion:\n\n");
        for line in promotion {
            let _ = writeln!(out, "- {}", md_escape(&line));
        }
    }
    out.push_str("\n| Evidence | Path | SHA-256 | Age (h) | Summary |\n|---|---|---|---|---|\n");
    for e in &r.evidence {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            e.id,
            md_escape(&e.path),
            e.sha256.as_deref().map(|s| &s[..16]).unwrap_or("–"),
            e.age_hours.map(|h| format!("{h:.1}")).unwrap_or_else(|| "–".into()),
            md_escape(&e.summary)
        );
    }
    out
}

pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in visible(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A small page; every value is escaped by `esc`.
pub fn render_html(r: &ReleaseReport) -> String {
    let mut out = String::new();
    let go = r.decision == "GO";
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"><title>release readiness: {}</title><style>body{{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:0 auto;padding:16px 24px}} .d{{padding:12px 20px;color:#fff;background:{}}} table{{border-collapse:collapse;width:100%}} td,th{{border-bottom:1px solid #e5e7eb;padding:5px 8px;text-align:left;overflow-wrap:anywhere;unicode-bidi:isolate}} svg text{{font-size:11px}} figure{{margin:10px 0}}</style></head><body><div class=\"d\" id=\"decision\"><h1>{}{}</h1></div>",
        esc(&r.decision),
        if go { "#1f7a3d" } else { "#b42318" },
        esc(&r.decision),
        r.version.as_deref().map(|v| format!(" · {}", esc(v))).unwrap_or_default()
    );
    out.push_str("<h2>Blocking reasons</h2><ul id=\"blocking\">");
    if r.blocking.is_empty() {
        out.push_str("<li>none</li>");
    }
    for b in &r.blocking {
        let _ = write!(
            out,
            "<li><b>{}</b>: {} <a href=\"#ev-{}\">evidence</a></li>",
            esc(&b.check),
            esc(&b.message),
            esc(&b.evidence)
        );
    }
    out.push_str("</ul>");
    if !r.signals.is_empty() {
        out.push_str("<h2>Production signals</h2><table id=\"signals\"><tr>");
        for h in SIGNAL_HEADER {
            let _ = write!(out, "<th>{h}</th>");
        }
        out.push_str("</tr>");
        for s in &r.signals {
            out.push_str("<tr>");
            for cell in signal_row(s) {
                let _ = write!(out, "<td>{}</td>", esc(&cell));
            }
            out.push_str("</tr>");
        }
        out.push_str("</table><h2>Rolling rates</h2><div id=\"signal-charts\">");
        for state in charted(r) {
            if let Some(svg) = super::signal_chart::svg(state) {
                let _ = write!(out, "<figure><figcaption>{}</figcaption>{svg}</figure>", esc(&signal_row(state)[0]));
            }
        }
        out.push_str("</div>");
    }
    if !r.reasons.is_empty() {
        out.push_str("<h2>Reason codes</h2><table id=\"reasons\"><tr>");
        for h in REASON_HEADER {
            let _ = write!(out, "<th>{h}</th>");
        }
        out.push_str("</tr>");
        for row in reason_rows(r) {
            out.push_str("<tr>");
            for cell in row {
                let _ = write!(out, "<td>{}</td>", esc(&cell));
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
    }
    let promotion = promotion_lines(r);
    if !promotion.is_empty() {
        out.push_str("<h2>Promotion</h2><ul id=\"promotion\">");
        for line in promotion {
            let _ = write!(out, "<li>{}</li>", esc(&line));
        }
        out.push_str("</ul>");
    }
    out.push_str(
        "<h2>Evidence</h2><table><tr><th>Id</th><th>Path</th><th>SHA-256</th><th>Age (h)</th><th>Summary</th></tr>",
    );
    for e in &r.evidence {
        let _ = write!(
            out,
            "<tr id=\"ev-{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&e.id),
            esc(&e.id),
            esc(&e.path),
            esc(e.sha256.as_deref().unwrap_or("–")),
            e.age_hours.map(|h| format!("{h:.1}")).unwrap_or_else(|| "–".into()),
            esc(&e.summary)
        );
    }
    out.push_str("</table></body></html>\n");
    out
}
