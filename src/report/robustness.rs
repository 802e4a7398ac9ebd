//! The robustness table every human report shows: one row per transform
//! chain, worst first (by the upper bound of its evasion rate), with the
//! raw and Holm-adjusted McNemar p and the over-block rate.

use super::model::Verdict;
use crate::metrics::Rate;

/// One row: chain, variants, evasion rate with interval, raw p, adjusted p,
/// over-block rate with interval.
pub struct RobustnessRow {
    pub chain: String,
    pub variants: u64,
    pub evasion: String,
    pub p: String,
    pub p_adjusted: String,
    pub over_block: String,
}

fn rate(r: &Rate) -> String {
    match (r.value, r.low, r.high) {
        (Some(v), Some(l), Some(h)) => {
            format!("{:.1}% [{:.1}%, {:.1}%] ({}/{})", v * 100.0, l * 100.0, h * 100.0, r.numerator, r.denominator)
        }
        _ => "–".into(),
    }
}

fn p(v: Option<f64>) -> String {
    match v {
        Some(p) if p < 1e-4 => format!("{p:.1e}"),
        Some(p) => format!("{p:.4}"),
        None => "–".into(),
    }
}

pub fn rows(v: &Verdict) -> Vec<RobustnessRow> {
    let mut chains: Vec<_> = v.metrics.by_transform.iter().collect();
    chains.sort_by(|a, b| {
        let high = |s: &crate::metrics::TransformStats| s.evasion_rate.high.unwrap_or(-1.0);
        high(b.1).total_cmp(&high(a.1)).then_with(|| a.0.cmp(b.0))
    });
    chains
        .into_iter()
        .map(|(chain, s)| RobustnessRow {
            chain: chain.clone(),
            variants: s.variants,
            evasion: rate(&s.evasion_rate),
            p: p(s.p_evasion),
            p_adjusted: p(s.p_evasion_adjusted),
            over_block: rate(&s.over_block_rate),
        })
        .collect()
}
