//! Latency percentiles (nearest-rank) and a log-scale histogram.
//!
//! Nearest-rank: the p-th percentile of n sorted values is the value at rank
//! ⌈p/100 · n⌉ (1-based). It is always an observed value, needs no
//! interpolation convention, and p100 is the maximum.

use serde::{Deserialize, Serialize};

/// Percentiles in microseconds; all `null` when there were no decisions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct LatencySummary {
    pub count: u64,
    pub p50: Option<u64>,
    pub p90: Option<u64>,
    pub p95: Option<u64>,
    pub p99: Option<u64>,
    pub max: Option<u64>,
}

impl LatencySummary {
    pub fn from_unsorted(mut values: Vec<u64>) -> Self {
        values.sort_unstable();
        let at = |p: f64| percentile_nearest_rank(&values, p);
        LatencySummary {
            count: values.len() as u64,
            p50: at(50.0),
            p90: at(90.0),
            p95: at(95.0),
            p99: at(99.0),
            max: values.last().copied(),
        }
    }
}

/// Nearest-rank percentile of an ascending slice.
pub fn percentile_nearest_rank(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Counts per power-of-two bucket: bucket i holds latencies in [2^(i-1), 2^i) µs
/// (bucket 0 holds 0 µs). Compact whatever the run size.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub struct LatencyHistogram {
    /// Exclusive upper bound of each bucket, microseconds.
    pub upper_us: Vec<u64>,
    pub counts: Vec<u64>,
}

impl LatencyHistogram {
    pub fn from_latencies(values: impl Iterator<Item = u64>) -> Self {
        let mut counts = vec![0u64; 64];
        for v in values {
            let bucket = (64 - v.leading_zeros()) as usize;
            counts[bucket.min(63)] += 1;
        }
        let last = counts.iter().rposition(|&c| c > 0).map(|i| i + 1).unwrap_or(0);
        counts.truncate(last);
        LatencyHistogram { upper_us: (0..last).map(|i| 1u64 << i).collect(), counts }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile_nearest_rank(&v, 50.0), Some(50));
        assert_eq!(percentile_nearest_rank(&v, 99.0), Some(99));
        assert_eq!(percentile_nearest_rank(&v, 100.0), Some(100));
        assert_eq!(percentile_nearest_rank(&[7], 99.0), Some(7));
        assert_eq!(percentile_nearest_rank(&[], 50.0), None);
        // Classic example: 15, 20, 35, 40, 50 → p30 = 20, p40 = 20, p50 = 35.
        let v = [15, 20, 35, 40, 50];
        assert_eq!(percentile_nearest_rank(&v, 30.0), Some(20));
        assert_eq!(percentile_nearest_rank(&v, 40.0), Some(20));
        assert_eq!(percentile_nearest_rank(&v, 50.0), Some(35));
    }

    #[test]
    fn histogram_buckets_by_power_of_two() {
        let h = LatencyHistogram::from_latencies([0, 1, 2, 3, 4, 1000].into_iter());
        assert_eq!(h.counts[0], 1); // 0
        assert_eq!(h.counts[1], 1); // 1
        assert_eq!(h.counts[2], 2); // 2, 3
        assert_eq!(h.counts[3], 1); // 4
        assert_eq!(h.counts.iter().sum::<u64>(), 6);
        assert_eq!(*h.upper_us.last().unwrap(), 1024);
    }
}
