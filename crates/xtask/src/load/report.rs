//! The run's figures, the checks on them, and how they are shown: a table for people, JSON
//! for BENCHMARKS and comparisons.

use std::fmt::Write as _;

use serde::Serialize;

use crate::load::correlate::DeadLettered;
use crate::load::peak::Peak;
use crate::load::stats::Latencies;

/// The machine the run ran on.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Machine {
    /// Logical CPUs available.
    pub cpus: usize,
    /// The CPU's model name, when /proc/cpuinfo tells.
    pub cpu_model: Option<String>,
    /// Total memory in MiB, when /proc/meminfo tells.
    pub memory_mib: Option<u64>,
    /// The 1-minute load average before the burst and after the run.
    pub load_before: Option<f64>,
    /// The 1-minute load average after the run.
    pub load_after: Option<f64>,
}

impl Machine {
    /// What /proc tells now (the after-run load is filled in later).
    pub fn now() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Self {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned()),
            memory_mib: meminfo
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map(|kb| kb / 1024),
            load_before: load_average(),
            load_after: None,
        }
    }
}

/// The 1-minute load average.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// What the run was asked to do.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Settings {
    /// The function the burst went to.
    pub producer: String,
    /// Its route.
    pub route: String,
    /// The URL.
    pub url: String,
    /// The sample body's file.
    pub body: String,
    /// The JSON pointer made unique per request.
    pub vary: String,
    /// Requests sent.
    pub requests: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Seconds after the burst given to the flow to finish.
    pub deadline_seconds: u64,
    /// The watched queue the flow ends in.
    pub watched: String,
    /// The run's id (in every token).
    pub run: String,
    /// When the burst started (UTC, RFC 3339).
    pub started_at: String,
    /// The commit checked out (`git describe --always --dirty`), when git tells.
    pub commit: Option<String>,
}

/// The checked-out commit of the repository at `root`, `-dirty` when files differ from it.
pub fn commit(root: &std::path::Path) -> Option<String> {
    let output = std::process::Command::new("git")
        .args(["describe", "--always", "--dirty", "--abbrev=12"])
        .current_dir(root)
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_owned())
}

/// The counts.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// Requests sent.
    pub sent: usize,
    /// Answered 2xx.
    pub accepted: usize,
    /// Answered 4xx.
    pub refused: usize,
    /// Answered 5xx (or another non-2xx, non-4xx status).
    pub errors: usize,
    /// No HTTP answer.
    pub failed: usize,
    /// Accepted requests with a message in the watched queue.
    pub notified: usize,
    /// Accepted requests with no message, in a failure queue (failed visibly, with a reason).
    pub dead_lettered: usize,
    /// Accepted requests with no message, still in a buffer queue after the deadline.
    pub late: usize,
    /// Accepted requests with no message, in no failure or buffer queue: lost.
    pub lost: usize,
    /// Messages beyond the first for one request.
    pub duplicates: usize,
    /// Requests not accepted that still led to a message.
    pub unaccepted_but_notified: usize,
    /// Other messages met in the watched queue (left there).
    pub foreign_messages: usize,
}

/// Rates and spans.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Throughput {
    /// From the first request sent to the last answer.
    pub burst_ms: u64,
    /// Accepted requests per second of the burst.
    pub accepted_per_second: Option<f64>,
    /// From the first request sent to the last first message of a notified request.
    pub end_to_end_ms: Option<u64>,
    /// Notified requests per second of that span.
    pub notified_per_second: Option<f64>,
}

/// A failure queue's messages before and after the run.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct QueueDelta {
    /// Its function.
    pub function: String,
    /// Which failure layer.
    pub layer: String,
    /// Messages (visible and in flight) before the burst.
    pub before: u64,
    /// After the run.
    pub after: u64,
}

/// A buffer queue's messages left after the run.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BufferLeft {
    /// Its consumer.
    pub function: String,
    /// Messages (visible and in flight) left.
    pub messages: u64,
}

/// A refusal seen, with how many requests got it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Refusal {
    /// The status, or `none` for no answer.
    pub status: String,
    /// How many requests got it.
    pub count: usize,
    /// The first one's body (or error).
    pub example: String,
}

/// One check on the figures.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Check {
    /// What it checks.
    pub name: String,
    /// Whether it held.
    pub held: bool,
    /// Whether the run fails when it does not hold.
    pub required: bool,
    /// The figures behind it.
    pub detail: String,
}

/// The whole report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// The machine.
    pub machine: Machine,
    /// The settings.
    pub settings: Settings,
    /// The counts.
    pub counts: Counts,
    /// Rates and spans.
    pub throughput: Throughput,
    /// From each request sent to its answer.
    pub answer_latency: Latencies,
    /// From each accepted request sent to its message in the watched queue.
    pub end_to_end_latency: Latencies,
    /// The buffered consumers.
    pub consumers: Vec<Peak>,
    /// The buffer queues after the run.
    pub buffers: Vec<BufferLeft>,
    /// The failure queues.
    pub failure_queues: Vec<QueueDelta>,
    /// The failure queues' records of the run's requests that were not notified.
    pub dead_letters: Vec<DeadLettered>,
    /// Refusals by status.
    pub refusals: Vec<Refusal>,
    /// A few lost requests' tokens, to look for.
    pub lost_examples: Vec<String>,
    /// The checks.
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether every required check held.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.held || !c.required)
    }
}

/// The checks on the figures: nothing lost or notified twice, no failure queue grew, no
/// buffer left behind, every buffered consumer within a cap of at least 2.
pub fn checks(
    counts: &Counts,
    timed_out: bool,
    interrupted: bool,
    consumers: &[Peak],
    buffers: &[BufferLeft],
    failures: &[QueueDelta],
) -> Vec<Check> {
    let check = |name: &str, held: bool, required: bool, detail: String| Check {
        name: name.to_owned(),
        held,
        required,
        detail,
    };
    let mut checks = vec![
        check(
            "ran to the end",
            !interrupted,
            true,
            if interrupted {
                "interrupted: the figures cover what was measured until then".to_owned()
            } else {
                "not interrupted".to_owned()
            },
        ),
        check(
            "every request accepted",
            counts.accepted == counts.sent,
            false,
            format!(
                "{} of {} (refused {}, errors {}, no answer {})",
                counts.accepted, counts.sent, counts.refused, counts.errors, counts.failed
            ),
        ),
        check(
            "every accepted request notified",
            counts.notified == counts.accepted,
            true,
            format!(
                "notified {} of {} accepted; dead-lettered {}, late {}, lost {}{}",
                counts.notified,
                counts.accepted,
                counts.dead_lettered,
                counts.late,
                counts.lost,
                if timed_out { " (deadline passed)" } else { "" }
            ),
        ),
        check(
            "nothing lost",
            counts.lost == 0,
            true,
            format!(
                "{} accepted requests neither notified, nor in a failure queue, nor buffered",
                counts.lost
            ),
        ),
        check(
            "notified once",
            counts.duplicates == 0,
            true,
            format!("{} duplicate messages", counts.duplicates),
        ),
    ];
    let grown: Vec<String> = failures
        .iter()
        .filter(|q| q.after > q.before)
        .map(|q| format!("{} {}: {} -> {}", q.function, q.layer, q.before, q.after))
        .collect();
    checks.push(check(
        "failure queues unchanged",
        grown.is_empty(),
        true,
        if grown.is_empty() {
            format!("{} queues, none grew", failures.len())
        } else {
            grown.join("; ")
        },
    ));
    let left: Vec<String> = buffers
        .iter()
        .filter(|b| b.messages > 0)
        .map(|b| format!("{}: {}", b.function, b.messages))
        .collect();
    checks.push(check(
        "buffers drained",
        left.is_empty(),
        true,
        if left.is_empty() {
            format!("{} buffer queues empty", buffers.len())
        } else {
            left.join("; ")
        },
    ));
    checks.push(check(
        "a buffered consumer ran",
        consumers.iter().any(|c| c.invocations > 0),
        true,
        format!(
            "{} buffered consumers, {} invocations",
            consumers.len(),
            consumers.iter().map(|c| c.invocations).sum::<u64>()
        ),
    ));
    for consumer in consumers {
        let (held, detail) = match (consumer.cap, consumer.peak) {
            (Some(cap), Some(peak)) => (cap >= 2 && peak <= cap, format!("peak {peak}, cap {cap}")),
            (Some(cap), None) => (cap >= 2, format!("never ran, cap {cap}")),
            (None, peak) => (
                false,
                format!(
                    "no max-concurrency declared (peak {})",
                    peak.map_or("-".to_owned(), |p| p.to_string())
                ),
            ),
        };
        checks.push(check(
            &format!("{} within its cap (>= 2)", consumer.function),
            held,
            true,
            detail,
        ));
    }
    checks
}

fn figure(value: Option<u64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn rate(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
}

/// The table people read.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let s = &report.settings;
    let m = &report.machine;
    let c = &report.counts;
    let t = &report.throughput;
    let _ = writeln!(
        out,
        "load run {} at {} (commit {}): {} x {} {} ({}), {} at once, body {} varying {}",
        s.run,
        s.started_at,
        s.commit.as_deref().unwrap_or("unknown"),
        s.requests,
        s.route,
        s.producer,
        s.url,
        s.concurrency,
        s.body,
        s.vary
    );
    let _ = writeln!(
        out,
        "machine: {} CPUs ({}), {} MiB; load average {} before, {} after\n",
        m.cpus,
        m.cpu_model.as_deref().unwrap_or("unknown CPU"),
        figure(m.memory_mib),
        m.load_before.map_or("-".to_owned(), |l| format!("{l:.2}")),
        m.load_after.map_or("-".to_owned(), |l| format!("{l:.2}")),
    );
    let rows = [
        ("sent", c.sent.to_string()),
        ("accepted (2xx)", c.accepted.to_string()),
        ("refused (4xx)", c.refused.to_string()),
        ("errors (5xx)", c.errors.to_string()),
        ("no answer", c.failed.to_string()),
        (
            &*format!("notified ({})", s.watched),
            c.notified.to_string(),
        ),
        (
            "dead-lettered (in a failure queue)",
            c.dead_lettered.to_string(),
        ),
        (
            &*format!("late (still buffered after {} s)", s.deadline_seconds),
            c.late.to_string(),
        ),
        ("lost (nowhere)", c.lost.to_string()),
        ("duplicate messages", c.duplicates.to_string()),
        (
            "notified though not accepted",
            c.unaccepted_but_notified.to_string(),
        ),
        ("burst (ms)", t.burst_ms.to_string()),
        ("accepted / s", rate(t.accepted_per_second)),
        ("end to end (ms)", figure(t.end_to_end_ms)),
        ("notified / s", rate(t.notified_per_second)),
    ]
    .map(|(k, v)| (k.to_owned(), v));
    for (name, value) in &rows {
        let _ = writeln!(out, "  {name:<36} {value:>10}");
    }
    let _ = writeln!(
        out,
        "\n  {:<36} {:>7} {:>7} {:>7} {:>7} {:>7}",
        "latency (ms)", "min", "p50", "p90", "p99", "max"
    );
    for (name, l) in [
        ("request -> answer", &report.answer_latency),
        ("request -> watched queue", &report.end_to_end_latency),
    ] {
        let _ = writeln!(
            out,
            "  {name:<36} {:>7} {:>7} {:>7} {:>7} {:>7}",
            figure(l.min_ms),
            figure(l.p50_ms),
            figure(l.p90_ms),
            figure(l.p99_ms),
            figure(l.max_ms)
        );
    }
    if !report.consumers.is_empty() {
        let _ = writeln!(
            out,
            "\n  {:<36} {:>7} {:>7} {:>11}",
            "buffered consumer", "cap", "peak", "invocations"
        );
        for p in &report.consumers {
            let _ = writeln!(
                out,
                "  {:<36} {:>7} {:>7} {:>11}",
                p.function,
                figure(p.cap.map(u64::from)),
                figure(p.peak.map(u64::from)),
                p.invocations
            );
        }
    }
    for refusal in &report.refusals {
        let _ = writeln!(
            out,
            "\n  {} x {}: {}",
            refusal.count, refusal.status, refusal.example
        );
    }
    for dead in &report.dead_letters {
        let _ = writeln!(
            out,
            "\n  {} in {}: {}",
            dead.count,
            dead.queue,
            dead.example_reason
                .as_deref()
                .unwrap_or("no reason recorded")
        );
    }
    if !report.lost_examples.is_empty() {
        let _ = writeln!(out, "\n  lost, e.g.: {}", report.lost_examples.join(", "));
    }
    let _ = writeln!(out);
    for check in &report.checks {
        let mark = match (check.held, check.required) {
            (true, _) => "ok  ",
            (false, true) => "FAIL",
            (false, false) => "note",
        };
        let _ = writeln!(out, "  {mark} {}: {}", check.name, check.detail);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(accepted: usize, notified: usize) -> Counts {
        Counts {
            sent: 10,
            accepted,
            notified,
            lost: accepted - notified,
            ..Counts::default()
        }
    }

    fn consumer(cap: Option<u32>, peak: Option<u32>) -> Peak {
        Peak {
            function: "mailer".into(),
            deployed: "app-mailer".into(),
            cap,
            peak,
            invocations: 5,
        }
    }

    fn failed(checks: &[Check]) -> Vec<&str> {
        checks
            .iter()
            .filter(|c| !c.held && c.required)
            .map(|c| c.name.as_str())
            .collect()
    }

    #[test]
    fn a_clean_run_passes_every_check() {
        let checks = checks(
            &counts(10, 10),
            false,
            false,
            &[consumer(Some(2), Some(2))],
            &[],
            &[],
        );
        assert!(failed(&checks).is_empty(), "{checks:?}");
    }

    #[test]
    fn a_lost_request_fails_the_run() {
        let checks = checks(
            &counts(10, 9),
            true,
            false,
            &[consumer(Some(2), Some(2))],
            &[],
            &[],
        );
        assert_eq!(
            failed(&checks),
            vec!["every accepted request notified", "nothing lost"]
        );
    }

    #[test]
    fn a_dead_lettered_request_is_not_notified_but_not_lost() {
        let mut dead = counts(10, 10);
        dead.notified = 9;
        dead.dead_lettered = 1;
        let checks = checks(&dead, false, false, &[consumer(Some(2), Some(2))], &[], &[]);
        assert_eq!(failed(&checks), vec!["every accepted request notified"]);
    }

    #[test]
    fn a_peak_over_the_cap_or_a_cap_under_two_or_none_fails_the_run() {
        for (cap, peak) in [(Some(2), Some(3)), (Some(1), Some(1)), (None, Some(1))] {
            let checks = checks(
                &counts(10, 10),
                false,
                false,
                &[consumer(cap, peak)],
                &[],
                &[],
            );
            assert_eq!(
                failed(&checks),
                vec!["mailer within its cap (>= 2)"],
                "{cap:?}"
            );
        }
    }

    #[test]
    fn a_grown_failure_queue_or_a_left_buffer_fails_and_a_refusal_is_only_noted() {
        let mut some_refused = counts(8, 8);
        some_refused.refused = 2;
        let grown = QueueDelta {
            function: "mailer".into(),
            layer: "failure queue".into(),
            before: 1,
            after: 2,
        };
        let left = BufferLeft {
            function: "mailer".into(),
            messages: 3,
        };
        let checks = checks(
            &some_refused,
            false,
            false,
            &[consumer(Some(2), Some(1))],
            &[left],
            &[grown],
        );
        assert_eq!(
            failed(&checks),
            vec!["failure queues unchanged", "buffers drained"]
        );
        let noted = checks
            .iter()
            .find(|c| c.name == "every request accepted")
            .unwrap();
        assert!(!noted.held && !noted.required);
    }

    #[test]
    fn no_buffered_consumer_running_fails_the_run() {
        let mut idle = consumer(Some(2), None);
        idle.invocations = 0;
        let checks = checks(&counts(10, 10), false, false, &[idle], &[], &[]);
        assert_eq!(failed(&checks), vec!["a buffered consumer ran"]);
    }

    #[test]
    fn an_interrupted_run_fails_whatever_it_measured() {
        let checks = checks(
            &counts(10, 10),
            false,
            true,
            &[consumer(Some(2), Some(2))],
            &[],
            &[],
        );
        assert_eq!(failed(&checks), vec!["ran to the end"]);
    }
}
