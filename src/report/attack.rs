//! `gauntlet attack` for people: the evasion rate against the attacker's
//! query budget, by category, and the edits that got through most. The
//! evasions' text is in evasions.jsonl, never on these pages: it is hostile
//! input, and the ids and edit chains are enough to find it.

use std::fmt::Write as _;

use crate::attack::AttackReport;

fn percent(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{:.1}%", v * 100.0))
}

fn interval(low: Option<f64>, high: Option<f64>) -> String {
    match (low, high) {
        (Some(l), Some(h)) => format!("[{:.1}%, {:.1}%]", l * 100.0, h * 100.0),
        _ => String::new(),
    }
}

/// The terminal summary of attack.json.
pub fn render_terminal(r: &AttackReport) -> String {
    let mut out = String::new();
    let o = &r.originals;
    let _ = writeln!(
        out,
        "attack: {} adversarial originals, {} blocked at rest and searched ({} guided by score, {} random), {} already allowed, {} errors at rest{}",
        o.adversarial,
        o.searched,
        o.guided,
        o.random,
        o.allowed_at_rest,
        o.errored_at_rest,
        if o.not_searchable > 0 { format!(", {} structured (not searched)", o.not_searchable) } else { String::new() }
    );
    let _ = writeln!(
        out,
        "  queries: {} at rest, {} search (budget {} per original), {} confirmations{}{}",
        r.queries.at_rest,
        r.queries.search,
        r.budget,
        r.queries.confirmations,
        if r.queries.recorded > 0 {
            format!(", {} answers from the journal", r.queries.recorded)
        } else {
            String::new()
        },
        if r.queries.errors > 0 { format!(", {} target errors", r.queries.errors) } else { String::new() }
    );
    let _ = writeln!(out, "  {:>8}  {:>8}  {:>8}  interval", "budget", "evaded", "rate");
    for p in &r.curve {
        let _ = writeln!(
            out,
            "  {:>8}  {:>8}  {:>8}  {}",
            p.budget,
            format!("{}/{}", p.evaded, p.searched),
            percent(p.rate),
            interval(p.low, p.high)
        );
    }
    if let Some(m) = r.median_queries {
        let _ = writeln!(out, "  median queries to evade: {m}");
    }
    if r.flipped > 0 {
        let _ = writeln!(
            out,
            "  {} evasion(s) were blocked when re-sent: the target is not deterministic there (not counted)",
            r.flipped
        );
    }
    if !r.edits.is_empty() {
        let top: Vec<String> = r.edits.iter().take(6).map(|e| format!("{} {}", e.edit, e.evasions)).collect();
        let _ = writeln!(out, "  edits in evasions: {}", top.join(", "));
    }
    for g in &r.gates {
        let _ = writeln!(out, "  gate {}: {} ({})", g.id, g.status, crate::text::terminal_safe(&g.detail));
    }
    out
}

const WIDTH: f64 = 520.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 22.0;

/// The evasion rate against the budget (log scale of queries), with its
/// interval as a band; built from numbers only.
pub fn curve_svg(r: &AttackReport) -> Option<String> {
    let points: Vec<_> = r.curve.iter().filter(|p| p.rate.is_some()).collect();
    if points.is_empty() {
        return None;
    }
    let x_max = (r.budget.max(2) as f64).log10();
    let x = |b: usize| LEFT + (b as f64).log10() / x_max * (WIDTH - LEFT - 16.0);
    let y = |v: f64| 8.0 + (1.0 - v) * (HEIGHT - BOTTOM - 8.0);
    let b = HEIGHT - BOTTOM;
    let mut out = format!(
        "<svg class=\"attack-curve\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" aria-label=\"evasion rate against queries per original\"><line x1=\"{LEFT}\" y1=\"{b}\" x2=\"{WIDTH}\" y2=\"{b}\" stroke=\"#9ca3af\"></line><line x1=\"{LEFT}\" y1=\"8\" x2=\"{LEFT}\" y2=\"{b}\" stroke=\"#9ca3af\"></line><text x=\"2\" y=\"16\">100%</text><text x=\"2\" y=\"{b}\">0%</text>"
    );
    for p in &points {
        let _ = write!(out, "<text x=\"{:.1}\" y=\"{HEIGHT}\" text-anchor=\"middle\">{}</text>", x(p.budget), p.budget);
    }
    let band: Vec<String> = points
        .iter()
        .map(|p| format!("{:.1},{:.1}", x(p.budget), y(p.high.unwrap_or(p.rate.unwrap_or(0.0)))))
        .chain(
            points.iter().rev().map(|p| format!("{:.1},{:.1}", x(p.budget), y(p.low.unwrap_or(p.rate.unwrap_or(0.0))))),
        )
        .collect();
    let _ = write!(out, "<polygon class=\"interval\" fill=\"#dbeafe\" points=\"{}\"></polygon>", band.join(" "));
    let line: Vec<String> =
        points.iter().map(|p| format!("{:.1},{:.1}", x(p.budget), y(p.rate.unwrap_or(0.0)))).collect();
    let _ = write!(
        out,
        "<polyline class=\"rate\" fill=\"none\" stroke=\"#b42318\" stroke-width=\"2\" points=\"{}\"></polyline>",
        line.join(" ")
    );
    for p in &points {
        let _ = write!(
            out,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#b42318\"><title>{} queries: {} evaded of {}</title></circle>",
            x(p.budget),
            y(p.rate.unwrap_or(0.0)),
            p.budget,
            p.evaded,
            p.searched
        );
    }
    out.push_str("</svg>");
    Some(out)
}

/// The curve's table rows and the edits list, shared by attack.html and
/// the dashboard section.
pub fn tables_html(r: &AttackReport) -> String {
    use super::release::esc;
    let mut out = String::from(
        "<table id=\"attack-curve\"><tr><th>queries</th><th>evaded</th><th>rate</th><th>interval</th></tr>",
    );
    for p in &r.curve {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{} of {}</td><td>{}</td><td>{}</td></tr>",
            p.budget,
            p.evaded,
            p.searched,
            percent(p.rate),
            interval(p.low, p.high)
        );
    }
    out.push_str("</table>");
    if !r.edits.is_empty() {
        out.push_str("<table id=\"attack-edits\"><tr><th>edit</th><th>evasions using it</th></tr>");
        for e in r.edits.iter().take(10) {
            let _ = write!(out, "<tr><td>{}</td><td>{}</td></tr>", esc(&e.edit), e.evasions);
        }
        out.push_str("</table>");
    }
    out
}

/// attack.html: self-contained (no script, no request).
pub fn render_html(r: &AttackReport) -> String {
    use super::release::esc;
    let failed = r.outcome() == crate::exit_code::Outcome::GateFailed;
    let at_budget = r.curve.last();
    let mut out = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"><title>gauntlet attack: {}</title><style>body{{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:0 auto;padding:16px 24px}} .d{{padding:12px 20px;color:#fff;background:{}}} table{{border-collapse:collapse;margin:8px 0}} td,th{{border-bottom:1px solid #e5e7eb;padding:5px 10px;text-align:right;unicode-bidi:isolate}} th:first-child,td:first-child{{text-align:left}} td code{{word-break:break-all}} svg text{{font-size:11px}} .note{{color:#4b5563}}</style></head><body><div class=\"d\" id=\"outcome\"><h1>Adaptive evasion search: {} of {} evaded within {} queries</h1></div>",
        percent(at_budget.and_then(|p| p.rate)),
        // Red for a failed gate, green for gates that passed; with no gate
        // the findings are neither.
        match (failed, r.gates.is_empty()) {
            (true, _) => "#b42318",
            (false, false) => "#1f7a3d",
            (false, true) => "#374151",
        },
        r.evaded,
        r.originals.searched,
        r.budget
    );
    let o = &r.originals;
    let _ = write!(
        out,
        "<p id=\"scope\">{} adversarial originals: {} blocked at rest and searched ({} guided by score, {} at random), {} already allowed at rest, {} errors at rest. Target: {}. Seed {}, strategy {}, at most {:.0}% of characters edited; transforms: {}.</p>",
        o.adversarial,
        o.searched,
        o.guided,
        o.random,
        o.allowed_at_rest,
        o.errored_at_rest,
        esc(&r.target.description),
        r.seed,
        esc(&r.strategy),
        r.max_edit_share * 100.0,
        esc(&r.transforms.join(", "))
    );
    if let Some(svg) = curve_svg(r) {
        let _ = write!(
            out,
            "<h2>Evasion rate against queries</h2><figure id=\"curve\">{svg}<figcaption class=\"note\">Share of searched originals with a confirmed evasion within that many queries (log scale), with its interval.</figcaption></figure>"
        );
    }
    out.push_str(&tables_html(r));
    out.push_str("<h2>By category</h2><table id=\"categories\"><tr><th>category</th><th>searched</th><th>evaded</th><th>rate</th><th>interval</th></tr>");
    for c in &r.by_category {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.category),
            c.searched,
            c.evaded,
            percent(c.rate),
            interval(c.low, c.high)
        );
    }
    out.push_str("</table>");
    out.push_str(&super::load::gates_html(&r.gates));
    out.push_str("<h2>Evasions</h2><table id=\"evasions\"><tr><th>case</th><th>queries</th><th>edit chain</th></tr>");
    for c in r.cases.iter().filter(|c| c.evaded) {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td></tr>",
            esc(&c.id),
            c.queries,
            esc(c.chain.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</table><p class=\"note\">Each evasion is a corpus case in evasions.jsonl (id <code>&lt;original&gt;#search</code>): replay it with <code>gauntlet run</code>, or commit it as a regression corpus.</p></body></html>\n");
    out
}
