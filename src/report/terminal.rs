//! The terminal gate table.

use std::fmt::Write;

use super::text::terminal_safe;
use super::{GateReport, Verdict};
use crate::evaluate::{format_value, Metric};

fn value_cell(g: &GateReport) -> String {
    g.value.map(|v| format_value(g.metric, v)).unwrap_or_else(|| "no data".into())
}

fn interval_cell(g: &GateReport) -> String {
    match g.interval {
        Some([low, high]) if g.metric != Metric::Count => format!("[{:.2}%, {:.2}%]", low * 100.0, high * 100.0),
        _ => "-".into(),
    }
}

fn threshold_cell(g: &GateReport) -> String {
    let op = match g.comparator {
        crate::evaluate::Comparator::Max => "≤",
        crate::evaluate::Comparator::Min => "≥",
    };
    format!("{op} {}", format_value(g.metric, g.threshold))
}

fn note_cell(g: &GateReport) -> String {
    use crate::evaluate::GateStatus;
    let note = match (&g.waiver, g.status) {
        (Some(w), _) => format!("waived until {} ({}), {} days left", w.expires, w.tracking, w.days_left),
        (None, GateStatus::Pass) if g.id == crate::evaluate::LIFECYCLE_GATE => g.detail.clone(),
        (None, GateStatus::Pass) => String::new(),
        (None, _) => g.detail.lines().next().unwrap_or("").to_string(),
    };
    let (short, cut) = super::text::truncate_chars(&note, 100);
    terminal_safe(&if cut { format!("{short}…") } else { short })
}

/// Renders the gate table and the verdict line. Every cell is made terminal-safe.
pub fn render(v: &Verdict) -> String {
    let header = ["STATUS", "GATE", "VALUE", "INTERVAL", "THRESHOLD", "SAMPLES", "MODE", "NOTE"];
    let rows: Vec<[String; 8]> = v
        .gates
        .iter()
        .map(|g| {
            [
                g.status.as_str().to_uppercase(),
                terminal_safe(&g.id),
                value_cell(g),
                interval_cell(g),
                threshold_cell(g),
                g.samples.to_string(),
                format!("{:?}", g.mode).to_lowercase(),
                note_cell(g),
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
