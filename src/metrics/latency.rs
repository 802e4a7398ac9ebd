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
        let n = values.len();
        let max = values.iter().copied().max();
        // Selection instead of a sort: from the highest rank down, each
        // pick only needs the part left of the previous one, whose values
        // are exactly the smallest ones. Linear rather than n log n.
        let mut upto = n;
        let mut at = |p: f64| {
            let index = nearest_rank(p, n)? - 1;
            let (_, value, _) = values[..upto].select_nth_unstable(index);
            let value = *value;
            upto = index + 1;
            Some(value)
        };
        let (p99, p95, p90, p50) = (at(99.0), at(95.0), at(90.0), at(50.0));
        LatencySummary { count: n as u64, p50, p90, p95, p99, max }
    }
}

/// The 1-based nearest rank of percentile `p` among `n` values.
fn nearest_rank(p: f64, n: usize) -> Option<usize> {
    (n > 0).then(|| (((p / 100.0) * n as f64).ceil() as usize).clamp(1, n))
}

/// Nearest-rank percentile of an ascending slice.
pub fn percentile_nearest_rank(sorted: &[u64], p: f64) -> Option<u64> {
    nearest_rank(p, sorted.len()).map(|rank| sorted[rank - 1])
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
    fn summary_by_selection_equals_sorted_nearest_rank() {
        // Scrambled values with many ties, of every length up to 300.
        for n in 0..300u64 {
            let values: Vec<u64> = (0..n).map(|i| (i * 7919 + 13) % 97 + (i % 5) * 1000).collect();
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let s = LatencySummary::from_unsorted(values);
            assert_eq!(s.count, n);
            assert_eq!(s.p50, percentile_nearest_rank(&sorted, 50.0), "n = {n}");
            assert_eq!(s.p90, percentile_nearest_rank(&sorted, 90.0), "n = {n}");
            assert_eq!(s.p95, percentile_nearest_rank(&sorted, 95.0), "n = {n}");
            assert_eq!(s.p99, percentile_nearest_rank(&sorted, 99.0), "n = {n}");
            assert_eq!(s.max, sorted.last().copied(), "n = {n}");
        }
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
