//! The waterfall people read: per trace, one row per hop (start offset from the trace's
//! first span, duration, the gap before it, then the function, the event and the result,
//! indented under the hop that caused it), its publishes and dead-letter sends under it,
//! then where the flow stopped and which failure queue holds the event.
//!
//! ```text
//! trace 6740a1b2c3d4e5f60718293a4b5c6d7e · 4 hops · 260 ms · from 2026-11-30 00:53:20.000 UTC
//!     start      took       gap  hop
//!      0 ms     50 ms         -  parcels · POST /parcels · published
//!     30 ms     15 ms            │ publish Created to app-bus: e-1
//!    100 ms     30 ms     55 ms  └─ sorting · Created · published
//! ...
//! stopped: billing · Shipped (event e-2) · dead_letter: gateway down; held by failure queue app-billing-failure
//! ```

use std::fmt::Write as _;

use super::tree::{Hop, StopReason, TraceReport, TraceTree};

/// The whole report as text.
pub fn render(report: &TraceReport) -> String {
    let mut out = String::new();
    for (index, trace) in report.traces.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        render_trace(&mut out, trace);
    }
    out
}

fn render_trace(out: &mut String, trace: &TraceTree) {
    let hops = trace.hops.len();
    let _ = writeln!(
        out,
        "trace {} · {hops} hop{} · {} · from {}",
        trace.trace_id,
        if hops == 1 { "" } else { "s" },
        duration(trace.end_unix_nano.saturating_sub(trace.start_unix_nano)),
        timestamp(trace.start_unix_nano)
    );
    let _ = writeln!(out, "{:>9} {:>9} {:>9}  hop", "start", "took", "gap");
    // Per depth (from 1), whether a later sibling hangs at that depth: its line continues.
    let mut open: Vec<bool> = Vec::new();
    for (index, hop) in trace.hops.iter().enumerate() {
        let last = !trace.hops[index + 1..]
            .iter()
            .take_while(|later| later.depth >= hop.depth)
            .any(|later| later.depth == hop.depth);
        open.truncate(hop.depth.saturating_sub(1));
        let lines: String = open
            .iter()
            .map(|&more| if more { "│  " } else { "   " })
            .collect();
        let (indent, under) = match (hop.depth, last) {
            (0, _) => (String::new(), String::new()),
            (_, true) => (format!("{lines}└─ "), format!("{lines}   ")),
            (_, false) => (format!("{lines}├─ "), format!("{lines}│  ")),
        };
        if hop.depth > 0 {
            open.push(!last);
        }
        render_hop(out, hop, &indent, &under);
    }
    for link in &trace.links {
        let _ = writeln!(
            out,
            "linked: {} span {} continues trace {} (span {}){}",
            link.from_service,
            link.from_span_id,
            link.trace_id,
            link.span_id,
            link.redelivery
                .as_deref()
                .map(|r| format!(", {r}"))
                .unwrap_or_default()
        );
    }
    if trace.stopped.is_empty() {
        let _ = writeln!(out, "no hop failed");
    }
    for stop in &trace.stopped {
        let what = match (&stop.detail_type, &stop.event_id) {
            (Some(detail_type), Some(id)) => format!(" · {detail_type} (event {id})"),
            (Some(detail_type), None) => format!(" · {detail_type}"),
            (None, Some(id)) => format!(" (event {id})"),
            (None, None) => String::new(),
        };
        let reason = stop
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        let held = match (stop.why, &stop.failure_queue) {
            (StopReason::Retried, Some(queue)) => format!(
                "; failed with no later attempt in the logs: still being retried, or after \
                 Lambda's last retry held by failure queue {queue}"
            ),
            (StopReason::Retried, None) => {
                "; failed with no later attempt in the logs: still being retried, or after \
                 Lambda's last retry in the function's failure queue"
                    .to_owned()
            }
            (_, Some(queue)) => format!("; held by failure queue {queue}"),
            (_, None) => "; the function's failure queue is not known (no stack output)".to_owned(),
        };
        let _ = writeln!(
            out,
            "stopped: {}{what} · {}{reason}{held}",
            stop.service,
            stop.why.as_str()
        );
    }
}

/// One hop's row (`indent`: the tree lines before its name) and its publishes and dead letters
/// (`under`: the tree lines that continue past it).
fn render_hop(out: &mut String, hop: &Hop, indent: &str, under: &str) {
    let event = hop.detail_type.as_deref().unwrap_or(&hop.name);
    let result = hop.result.clone().unwrap_or_else(|| match hop.status {
        eventrail_contract::trace::SpanStatus::Error => "error".to_owned(),
        _ => "-".to_owned(),
    });
    let redelivered = hop
        .redelivery
        .as_deref()
        .map(|r| format!(" · {r}"))
        .unwrap_or_default();
    let failed = match (&hop.status_message, hop.result.as_deref()) {
        (Some(message), Some("published" | "idempotent_skip") | None) => format!(": {message}"),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "{:>9} {:>9} {:>9}  {indent}{} · {event} · {result}{redelivered}{failed}",
        duration(hop.start_offset_ns),
        duration(hop.duration_ns),
        hop.gap_ns.map_or_else(|| "-".to_owned(), signed_duration),
        hop.service,
    );
    for publish in &hop.publishes {
        let types = if publish.detail_types.is_empty() {
            "events".to_owned()
        } else {
            publish.detail_types.join(", ")
        };
        let to = publish
            .destination
            .as_deref()
            .map(|d| format!(" to {d}"))
            .unwrap_or_default();
        let ids = if publish.event_ids.is_empty() {
            String::new()
        } else {
            format!(": {}", publish.event_ids.join(", "))
        };
        let failed = match publish.status {
            eventrail_contract::trace::SpanStatus::Error => format!(
                " FAILED{}",
                publish
                    .status_message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "{:>9} {:>9} {:>9}  {under}│ publish {types}{to}{ids}{failed}",
            duration(publish.start_offset_ns),
            duration(publish.duration_ns),
            ""
        );
    }
    for letter in &hop.dead_letters {
        let _ = writeln!(
            out,
            "{:>9} {:>9} {:>9}  {under}│ dead letter to {}{}",
            duration(letter.start_offset_ns),
            duration(letter.duration_ns),
            "",
            letter.failure_queue,
            letter
                .reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
    }
}

/// `0.4 ms`, `123 ms`, `12.3 s`.
fn duration(nanos: u64) -> String {
    let millis = nanos as f64 / 1e6;
    if millis < 1.0 && nanos > 0 {
        format!("{millis:.1} ms")
    } else if millis < 10_000.0 {
        format!("{millis:.0} ms")
    } else {
        format!("{:.1} s", millis / 1000.0)
    }
}

fn signed_duration(nanos: i64) -> String {
    if nanos < 0 {
        format!("-{}", duration(nanos.unsigned_abs()))
    } else {
        duration(nanos.unsigned_abs())
    }
}

fn timestamp(unix_nanos: u64) -> String {
    i64::try_from(unix_nanos)
        .ok()
        .map(chrono::DateTime::from_timestamp_nanos)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string())
        .unwrap_or_else(|| unix_nanos.to_string())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::trace::{fixture, tree};

    #[test]
    fn the_waterfall_shows_each_hop_its_effects_and_where_the_flow_stopped() {
        let report = tree::build("p-1", &fixture::stopped_flow(), &BTreeMap::new());
        let text = render(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "trace 6740a1b2c3d4e5f60718293a4b5c6d7e · 4 hops · 260 ms · from 2026-11-30 \
                 00:53:20.000 UTC",
                "    start      took       gap  hop",
                "     0 ms     50 ms         -  parcels · POST /parcels · published",
                "    30 ms     15 ms            │ publish Created to app-bus: e-1",
                "   100 ms     30 ms     55 ms  └─ sorting · Created · published",
                "   120 ms      8 ms               │ publish Shipped to app-bus: e-2",
                "   200 ms     60 ms     72 ms     ├─ billing · Shipped · handler_failure",
                "   250 ms      5 ms               │  │ dead letter to app-billing-failure: gateway down",
                "   210 ms     10 ms     82 ms     └─ mailer · Shipped · published",
                "stopped: billing · Shipped (event e-2) · dead_letter: gateway down; held by \
                 failure queue app-billing-failure",
            ],
            "{text}"
        );
    }

    #[test]
    fn a_replay_under_a_new_trace_shows_both_traces_and_the_link() {
        let mut spans = fixture::stopped_flow();
        spans.extend(fixture::replay_trace());
        let text = render(&tree::build("p-1", &spans, &BTreeMap::new()));
        assert!(
            text.contains("trace 6740a1b2c3d4e5f60718293a4b5c6d7e · 4 hops"),
            "{text}"
        );
        assert!(
            text.contains("trace 7000000011112222333344445555aaaa · 1 hop ·"),
            "{text}"
        );
        assert!(
            text.contains("  billing · Shipped · published · replay"),
            "{text}"
        );
        assert!(
            text.contains(
                "linked: billing span e000000000000001 continues trace \
                 6740a1b2c3d4e5f60718293a4b5c6d7e (span b000000000000003), replay"
            ),
            "{text}"
        );
        assert!(text.ends_with("no hop failed\n"), "{text}");
    }

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration(400_000), "0.4 ms");
        assert_eq!(duration(0), "0 ms");
        assert_eq!(duration(1_234_000_000), "1234 ms");
        assert_eq!(duration(12_345_000_000), "12.3 s");
        assert_eq!(signed_duration(-3_000_000), "-3 ms");
    }
}
