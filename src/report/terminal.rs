//! The terminal gate table.

use std::fmt::Write;

use super::Verdict;
use crate::text::terminal_safe;

fn note_cell(note: &str) -> String {
    let (short, cut) = crate::text::truncate_chars(note, 100);
    terminal_safe(&if cut { format!("{short}…") } else { short })
}

/// Renders the gate table and the verdict line. Every cell is made terminal-safe.
pub fn render(v: &Verdict) -> String {
    let header = ["STATUS", "GATE", "VALUE", "INTERVAL", "THRESHOLD", "SAMPLES", "MODE", "NOTE"];
    let rows: Vec<[String; 8]> = v
        .gates
        .iter()
        .map(|g| {
            let view = g.view();
            [
                view.status.to_uppercase(),
                terminal_safe(&g.id),
                view.value,
                view.interval.unwrap_or_else(|| "-".into()),
                view.threshold,
                g.samples.to_string(),
                format!("{:?}", g.mode).to_lowercase(),
                note_cell(&view.note),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String]| {
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            let _ = write!(out, "{cell}{}", " ".repeat(pad + 2));
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    };
    line(&mut out, &header.map(String::from));
    for row in &rows {
        line(&mut out, row);
    }
    let o = &v.metrics.overall;
    let _ = writeln!(
        out,
        "\n{} cases ({} benign, {} adversarial), {} errors; lane {}; target {}",
        o.cases,
        o.benign.total,
        o.adversarial.total,
        o.benign.error + o.adversarial.error,
        v.run.lane.as_str(),
        terminal_safe(&v.run.target.description),
    );
    if let Some(ms) = v.run.target.throttled_ms {
        let _ = writeln!(
            out,
            "throttled: requests waited {:.1} s in all for the rate limit or the server's 429s",
            ms as f64 / 1e3
        );
    }
    if let Some(r) = v.run.target.restarts {
        let _ = writeln!(
            out,
            "restarts: {} after a crash or hang (max-restarts), {} to free the cases queued behind a timed-out one",
            r.failures, r.timeouts
        );
    }
    if v.run.no_blocking_gate {
        let _ = writeln!(out, "note: {}", super::NO_BLOCKING_GATE_NOTE);
    }
    if let Some(reason) = &v.run.aborted {
        let _ = writeln!(out, "run incomplete: {}", terminal_safe(reason));
    }
    let failing: Vec<&str> =
        v.gates.iter().filter(|g| g.blocking && g.status.is_failing()).map(|g| g.id.as_str()).collect();
    let _ = writeln!(
        out,
        "verdict: {}{}",
        v.verdict.as_str().to_uppercase(),
        if failing.is_empty() { String::new() } else { format!(" (blocking: {})", terminal_safe(&failing.join(", "))) }
    );
    out
}
