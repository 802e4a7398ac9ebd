//! The rolling value of one signal rule over the log, as an inline SVG with
//! its threshold drawn: what an on-call reader checks first ("how far over,
//! for how long"). Shared by release-readiness.html and the dashboard.
//!
//! Points that were not eligible are gaps in the line, never zeros: a
//! quiet window is unknown, not healthy.

use std::fmt::Write;

use crate::release::signals::RuleState;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 150.0;
const LEFT: f64 = 52.0;
const BOTTOM: f64 = 20.0;

/// `None` when the rule has no eligible point to draw.
pub fn svg(state: &RuleState) -> Option<String> {
    let points = &state.series;
    let (first, last) = (points.first()?.at_ms, points.last()?.at_ms);
    let top = points.iter().filter_map(|p| p.value).fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))?;
    let signal = state.rule.signal;
    let y_max = (top.max(state.rule.above) * 1.15).max(f64::EPSILON);
    let span = (last - first).max(1) as f64;
    let x = |at: i64| LEFT + (at - first) as f64 / span * (WIDTH - LEFT - 8.0);
    let y = |v: f64| 6.0 + (1.0 - v / y_max) * (HEIGHT - BOTTOM - 6.0);
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg class=\"signal-chart\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" aria-label=\"{} over time, threshold {}\">",
        signal.as_str(),
        signal.show(state.rule.above)
    );
    // Axes: value labels at 0 and the top, times at both ends (UTC).
    let time = |at: i64| {
        chrono::DateTime::from_timestamp_millis(at).map(|t| t.format("%m-%d %H:%M").to_string()).unwrap_or_default()
    };
    let _ = write!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{b}\" x2=\"{WIDTH}\" y2=\"{b}\" stroke=\"#9ca3af\"></line><text x=\"2\" y=\"{b}\">{}</text><text x=\"2\" y=\"14\">{}</text><text x=\"{LEFT}\" y=\"{HEIGHT}\">{}</text><text x=\"{}\" y=\"{HEIGHT}\" text-anchor=\"end\">{} UTC</text>",
        signal.show(0.0),
        signal.show(y_max),
        time(first),
        WIDTH - 8.0,
        time(last),
        b = y(0.0),
    );
    let t = y(state.rule.above);
    let _ = write!(
        out,
        "<line class=\"threshold\" x1=\"{LEFT}\" y1=\"{t:.1}\" x2=\"{WIDTH}\" y2=\"{t:.1}\" stroke=\"#b42318\" stroke-dasharray=\"5 4\"></line><text x=\"{}\" y=\"{:.1}\" fill=\"#b42318\" text-anchor=\"end\">threshold {}</text>",
        WIDTH - 8.0,
        t - 3.0,
        signal.show(state.rule.above)
    );
    // One polyline per run of eligible points.
    for run in points.split(|p| p.value.is_none()).filter(|r| !r.is_empty()) {
        let coords: Vec<String> =
            run.iter().map(|p| format!("{:.1},{:.1}", x(p.at_ms), y(p.value.unwrap_or(0.0)))).collect();
        let _ = write!(
            out,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#2563eb\" stroke-width=\"1.5\"></polyline>",
            coords.join(" ")
        );
    }
    if let Some(at) = state.fired_at_ms {
        let _ = write!(
            out,
            "<line class=\"fired\" x1=\"{0:.1}\" y1=\"6\" x2=\"{0:.1}\" y2=\"{1:.1}\" stroke=\"#f59e0b\"></line><text x=\"{2:.1}\" y=\"16\" fill=\"#b45309\">fired</text>",
            x(at),
            y(0.0),
            x(at) + 3.0
        );
    }
    out.push_str("</svg>");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::signals::{AlertRule, RuleStatus, SeriesPoint, Signal};

    fn state(values: &[Option<f64>]) -> RuleState {
        let rule = AlertRule { id: "fpr-high".into(), signal: Signal::Fpr, above: 0.15, for_minutes: 5 };
        RuleState {
            status: RuleStatus::Clear,
            series: values
                .iter()
                .enumerate()
                .map(|(i, v)| SeriesPoint { at_ms: i as i64 * 60_000, value: *v })
                .collect(),
            ..RuleState::new(rule, None)
        }
    }

    #[test]
    fn not_eligible_points_are_gaps_and_the_threshold_is_drawn() {
        let svg = svg(&state(&[Some(0.05), Some(0.2), None, Some(0.1), Some(0.1)])).unwrap();
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert!(svg.contains("class=\"threshold\"") && svg.contains("threshold 15.00%"));
        assert!(svg.contains("role=\"img\""));
    }

    #[test]
    fn a_rule_never_eligible_has_no_chart() {
        assert!(svg(&state(&[None, None])).is_none());
        assert!(svg(&state(&[])).is_none());
    }
}
