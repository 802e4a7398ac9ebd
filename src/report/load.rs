//! `gauntlet load` for people: the percentile table, latency beside service
//! time (the difference is the queue), and the fail-open finding first
//! when there is one.

use std::fmt::Write as _;

use crate::load::{show_us, LoadReport, Percentiles};

fn row(out: &mut String, name: &str, p: &Percentiles, note: &str) {
    let _ = writeln!(
        out,
        "  {name:<10} {:>9} {:>9} {:>9} {:>9} {:>9}  {note}",
        show_us(p.p50),
        show_us(p.p90),
        show_us(p.p99),
        show_us(p.p99_9),
        show_us(p.max)
    );
}

/// The terminal summary of load.json.
pub fn render_terminal(r: &LoadReport) -> String {
    let s = &r.summary;
    let mut out = String::new();
    let errors: u64 = s.requests.errors.values().sum();
    let _ = writeln!(
        out,
        "load: {:.0}/s asked, {:.1}/s achieved, {} arrivals, {:.0} s, {} requests, {} decided, {} errors ({:.2}%)",
        s.rate.asked,
        s.rate.achieved,
        match s.arrivals {
            crate::load::Arrivals::Constant => "constant",
            crate::load::Arrivals::Poisson => "poisson",
        },
        s.duration_s,
        s.requests.scheduled,
        s.requests.decided,
        errors,
        s.requests.error_rate * 100.0
    );
    if !s.requests.errors.is_empty() {
        let kinds: Vec<String> = s.requests.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(out, "  errors by kind: {}", kinds.join(", "));
    }
    let _ = writeln!(out, "  {:<10} {:>9} {:>9} {:>9} {:>9} {:>9}", "", "p50", "p90", "p99", "p99.9", "max");
    row(&mut out, "latency", &s.latency, "from the intended send time");
    row(&mut out, "service", &s.service_latency, "the gate's own time");
    row(&mut out, "send late", &s.send_error, "gauntlet's schedule error and connection waits");
    let _ = writeln!(
        out,
        "  in flight: peak {} of {} allowed; {} request(s) waited for a free connection{}",
        s.in_flight_peak,
        s.in_flight_cap,
        s.cap_waits,
        if s.cap_waits > 0 {
            " (their latency counts the wait: raise --max-in-flight to queue in the gate)"
        } else {
            ""
        }
    );
    let f = &r.fail_open;
    if f.count > 0 {
        let _ = writeln!(
            out,
            "FAIL-OPEN: {} of {} answers under load allowed a case the gate blocks at rest: {}{}",
            f.count,
            f.checked,
            f.cases.iter().map(|c| crate::text::terminal_safe(c)).collect::<Vec<_>>().join(", "),
            if f.cases.len() as u64 >= 50 { ", …" } else { "" }
        );
    } else {
        let _ = writeln!(out, "  fail-open: none ({} answers to cases blocked at rest, all still blocked)", f.checked);
    }
    for g in &r.gates {
        let _ = writeln!(
            out,
            "  gate {}: {}{} — {}",
            crate::text::terminal_safe(&g.id),
            g.status.to_uppercase(),
            if g.blocking { "" } else { " (not blocking)" },
            g.detail
        );
    }
    if !r.curve.is_empty() {
        let _ = writeln!(out, "  {:>8} {:>9} {:>9} {:>9} {:>7}", "asked/s", "achieved", "p50", "p99", "errors");
        for p in &r.curve {
            let _ = writeln!(
                out,
                "  {:>8.0} {:>9.1} {:>9} {:>9} {:>6.2}% {}",
                p.asked,
                p.achieved,
                show_us(p.latency.p50),
                show_us(p.latency.p99),
                p.error_rate * 100.0,
                if p.within { "within" } else { "over" }
            );
        }
        let bounds = r.bounds.map_or(String::new(), |b| {
            format!(" (p99 ≤ {}, errors ≤ {:.1}%)", show_us(b.max_p99_us), b.max_error_rate * 100.0)
        });
        match r.found_rate {
            Some(rate) => {
                let _ = writeln!(out, "found rate: {rate:.0}/s{bounds}");
            }
            None => {
                let _ = writeln!(out, "found rate: none, even the first step was over the bounds{bounds}");
            }
        }
    }
    out
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 24.0;

/// Latency against rate, p50 and p99 on a log scale (a backlog's seconds
/// and a healthy gate's milliseconds on one chart), the bound dashed and
/// the found rate marked. `None` without a curve.
pub fn curve_svg(r: &LoadReport) -> Option<String> {
    let points = &r.curve;
    if points.is_empty() {
        return None;
    }
    let x_max = points.iter().map(|p| p.asked).fold(0.0, f64::max) * 1.05;
    let bound = r.bounds.map(|b| b.max_p99_us as f64);
    let lat = |p: &crate::load::CurvePoint| [p.latency.p50 as f64, p.latency.p99 as f64];
    let top = points.iter().flat_map(lat).chain(bound).fold(1.0, f64::max) * 1.5;
    let bottom = points.iter().flat_map(lat).fold(top, f64::min).max(1.0) / 1.5;
    let (lo, hi) = (bottom.log10(), top.log10());
    let x = |v: f64| LEFT + v / x_max * (WIDTH - LEFT - 10.0);
    let y = |us: f64| 8.0 + (1.0 - (us.max(1.0).log10() - lo) / (hi - lo).max(1e-9)) * (HEIGHT - BOTTOM - 8.0);
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg class=\"load-curve\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" aria-label=\"corrected latency against request rate{}\">",
        bound.map_or(String::new(), |b| format!(", bound {}", show_us(b as u64)))
    );
    let b = HEIGHT - BOTTOM;
    let _ = write!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{b}\" x2=\"{WIDTH}\" y2=\"{b}\" stroke=\"#9ca3af\"></line><line x1=\"{LEFT}\" y1=\"8\" x2=\"{LEFT}\" y2=\"{b}\" stroke=\"#9ca3af\"></line><text x=\"2\" y=\"16\">{}</text><text x=\"2\" y=\"{b}\">{}</text><text x=\"{LEFT}\" y=\"{HEIGHT}\">0/s</text><text x=\"{}\" y=\"{HEIGHT}\" text-anchor=\"end\">{:.0}/s</text>",
        show_us(top as u64),
        show_us(bottom as u64),
        WIDTH - 10.0,
        x_max
    );
    if let Some(b) = bound {
        let _ = write!(
            out,
            "<line class=\"threshold\" x1=\"{LEFT}\" y1=\"{0:.1}\" x2=\"{WIDTH}\" y2=\"{0:.1}\" stroke=\"#b42318\" stroke-dasharray=\"5 4\"></line>",
            y(b)
        );
    }
    if let Some(found) = r.found_rate {
        let _ = write!(
            out,
            "<line class=\"found\" x1=\"{0:.1}\" y1=\"8\" x2=\"{0:.1}\" y2=\"{b}\" stroke=\"#1f7a3d\" stroke-dasharray=\"2 3\"></line><text x=\"{0:.1}\" y=\"20\" text-anchor=\"middle\">{found:.0}/s</text>",
            x(found)
        );
    }
    for (name, pick, colour) in [("p50", 0usize, "#2563eb"), ("p99", 1, "#111827")] {
        let line: Vec<String> = points.iter().map(|p| format!("{:.1},{:.1}", x(p.asked), y(lat(p)[pick]))).collect();
        let _ = write!(
            out,
            "<polyline class=\"{name}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"></polyline>",
            line.join(" ")
        );
        for p in points {
            let _ = write!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"><title>{:.0}/s: {name} {}</title></circle>",
                x(p.asked),
                y(lat(p)[pick]),
                if p.within { colour } else { "#b42318" },
                p.asked,
                show_us(lat(p)[pick] as u64)
            );
        }
    }
    out.push_str("</svg>");
    Some(out)
}

/// The gates a command judged itself (`load`, `attack`), as a table.
pub fn gates_html(gates: &[crate::load::CommandGateVerdict]) -> String {
    use super::release::esc;
    if gates.is_empty() {
        return String::new();
    }
    let mut out =
        String::from("<h2>Gates</h2><table id=\"gates\"><tr><th>gate</th><th>status</th><th>detail</th></tr>");
    for g in gates {
        let _ = write!(out, "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", esc(&g.id), esc(&g.status), esc(&g.detail));
    }
    out.push_str("</table>");
    out
}

/// load.html: the figures of load.json for a person, self-contained (no
/// script, no request: the same content-security policy as every page).
pub fn render_html(r: &LoadReport) -> String {
    use super::release::esc;
    let s = &r.summary;
    let mut out = String::new();
    let failed = r.outcome() == crate::exit_code::Outcome::GateFailed;
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"><title>gauntlet load: {:.0}/s</title><style>body{{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:0 auto;padding:16px 24px}} .d{{padding:12px 20px;color:#fff;background:{}}} table{{border-collapse:collapse}} td,th{{border-bottom:1px solid #e5e7eb;padding:5px 10px;text-align:right;unicode-bidi:isolate}} th:first-child,td:first-child{{text-align:left}} svg text{{font-size:11px}} .note{{color:#4b5563}}</style></head><body><div class=\"d\" id=\"outcome\"><h1>Latency under load: {}</h1></div>",
        s.rate.asked,
        if failed { "#b42318" } else { "#1f7a3d" },
        if failed { "FAILED" } else { "passed" }
    );
    let _ = write!(
        out,
        "<p id=\"rates\">{:.0}/s asked, {:.1}/s achieved, {} arrivals for {:.0} s from {} runner(s): {} requests, {} decided, {:.2}% errors. Target: {}.</p>",
        s.rate.asked,
        s.rate.achieved,
        match s.arrivals {
            crate::load::Arrivals::Constant => "constant",
            crate::load::Arrivals::Poisson => "Poisson",
        },
        s.duration_s,
        r.runners,
        s.requests.scheduled,
        s.requests.decided,
        s.requests.error_rate * 100.0,
        esc(&r.target.description)
    );
    out.push_str("<h2>Percentiles</h2><table id=\"percentiles\"><tr><th></th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th></th></tr>");
    for (name, p, note) in [
        ("latency", &s.latency, "from the intended send time (corrected for coordinated omission)"),
        ("service", &s.service_latency, "the gate's own time"),
        ("send late", &s.send_error, "gauntlet's schedule error and connection waits"),
    ] {
        let _ = write!(
            out,
            "<tr><td>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"note\">{note}</td></tr>",
            show_us(p.p50),
            show_us(p.p90),
            show_us(p.p99),
            show_us(p.p99_9),
            show_us(p.max)
        );
    }
    let _ = write!(
        out,
        "</table><p>In flight: peak {} of {} allowed; {} request(s) waited for a free connection.</p>",
        s.in_flight_peak, s.in_flight_cap, s.cap_waits
    );
    let _ = write!(
        out,
        "<h2>Fail-open</h2><p id=\"fail-open\">{} of {} answers to cases blocked at rest allowed them under load.</p>",
        r.fail_open.count, r.fail_open.checked
    );
    if !r.fail_open.cases.is_empty() {
        out.push_str("<ul>");
        for c in &r.fail_open.cases {
            let _ = write!(out, "<li><code>{}</code></li>", esc(c));
        }
        out.push_str("</ul>");
    }
    out.push_str(&gates_html(&r.gates));
    if let Some(svg) = curve_svg(r) {
        let _ = write!(
            out,
            "<h2>Latency against rate</h2><figure id=\"curve\">{svg}<figcaption class=\"note\">p50 (blue) and p99 (black), log scale; red points are over the bounds{}.</figcaption></figure><table id=\"steps\"><tr><th>asked/s</th><th>achieved/s</th><th>p50</th><th>p99</th><th>service p50</th><th>errors</th><th></th></tr>",
            r.found_rate.map_or(String::new(), |f| format!("; the green line is the found rate, {f:.0}/s"))
        );
        for p in &r.curve {
            let _ = write!(
                out,
                "<tr><td>{:.0}</td><td>{:.1}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}%</td><td>{}</td></tr>",
                p.asked,
                p.achieved,
                show_us(p.latency.p50),
                show_us(p.latency.p99),
                show_us(p.service_latency.p50),
                p.error_rate * 100.0,
                if p.within { "within" } else { "over" }
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</body></html>\n");
    out
}
