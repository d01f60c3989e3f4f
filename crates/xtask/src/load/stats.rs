//! The figures of a set of durations: nearest-rank percentiles and a rate.

/// Nearest-rank percentile `p` (0 < p <= 100) of `values`, which need not be sorted; `None`
/// for no values. The nearest rank is the smallest value with at least `p` percent of the
/// values at or below it, so p50 of 1..=4 is 2 and p99 of 100 values is the 99th.
pub fn percentile(values: &[u64], p: f64) -> Option<u64> {
    if values.is_empty() || !(p > 0.0 && p <= 100.0) {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// Events per second: `count` over `millis`; `None` when no time passed.
pub fn per_second(count: usize, millis: u64) -> Option<f64> {
    (millis > 0).then(|| count as f64 * 1000.0 / millis as f64)
}

/// The summary of a set of latencies in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Latencies {
    /// How many values.
    pub count: usize,
    /// The smallest.
    pub min_ms: Option<u64>,
    /// Nearest-rank median.
    pub p50_ms: Option<u64>,
    /// Nearest-rank 90th percentile.
    pub p90_ms: Option<u64>,
    /// Nearest-rank 99th percentile.
    pub p99_ms: Option<u64>,
    /// The largest.
    pub max_ms: Option<u64>,
}

impl Latencies {
    /// The summary of `values`.
    pub fn of(values: &[u64]) -> Self {
        Self {
            count: values.len(),
            min_ms: values.iter().min().copied(),
            p50_ms: percentile(values, 50.0),
            p90_ms: percentile(values, 90.0),
            p99_ms: percentile(values, 99.0),
            max_ms: values.iter().max().copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_takes_the_smallest_value_covering_the_share() {
        assert_eq!(percentile(&[4, 1, 3, 2], 50.0), Some(2));
        assert_eq!(percentile(&[4, 1, 3, 2], 75.0), Some(3));
        assert_eq!(percentile(&[4, 1, 3, 2], 100.0), Some(4));
        let hundred: Vec<u64> = (1..=100).rev().collect();
        assert_eq!(percentile(&hundred, 99.0), Some(99));
        assert_eq!(percentile(&hundred, 50.0), Some(50));
        let thousand: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&thousand, 99.0), Some(990));
        // A rank between two values takes the upper one: 95% of 10 values is 9.5 -> the 10th.
        let ten: Vec<u64> = (1..=10).collect();
        assert_eq!(percentile(&ten, 95.0), Some(10));
        assert_eq!(percentile(&[5, 1, 4, 2, 3], 50.0), Some(3));
    }

    #[test]
    fn one_value_is_every_percentile_and_none_is_none() {
        assert_eq!(percentile(&[7], 1.0), Some(7));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[1, 2], 0.0), None);
        assert_eq!(percentile(&[1, 2], 101.0), None);
    }

    #[test]
    fn a_long_tail_shows_in_p99_not_p50() {
        let mut values = vec![100; 98];
        values.extend([5_000, 9_000]);
        let summary = Latencies::of(&values);
        assert_eq!(summary.p50_ms, Some(100));
        assert_eq!(summary.p99_ms, Some(5_000));
        assert_eq!(summary.max_ms, Some(9_000));
        assert_eq!(summary.min_ms, Some(100));
        assert_eq!(summary.count, 100);
    }

    #[test]
    fn rate_is_per_second_and_undefined_for_no_time() {
        assert_eq!(per_second(2000, 4000), Some(500.0));
        assert_eq!(per_second(3, 0), None);
    }
}
