//! The diff as GitHub Markdown, for a pull-request comment: bounded to
//! 64 KB, every piece of run text escaped (mentions and images included).

use std::fmt::Write;

use super::{Diff, FlipList, RateDiff, Worse};
use crate::corpus::Decision;
use crate::report::markdown::{cap_markdown, md_escape};

/// Flipped cases shown per kind.
const FLIPS_SHOWN: usize = 10;
const TEXT_SHOWN: usize = 120;

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.2}%", v * 100.0)).unwrap_or_else(|| "–".into())
}

fn points(v: f64) -> String {
    format!("{:+.2} pt", v * 100.0)
}

fn decision(d: Option<Decision>) -> &'static str {
    match d {
        Some(Decision::Allow) => "allow",
        Some(Decision::Block) => "block",
        Some(Decision::RequireApproval) => "require_approval",
        None => "error",
    }
}

fn rate_row(out: &mut String, r: &RateDiff) {
    let interval = r
        .interval
        .map(|[l, h]| format!("[{}, {}] ({:?}, {:.1}%)", points(l), points(h), r.interval_kind, r.confidence * 100.0))
        .unwrap_or_else(|| "–".into())
        .to_lowercase();
    let paired = r
        .paired
        .as_ref()
        .map(|p| format!("{} / {} of {} (p = {:.3})", p.only_a, p.only_b, p.cases, p.p_value))
        .unwrap_or_else(|| "–".into());
    let verdict = match (r.judged, r.regression) {
        (true, true) => "**regressed**",
        (true, false) => "ok",
        (false, _) => "shown",
    };
    let direction = if r.worse == Worse::Lower { " ↑" } else { " ↓" };
    let _ = writeln!(
        out,
        "| {}{direction} | {} | {} | {} | {interval} | {paired} | {verdict} |",
        md_escape(&r.id),
        pct(r.a.value),
        pct(r.b.value),
        r.difference.map(points).unwrap_or_else(|| "–".into()),
    );
}

fn flip_section(out: &mut String, title: &str, list: &FlipList) {
    if list.count == 0 {
        return;
    }
    let _ = writeln!(out, "\n**{title}: {}**\n", list.count);
    let _ = writeln!(out, "| case | category | A | B | input |\n|---|---|---|---|---|");
    for c in list.cases.iter().take(FLIPS_SHOWN) {
        let (text, cut) = crate::text::truncate_chars(&c.input, TEXT_SHOWN);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {}{} |",
            md_escape(&c.id),
            md_escape(&c.category),
            decision(c.a),
            decision(c.b),
            md_escape(&text),
            if cut { "…" } else { "" }
        );
    }
    if list.count as usize > FLIPS_SHOWN {
        let _ = writeln!(out, "\n…and {} more in diff.json.", list.count as usize - FLIPS_SHOWN);
    }
}

/// The diff for a PR comment.
pub fn render_markdown(d: &Diff) -> String {
    let mut out = String::new();
    let headline = if d.regressions.is_empty() {
        "no blocking gate's rate regressed".to_string()
    } else {
        format!("**REGRESSION** in {}", d.regressions.iter().map(|r| md_escape(r)).collect::<Vec<_>>().join(", "))
    };
    let _ = writeln!(out, "## gauntlet diff: {headline}\n");
    let _ = writeln!(
        out,
        "A = `{}` ({}, {} cases) · B = `{}` ({}, {} cases)\n",
        md_escape(&d.a.path),
        md_escape(&d.a.verdict),
        d.a.cases,
        md_escape(&d.b.path),
        md_escape(&d.b.verdict),
        d.b.cases
    );
    if d.changed.is_empty() {
        let _ = writeln!(out, "Same config, corpora, gates and target: only the target's answers differ.\n");
    } else {
        let _ = writeln!(out, "Changed between the runs:\n");
        for c in &d.changed {
            let _ = writeln!(out, "- {}", md_escape(c));
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{} cases shared (compared paired); {} only in A, {} only in B, {} with the same id but another input.\n",
        d.cases.shared, d.cases.only_a, d.cases.only_b, d.cases.same_id_other_input
    );
    let _ = writeln!(
        out,
        "| rate | A | B | B − A | interval | discordant A / B (McNemar) | judged |\n|---|---|---|---|---|---|---|"
    );
    for r in &d.rates {
        rate_row(&mut out, r);
    }
    let _ = writeln!(
        out,
        "\n↓: lower is better, ↑: higher is better. A blocking gate's rate regresses when its whole interval of the worsening lies beyond {} (confidence {:.2}% for the judged rates: 95% shared among them).",
        points(d.tolerance),
        d.judged_confidence * 100.0
    );
    let us = |v: &[Option<u64>; 3]| {
        v.iter().map(|x| x.map(|x| x.to_string()).unwrap_or_else(|| "–".into())).collect::<Vec<_>>().join(" / ")
    };
    let _ = writeln!(
        out,
        "\nLatency p50 / p95 / p99 (shown, not judged): A {} µs · B {} µs",
        us(&d.latency.a),
        us(&d.latency.b)
    );
    let f = &d.flips;
    flip_section(&mut out, "Attacks newly allowed", &f.attacks_newly_allowed);
    flip_section(&mut out, "Benign cases newly blocked", &f.benign_newly_blocked);
    flip_section(&mut out, "New target errors", &f.new_errors);
    let improved = f.attacks_newly_stopped.count + f.benign_newly_allowed.count + f.errors_resolved.count;
    if improved > 0 {
        let _ = writeln!(
            out,
            "\nImproved: {} attacks newly stopped, {} benign cases newly allowed, {} errors resolved (listed in diff.json).",
            f.attacks_newly_stopped.count, f.benign_newly_allowed.count, f.errors_resolved.count
        );
    }
    cap_markdown(out, "cut to stay under 64 KB; diff.json has everything.")
}
