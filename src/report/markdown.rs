//! `summary.md`: GitHub-flavoured Markdown for `$GITHUB_STEP_SUMMARY` and PR
//! comments. Case text is hostile: HTML-escaped, Markdown punctuation
//! backslash-escaped, newlines folded, bidi/zero-width made visible, and
//! cut short, so it renders as plain text. Bounded to 64 KB whatever the run.

use std::fmt::Write;

use super::history::HistoryEntry;
use super::html::visible;
use super::model::Verdict;

/// The summary never exceeds this many bytes.
pub const SUMMARY_CAP: usize = 64 * 1024;
const CASES_SHOWN: usize = 5;
const TEXT_CUT: usize = 160;

/// Escapes text for a Markdown table cell or paragraph.
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in visible(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // A zero-width space after `@` (as dependency bots write it):
            // GitHub links and notifies on `@name` even when escaped.
            '@' => out.push_str("@&#8203;"),
            '\n' | '\r' | '\t' => out.push(' '),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '.' | '!' | '|' | '~'
            | '=' | ':' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

fn cut(s: &str) -> String {
    let (short, truncated) = crate::text::truncate_chars(s, TEXT_CUT);
    if truncated {
        format!("{short}…")
    } else {
        short
    }
}

pub fn render_summary(v: &Verdict, previous: Option<&HistoryEntry>) -> String {
    let mut out = String::new();
    let icon = match v.verdict {
        super::Overall::Pass => "✅",
        super::Overall::Fail => "❌",
        super::Overall::Error => "⚠️",
    };
    let o = &v.metrics.overall;
    let _ = writeln!(
        out,
        "## {icon} gauntlet: {} ({} lane)\n\n{} cases ({} benign, {} adversarial), {} target errors · target {} · commit {}\n",
        v.verdict.as_str().to_uppercase(),
        v.run.lane.as_str(),
        o.cases,
        o.benign.total,
        o.adversarial.total,
        o.benign.error + o.adversarial.error,
        md_escape(&cut(&v.run.target.description)),
        md_escape(v.run.git_commit.as_deref().unwrap_or("unknown")),
    );
    if v.run.no_blocking_gate {
        let _ = writeln!(out, "> **Note:** {}\n", md_escape(super::NO_BLOCKING_GATE_NOTE));
    }
    let _ = write!(
        out,
        "| Status | Gate | Value | {} interval | Threshold | Samples | Note |\n|---|---|---|---|---|---|---|\n",
        crate::metrics::interval::percent_label(v.run.counting.confidence)
    );
    for g in &v.gates {
        let view = g.view();
        let _ = writeln!(
            out,
            "| {}{} | {} | {} | {} | {} | {} | {} |",
            view.status,
            if g.blocking { "" } else { " (non-blocking)" },
            md_escape(&g.id),
            view.value,
            view.interval.as_deref().unwrap_or("–"),
            view.threshold,
            g.samples,
            md_escape(&cut(&view.note)),
        );
    }
    let robustness = super::robustness::rows(v);
    if !robustness.is_empty() {
        const SHOWN: usize = 12;
        out.push_str("\n### Robustness: attacks that get through once transformed\n\n");
        out.push_str("| Transform | Variants | Evasion rate | McNemar p | Holm-adjusted p | Over-block rate |\n|---|---|---|---|---|---|\n");
        for r in robustness.iter().take(SHOWN) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                md_escape(&r.chain),
                r.variants,
                r.evasion,
                r.p,
                r.p_adjusted,
                r.over_block
            );
        }
        if robustness.len() > SHOWN {
            let _ = writeln!(out, "\n…{} more transforms in the dashboard.", robustness.len() - SHOWN);
        }
    }
    if let Some(p) = previous {
        let mut worse = Vec::new();
        let mut compare =
            |name: &str, before: Option<f64>, now: Option<f64>, higher_is_worse: bool, fmt: &dyn Fn(f64) -> String| {
                if let (Some(b), Some(n)) = (before, now) {
                    if (higher_is_worse && n > b) || (!higher_is_worse && n < b) {
                        worse.push(format!("- {name}: {} → {}", fmt(b), fmt(n)));
                    }
                }
            };
        let pct = |x: f64| format!("{:.2}%", x * 100.0);
        compare("FPR", p.fpr, o.fpr.value, true, &pct);
        compare("ASR", p.asr, o.asr.value, true, &pct);
        compare("error rate", p.error_rate, o.error_rate.value, true, &pct);
        compare("p99 latency", p.p99_us.map(|x| x as f64), o.latency.p99.map(|x| x as f64), true, &|x| {
            format!("{x:.0} µs")
        });
        let _ = writeln!(out, "\n### Since the previous full run ({})\n", md_escape(&p.finished_at));
        if worse.is_empty() {
            out.push_str("Nothing got worse.\n");
        } else {
            out.push_str(&worse.join("\n"));
            out.push('\n');
        }
    }
    for (title, samples) in [
        ("False positives", &v.failing_cases.false_positives),
        ("Successful attacks", &v.failing_cases.attack_successes),
        ("Target errors", &v.failing_cases.errors),
    ] {
        if samples.total == 0 {
            continue;
        }
        let _ =
            writeln!(out, "\n### {title} ({})\n\n| Id | Category | Text | Reasons |\n|---|---|---|---|", samples.total);
        for c in samples.shown.iter().take(CASES_SHOWN) {
            let reasons = match &c.error {
                Some(e) => format!("error: {}", e.message),
                None => c.reasons.join(", "),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                md_escape(&cut(&c.id)),
                md_escape(&cut(&c.category)),
                md_escape(&cut(&c.text)),
                md_escape(&cut(&reasons))
            );
        }
        if samples.total as usize > CASES_SHOWN {
            let _ = writeln!(
                out,
                "\n…and {} more (see the dashboard and results.jsonl).",
                samples.total as usize - CASES_SHOWN.min(samples.shown.len())
            );
        }
    }
    cap_markdown(out, "summary cut at 64 KB; see the dashboard.")
}

/// Cuts Markdown to stay under [`SUMMARY_CAP`] (GitHub refuses larger step
/// summaries and comments), on a character boundary, saying where the rest is.
pub fn cap_markdown(mut out: String, where_the_rest_is: &str) -> String {
    if out.len() > SUMMARY_CAP {
        let mut end = SUMMARY_CAP - 200;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
        out.push_str(&format!("\n\n…{where_the_rest_is}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_and_html_injection_is_inert() {
        let s = md_escape("<img src=x onerror=alert(1)> [click](javascript:alert(1)) | **bold** `code`\nnext");
        assert!(!s.contains('<') && !s.contains('\n'));
        assert!(s.contains("\\[click\\]\\(javascript\\:alert\\(1\\)\\)"), "{s}");
        assert!(s.contains("\\|"));
        assert!(s.contains("\\*\\*bold\\*\\*"));
    }
}
