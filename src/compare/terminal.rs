//! The diff as a terminal table: every cell made terminal-safe.

use std::fmt::Write;

use super::Diff;
use crate::text::terminal_safe;

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.2}%", v * 100.0)).unwrap_or_else(|| "-".into())
}

fn points(v: f64) -> String {
    format!("{:+.2}", v * 100.0)
}

/// One row per compared rate, then the flip counts and the outcome line.
pub fn render_terminal(d: &Diff) -> String {
    let header = ["RATE", "A", "B", "B-A (pt)", "INTERVAL (pt)", "McNEMAR p", "JUDGED"].map(String::from);
    let mut rows = vec![header];
    for r in &d.rates {
        rows.push([
            terminal_safe(&r.id),
            pct(r.a.value),
            pct(r.b.value),
            r.difference.map(points).unwrap_or_else(|| "-".into()),
            r.interval.map(|[l, h]| format!("[{}, {}]", points(l), points(h))).unwrap_or_else(|| "-".into()),
            r.paired.as_ref().map(|p| format!("{:.3}", p.p_value)).unwrap_or_else(|| "-".into()),
            match (r.judged, r.regression) {
                (true, true) => "REGRESSED".into(),
                (true, false) => "ok".into(),
                (false, _) => "shown".into(),
            },
        ]);
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    let f = &d.flips;
    let _ = writeln!(
        out,
        "\n{} shared cases; flipped: {} attacks newly allowed, {} benign newly blocked, {} new errors; {} attacks newly stopped, {} benign newly allowed",
        d.cases.shared,
        f.attacks_newly_allowed.count,
        f.benign_newly_blocked.count,
        f.new_errors.count,
        f.attacks_newly_stopped.count,
        f.benign_newly_allowed.count
    );
    for c in &d.changed {
        let _ = writeln!(out, "changed: {}", terminal_safe(c));
    }
    let _ = writeln!(
        out,
        "diff: {}",
        if d.regressions.is_empty() {
            "no regression".to_string()
        } else {
            format!("REGRESSION in {}", terminal_safe(&d.regressions.join(", ")))
        }
    );
    out
}
