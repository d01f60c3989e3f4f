//! Medians, 90th percentiles and the Markdown table of `cargo xtask coldstart`.

use std::{fmt::Write, time::Duration};

/// What one cold start measured.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Spawn to the first `GET /next`.
    pub init: Duration,
    /// Event handed out to the response's `POST`.
    pub first_invoke: Duration,
    /// The part of `first_invoke` spent inside the fake AWS endpoint (request head to answer).
    pub in_endpoint: Duration,
    /// `VmHWM` after the response, KiB.
    pub peak_rss_kib: u64,
    /// The AWS operations the first event called, in order.
    pub calls: Vec<String>,
}

/// The value at or below which `percent` % of `values` lie (nearest rank); `None` when empty.
pub fn percentile<T: Copy + Ord>(values: &[T], percent: usize) -> Option<T> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// The `VmHWM` line of a `/proc/<pid>/status` text, in KiB.
pub fn vm_hwm_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// The rows the init ratios are taken against: one column each, in this order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baselines(pub Vec<usize>);

/// What the report says about the run, above the table.
#[derive(Debug, Clone, Default)]
pub struct RunFacts {
    pub runs: usize,
    pub load_before: String,
    pub load_after: String,
}

/// The Markdown report: one row per binary, and one ratio column for each of `baselines`
/// (the row's init median over the baseline's).
pub fn report(
    names: &[&str],
    samples: &[Vec<Sample>],
    baselines: &Baselines,
    facts: &RunFacts,
) -> String {
    let column = |index: usize, pick: fn(&Sample) -> Duration| -> Vec<Duration> {
        samples[index].iter().map(pick).collect()
    };
    let medians: Vec<Duration> = baselines
        .0
        .iter()
        .map(|&index| percentile(&column(index, |s| s.init), 50).unwrap_or_default())
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} runs per binary (after 1 warm-up run), round-robin; load average {} before, {} after.\n",
        facts.runs, facts.load_before, facts.load_after
    );
    let ratio_heads: String = baselines
        .0
        .iter()
        .map(|&index| format!(" init / {} |", names[index]))
        .collect();
    let _ = writeln!(
        out,
        "| binary | init median | init p90 |{ratio_heads} first invoke median | first invoke p90 | of which in fake AWS endpoint (median) | first invoke excluding endpoint (median) | VmHWM median | VmHWM max | AWS calls on the first event |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|{}---:|---:|---:|---:|---:|---:|---|",
        "---:|".repeat(baselines.0.len())
    );
    for (index, name) in names.iter().enumerate() {
        let init = column(index, |s| s.init);
        let first = column(index, |s| s.first_invoke);
        let endpoint = column(index, |s| s.in_endpoint);
        let excluding: Vec<Duration> = samples[index]
            .iter()
            .map(|s| s.first_invoke.saturating_sub(s.in_endpoint))
            .collect();
        let rss: Vec<u64> = samples[index].iter().map(|s| s.peak_rss_kib).collect();
        let init_median = percentile(&init, 50).unwrap_or_default();
        let ratios: String = medians
            .iter()
            .map(|baseline| {
                if baseline.is_zero() {
                    " - |".to_owned()
                } else {
                    format!(
                        " {:.2}x |",
                        init_median.as_secs_f64() / baseline.as_secs_f64()
                    )
                }
            })
            .collect();
        let calls = samples[index]
            .first()
            .map(|s| s.calls.join(", "))
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "none".to_owned());
        let _ = writeln!(
            out,
            "| {name} | {} | {} |{ratios} {} | {} | {} | {} | {} | {} | {calls} |",
            ms(init_median),
            ms(percentile(&init, 90).unwrap_or_default()),
            ms(percentile(&first, 50).unwrap_or_default()),
            ms(percentile(&first, 90).unwrap_or_default()),
            ms(percentile(&endpoint, 50).unwrap_or_default()),
            ms(percentile(&excluding, 50).unwrap_or_default()),
            mib(percentile(&rss, 50).unwrap_or_default()),
            mib(rss.iter().copied().max().unwrap_or_default()),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<u32> = (1..=10).rev().collect();
        assert_eq!(percentile(&values, 50), Some(5));
        assert_eq!(percentile(&values, 90), Some(9));
        assert_eq!(percentile(&values, 100), Some(10));
        assert_eq!(percentile(&[7u32], 90), Some(7));
        assert_eq!(percentile::<u32>(&[], 50), None);
    }

    #[test]
    fn vm_hwm_is_read_from_the_status_text() {
        let status = "Name:\tbootstrap\nVmPeak:\t  100 kB\nVmHWM:\t    9728 kB\nVmRSS:\t 9000 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(9728));
        assert_eq!(vm_hwm_kib("Name:\tx\n"), None);
    }

    #[test]
    fn the_report_has_a_ratio_column_per_baseline() {
        let sample = |init_ms: u64| Sample {
            init: Duration::from_millis(init_ms),
            first_invoke: Duration::from_millis(2),
            in_endpoint: Duration::from_millis(1),
            peak_rss_kib: 4096,
            calls: vec!["AWSEvents.PutEvents".to_owned()],
        };
        let facts = RunFacts {
            runs: 1,
            load_before: "0.1 0.2 0.3".to_owned(),
            load_after: "0.1 0.2 0.3".to_owned(),
        };
        let table = report(
            &["floor", "hello", "gift-wrap"],
            &[vec![sample(4)], vec![sample(3)], vec![sample(6)]],
            &Baselines(vec![0, 1]),
            &facts,
        );
        assert!(
            table.contains("| binary | init median | init p90 | init / floor | init / hello |"),
            "{table}"
        );
        assert!(
            table.contains("|---|---:|---:|---:|---:|---:|"),
            "one alignment cell per column: {table}"
        );
        assert!(
            table.contains("| floor | 4.00 ms | 4.00 ms | 1.00x | 1.33x |"),
            "{table}"
        );
        assert!(
            table.contains("| gift-wrap | 6.00 ms | 6.00 ms | 1.50x | 2.00x |"),
            "{table}"
        );
        assert!(table.contains("| 1.00 ms | 4.0 MiB |"), "{table}");
        let separator_cells = table
            .lines()
            .find(|l| l.starts_with("|---"))
            .unwrap()
            .matches('|')
            .count();
        let header_cells = table
            .lines()
            .find(|l| l.starts_with("| binary"))
            .unwrap()
            .matches('|')
            .count();
        let row_cells = table
            .lines()
            .find(|l| l.starts_with("| gift-wrap"))
            .unwrap()
            .matches('|')
            .count();
        assert_eq!(header_cells, row_cells, "{table}");
        assert_eq!(header_cells, separator_cells, "{table}");
    }
}
