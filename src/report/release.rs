//! release-readiness.md and .html: the decision first, then every blocking
//! reason with the evidence it rests on, then the evidence index.

use std::fmt::Write;

use super::html::visible;
use super::markdown::md_escape;
use crate::release::signals::RuleState;
use crate::release::ReleaseReport;

/// One signal rule's row: rule, tenant, state, last window's rate and
/// interval, clear windows, windows too small to judge.
fn signal_row(s: &RuleState) -> [String; 6] {
    let rate = s.evidence.as_ref();
    let window = match (rate.and_then(|r| r.value), rate.and_then(|r| r.low.zip(r.high))) {
        (Some(v), Some((l, h))) => {
            format!("{:.2}% [{:.2}%, {:.2}%] of {}", v * 100.0, l * 100.0, h * 100.0, rate.map_or(0, |r| r.denominator))
        }
        _ => "not eligible".into(),
    };
    let state = if s.firing {
        "FIRING"
    } else if s.fired_at_ms.is_some() {
        "fired, cleared"
    } else {
        "clear"
    };
    [
        format!("{} ({:?} > {:.2}% for {} min)", s.rule.id, s.rule.signal, s.rule.above * 100.0, s.rule.for_minutes),
        s.tenant.clone().unwrap_or_else(|| "all".into()),
        state.into(),
        window,
        s.clear_windows.to_string(),
        s.not_eligible.to_string(),
    ]
}

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

fn esc(s: &str) -> String {
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
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"><title>release readiness: {}</title><style>body{{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:0 auto;padding:16px 24px}} .d{{padding:12px 20px;color:#fff;background:{}}} table{{border-collapse:collapse;width:100%}} td,th{{border-bottom:1px solid #e5e7eb;padding:5px 8px;text-align:left;overflow-wrap:anywhere;unicode-bidi:isolate}}</style></head><body><div class=\"d\" id=\"decision\"><h1>{}{}</h1></div>",
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
        out.push_str("</table>");
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
