//! One flow's spans as a tree of hops: each hop is one function's handling of one event (its
//! invocation span, or a batch record's span), under the hop whose publish caused it. Gaps
//! between hops are the time an event spent on the bus and in Lambda's queue (the consumer's
//! start minus its publish span's end). Where the flow stopped (a dead letter, a poison or
//! failed hop, a retried hop with no later attempt) is named with the failure queue that
//! holds the event.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use eventrail_contract::trace::{HopResult, SpanKind, SpanLine, SpanStatus, attr};
use serde::Serialize;

use super::spans::{
    attr_str, attr_strings, is_dead_letter, is_publish, is_redelivery, is_redelivery_link,
};

/// Every trace found for one key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceReport {
    /// What was looked up (a business key, correlation id or event id).
    pub key: String,
    /// The traces, oldest first (a replay older than X-Ray's 30 days starts a new one, linked
    /// to the original).
    pub traces: Vec<TraceTree>,
}

/// One trace's hops.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceTree {
    /// 32 hex digits.
    pub trace_id: String,
    /// Its first span's start, Unix nanoseconds; offsets count from here.
    pub start_unix_nano: u64,
    /// Its last span's end, Unix nanoseconds.
    pub end_unix_nano: u64,
    /// Hops in causal order (depth first, each hop's effects after it, by start time).
    pub hops: Vec<Hop>,
    /// Where the flow stopped; empty when every hop went through.
    pub stopped: Vec<Stop>,
    /// Links from spans of this trace to spans of other traces, for events delivered again
    /// (a batch record's link to its batch is not listed).
    pub links: Vec<TraceLink>,
    /// How many spans the trace has.
    pub span_count: usize,
}

/// One function's handling of one event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hop {
    /// The hop's span id.
    pub span_id: String,
    /// The hop that caused it (through a publish, or by calling it), if in this trace.
    pub parent_hop: Option<String>,
    /// Its depth in the tree (0: a root).
    pub depth: usize,
    /// The function (the span's service).
    pub service: String,
    /// The span's name (`process Shipped`, `POST /parcels`).
    pub name: String,
    /// The event's detail-type, when the hop processed an event.
    pub detail_type: Option<String>,
    /// The event's id, when the hop processed an event.
    pub event_id: Option<String>,
    /// Start, nanoseconds after the trace's first span started.
    pub start_offset_ns: u64,
    /// Duration, nanoseconds.
    pub duration_ns: u64,
    /// Consumer start minus its publish span's end (time on the bus and in Lambda's queue),
    /// nanoseconds; `None` for a hop no publish caused. Negative when the consumer started
    /// before the PutEvents call returned (the publish span ends with the call's answer).
    pub gap_ns: Option<i64>,
    /// How it ended (`eventrail.result`: published, poison, handler_failure, retried,
    /// idempotent_skip).
    pub result: Option<String>,
    /// The span's status.
    pub status: SpanStatus,
    /// The status's message, on an error.
    pub status_message: Option<String>,
    /// `replay`, `redrive` or `reput` when the event was delivered again.
    pub redelivery: Option<String>,
    /// Its publishes to the bus.
    pub publishes: Vec<Publish>,
    /// Its dead-letter sends.
    pub dead_letters: Vec<DeadLetterSend>,
}

/// One PutEvents call of a hop.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Publish {
    /// The span id.
    pub span_id: String,
    /// The span's name (`publish <bus>`).
    pub name: String,
    /// The bus.
    pub destination: Option<String>,
    /// The detail-types published.
    pub detail_types: Vec<String>,
    /// The event ids the bus answered, in entry order.
    pub event_ids: Vec<String>,
    /// Start, nanoseconds after the trace's first span.
    pub start_offset_ns: u64,
    /// Duration, nanoseconds.
    pub duration_ns: u64,
    /// The span's status.
    pub status: SpanStatus,
    /// The status's message, on an error.
    pub status_message: Option<String>,
}

/// One dead-letter send of a hop.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetterSend {
    /// The span id.
    pub span_id: String,
    /// The failure queue.
    pub failure_queue: String,
    /// Why the event is a dead letter.
    pub reason: Option<String>,
    /// Start, nanoseconds after the trace's first span.
    pub start_offset_ns: u64,
    /// Duration, nanoseconds.
    pub duration_ns: u64,
}

/// Where a flow stopped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stop {
    /// The hop where it stopped.
    pub hop_span_id: String,
    /// Its function.
    pub service: String,
    /// The event it could not process.
    pub detail_type: Option<String>,
    /// The event's id.
    pub event_id: Option<String>,
    /// Why.
    pub why: StopReason,
    /// The failure queue that holds the event: the dead-letter span's, else the function's
    /// from the stack (`<Function>FailureQueueUrl`).
    pub failure_queue: Option<String>,
    /// The reason the span gives.
    pub reason: Option<String>,
}

/// Why a flow stopped at a hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The function sent the event to its failure queue.
    DeadLetter,
    /// The event could not be decoded or validated.
    Poison,
    /// The handler failed for good.
    HandlerFailure,
    /// The handler failed and no later attempt is in the logs: still being retried, or sent
    /// to the failure queue after the last retry.
    Retried,
}

impl StopReason {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeadLetter => "dead_letter",
            Self::Poison => "poison",
            Self::HandlerFailure => "handler_failure",
            Self::Retried => "retried",
        }
    }
}

/// A link from a span of one trace to a span of another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceLink {
    /// The linking span.
    pub from_span_id: String,
    /// Its function.
    pub from_service: String,
    /// The linked trace.
    pub trace_id: String,
    /// The linked span.
    pub span_id: String,
    /// `replay` etc., when the link says why.
    pub redelivery: Option<String>,
}

/// Builds the report of `key` from every span found. `failure_queues` maps a function (span
/// service) to its failure queue, for stops whose spans do not name one.
pub fn build(
    key: &str,
    spans: &[SpanLine],
    failure_queues: &BTreeMap<String, String>,
) -> TraceReport {
    let mut by_trace: BTreeMap<&str, Vec<&SpanLine>> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for span in spans {
        if seen.insert((span.trace_id.as_str(), span.span_id.as_str())) {
            by_trace
                .entry(span.trace_id.as_str())
                .or_default()
                .push(span);
        }
    }
    let mut traces: Vec<TraceTree> = by_trace
        .into_iter()
        .map(|(trace_id, spans)| build_trace(trace_id, &spans, failure_queues))
        .collect();
    traces.sort_by(|a, b| (a.start_unix_nano, &a.trace_id).cmp(&(b.start_unix_nano, &b.trace_id)));
    TraceReport {
        key: key.to_owned(),
        traces,
    }
}

struct Spans<'a> {
    by_id: HashMap<&'a str, &'a SpanLine>,
    hops: BTreeSet<&'a str>,
}

impl<'a> Spans<'a> {
    fn new(spans: &[&'a SpanLine]) -> Self {
        let by_id: HashMap<&str, &SpanLine> =
            spans.iter().map(|s| (s.span_id.as_str(), *s)).collect();
        let hops = spans
            .iter()
            .filter(|s| is_hop(s, &by_id))
            .map(|s| s.span_id.as_str())
            .collect();
        Self { by_id, hops }
    }

    fn parent(&self, span: &SpanLine) -> Option<&'a SpanLine> {
        span.parent_span_id
            .as_deref()
            .and_then(|id| self.by_id.get(id).copied())
    }

    /// The nearest hop above `span` (not `span` itself).
    fn owner(&self, span: &SpanLine) -> Option<&'a SpanLine> {
        let mut current = self.parent(span);
        let mut steps = 0;
        while let Some(above) = current {
            if self.hops.contains(above.span_id.as_str()) {
                return Some(above);
            }
            steps += 1;
            if steps > self.by_id.len() {
                return None;
            }
            current = self.parent(above);
        }
        None
    }
}

fn is_hop(span: &SpanLine, by_id: &HashMap<&str, &SpanLine>) -> bool {
    if is_redelivery(span) || is_publish(span) || is_dead_letter(span) {
        return false;
    }
    let orphan = span
        .parent_span_id
        .as_deref()
        .is_none_or(|parent| !by_id.contains_key(parent));
    orphan
        || span.attributes.contains_key(attr::RESULT)
        || matches!(span.kind, SpanKind::Consumer | SpanKind::Server)
}

fn build_trace(
    trace_id: &str,
    spans: &[&SpanLine],
    failure_queues: &BTreeMap<String, String>,
) -> TraceTree {
    let start = spans.iter().map(|s| s.start_unix_nano).min().unwrap_or(0);
    let end = spans.iter().map(|s| s.end_unix_nano).max().unwrap_or(start);
    let index = Spans::new(spans);
    let offset = |t: u64| t.saturating_sub(start);
    let duration = |s: &SpanLine| s.end_unix_nano.saturating_sub(s.start_unix_nano);

    let mut hops: BTreeMap<&str, Hop> = BTreeMap::new();
    for span in spans
        .iter()
        .filter(|s| index.hops.contains(s.span_id.as_str()))
    {
        let (parent_hop, gap_ns, redelivery) = cause(span, &index);
        hops.insert(
            span.span_id.as_str(),
            Hop {
                span_id: span.span_id.clone(),
                parent_hop,
                depth: 0,
                service: span.service.clone(),
                name: span.name.clone(),
                detail_type: attr_str(span, attr::DETAIL_TYPE)
                    .map(str::to_owned)
                    .or_else(|| span.name.strip_prefix("process ").map(str::to_owned)),
                event_id: attr_str(span, attr::MESSAGING_MESSAGE_ID).map(str::to_owned),
                start_offset_ns: offset(span.start_unix_nano),
                duration_ns: duration(span),
                gap_ns,
                result: attr_str(span, attr::RESULT).map(str::to_owned),
                status: span.status,
                status_message: span.status_message.clone(),
                redelivery,
                publishes: Vec::new(),
                dead_letters: Vec::new(),
            },
        );
    }
    let mut effects: Vec<&&SpanLine> = spans
        .iter()
        .filter(|s| is_publish(s) || is_dead_letter(s))
        .collect();
    effects.sort_by_key(|s| s.start_unix_nano);
    for span in effects {
        let Some(hop) = index
            .owner(span)
            .and_then(|owner| hops.get_mut(owner.span_id.as_str()))
        else {
            continue;
        };
        if is_dead_letter(span) {
            hop.dead_letters.push(DeadLetterSend {
                span_id: span.span_id.clone(),
                failure_queue: attr_str(span, attr::FAILURE_QUEUE)
                    .unwrap_or_default()
                    .to_owned(),
                reason: attr_str(span, attr::FAILURE_REASON)
                    .map(str::to_owned)
                    .or_else(|| span.status_message.clone()),
                start_offset_ns: offset(span.start_unix_nano),
                duration_ns: duration(span),
            });
        } else {
            hop.publishes.push(Publish {
                span_id: span.span_id.clone(),
                name: span.name.clone(),
                destination: attr_str(span, attr::MESSAGING_DESTINATION_NAME)
                    .map(str::to_owned)
                    .or_else(|| span.name.strip_prefix("publish ").map(str::to_owned)),
                detail_types: owned(attr_strings(span, attr::DETAIL_TYPE)),
                event_ids: owned(attr_strings(span, attr::EVENT_IDS)),
                start_offset_ns: offset(span.start_unix_nano),
                duration_ns: duration(span),
                status: span.status,
                status_message: span.status_message.clone(),
            });
        }
    }
    let ordered = depth_first(hops);
    let stopped = stops(&ordered, failure_queues);
    let mut links = Vec::new();
    for span in spans {
        for link in span.links.iter().filter(|l| is_redelivery_link(l)) {
            links.push(TraceLink {
                from_span_id: span.span_id.clone(),
                from_service: span.service.clone(),
                trace_id: link.trace_id.clone(),
                span_id: link.span_id.clone(),
                redelivery: link
                    .attributes
                    .get(attr::REDELIVERY)
                    .and_then(serde_json::Value::as_str)
                    .or_else(|| attr_str(span, attr::REDELIVERY))
                    .map(str::to_owned),
            });
        }
    }
    TraceTree {
        trace_id: trace_id.to_owned(),
        start_unix_nano: start,
        end_unix_nano: end,
        hops: ordered,
        stopped,
        links,
        span_count: spans.len(),
    }
}

fn owned(items: Vec<&str>) -> Vec<String> {
    items.into_iter().map(str::to_owned).collect()
}

/// The hop that caused `span` (a hop), the gap after its publish, and a redelivery on the way.
fn cause(span: &SpanLine, index: &Spans<'_>) -> (Option<String>, Option<i64>, Option<String>) {
    let mut redelivery = attr_str(span, attr::REDELIVERY).map(str::to_owned);
    let mut consumer_start = span.start_unix_nano;
    let mut parent = index.parent(span);
    if let Some(above) = parent.filter(|p| is_redelivery(p)) {
        redelivery = attr_str(above, attr::REDELIVERY).map(str::to_owned);
        consumer_start = consumer_start.min(above.start_unix_nano);
        parent = index.parent(above);
    }
    let Some(parent) = parent else {
        return (None, None, redelivery);
    };
    if is_publish(parent) {
        let gap = i128::from(consumer_start) - i128::from(parent.end_unix_nano);
        let gap = i64::try_from(gap).ok();
        let hop = index.owner(parent).map(|h| h.span_id.clone());
        return (hop, gap, redelivery);
    }
    let hop = if index.hops.contains(parent.span_id.as_str()) {
        Some(parent.span_id.clone())
    } else {
        index.owner(parent).map(|h| h.span_id.clone())
    };
    (hop, None, redelivery)
}

/// Hops depth first: roots by start, each hop's children by start after it.
fn depth_first(mut hops: BTreeMap<&str, Hop>) -> Vec<Hop> {
    let mut children: BTreeMap<Option<String>, Vec<(u64, String)>> = BTreeMap::new();
    for hop in hops.values() {
        let parent = hop
            .parent_hop
            .clone()
            .filter(|p| hops.contains_key(p.as_str()) && *p != hop.span_id);
        children
            .entry(parent)
            .or_default()
            .push((hop.start_offset_ns, hop.span_id.clone()));
    }
    for list in children.values_mut() {
        list.sort();
    }
    let mut ordered = Vec::with_capacity(hops.len());
    let mut stack: Vec<(String, usize)> = children
        .get(&None)
        .map(|roots| roots.iter().rev().map(|(_, id)| (id.clone(), 0)).collect())
        .unwrap_or_default();
    while let Some((id, depth)) = stack.pop() {
        let Some(mut hop) = hops.remove(id.as_str()) else {
            continue;
        };
        hop.depth = depth;
        if let Some(list) = children.get(&Some(id)) {
            stack.extend(
                list.iter()
                    .rev()
                    .map(|(_, child)| (child.clone(), depth + 1)),
            );
        }
        ordered.push(hop);
    }
    // A cycle of parents (ids that repeat across functions) leaves hops unreached: keep them.
    let mut rest: Vec<Hop> = hops.into_values().collect();
    rest.sort_by_key(|h| h.start_offset_ns);
    ordered.extend(rest);
    ordered
}

fn stops(hops: &[Hop], failure_queues: &BTreeMap<String, String>) -> Vec<Stop> {
    let mut stopped = Vec::new();
    for hop in hops {
        // A failure the function got past: the event came again (a retry, a redrive).
        if attempted_again(hop, hops) {
            continue;
        }
        let stop = |why: StopReason, failure_queue: Option<String>, reason: Option<String>| Stop {
            hop_span_id: hop.span_id.clone(),
            service: hop.service.clone(),
            detail_type: hop.detail_type.clone(),
            event_id: hop.event_id.clone(),
            why,
            failure_queue,
            reason,
        };
        let stack_queue = failure_queues.get(&hop.service).cloned();
        for letter in &hop.dead_letters {
            let queue = Some(letter.failure_queue.clone())
                .filter(|q| !q.is_empty())
                .or_else(|| stack_queue.clone());
            stopped.push(stop(StopReason::DeadLetter, queue, letter.reason.clone()));
        }
        if !hop.dead_letters.is_empty() {
            continue;
        }
        let why = match hop.result.as_deref() {
            Some(r) if r == HopResult::Poison.as_str() => StopReason::Poison,
            Some(r) if r == HopResult::HandlerFailure.as_str() => StopReason::HandlerFailure,
            Some(r) if r == HopResult::Retried.as_str() => StopReason::Retried,
            _ => continue,
        };
        stopped.push(stop(why, stack_queue, hop.status_message.clone()));
    }
    stopped
}

/// Whether a later attempt of `hop`'s event by the same function is among `hops`.
fn attempted_again(hop: &Hop, hops: &[Hop]) -> bool {
    hops.iter().any(|other| {
        other.span_id != hop.span_id
            && other.service == hop.service
            && other.start_offset_ns >= hop.start_offset_ns
            && match (&other.event_id, &hop.event_id) {
                (Some(a), Some(b)) => a == b,
                _ => other.parent_hop == hop.parent_hop && other.name == hop.name,
            }
    })
}

#[cfg(test)]
mod tests {
    use eventrail_contract::trace::SpanKind;
    use serde_json::json;

    use super::*;
    use crate::trace::fixture::{self, span};

    fn hop<'a>(trace: &'a TraceTree, id: &str) -> &'a Hop {
        trace.hops.iter().find(|h| h.span_id == id).unwrap()
    }

    #[test]
    fn hops_hang_under_the_hop_whose_publish_caused_them_with_the_gap_after_it() {
        let report = build("p-1", &fixture::stopped_flow(), &BTreeMap::new());
        assert_eq!(report.traces.len(), 1);
        let trace = &report.traces[0];
        let order: Vec<(&str, usize)> = trace
            .hops
            .iter()
            .map(|h| (h.service.as_str(), h.depth))
            .collect();
        assert_eq!(
            order,
            [
                ("parcels", 0),
                ("sorting", 1),
                ("billing", 2),
                ("mailer", 2)
            ]
        );
        let sorting = hop(trace, fixture::SORTING_HOP);
        assert_eq!(sorting.parent_hop.as_deref(), Some(fixture::PARCELS_HOP));
        // Consumer start 100 ms, the publish (under the handler span) ended at 45 ms.
        assert_eq!(sorting.gap_ns, Some(55_000_000));
        assert_eq!(sorting.detail_type.as_deref(), Some("Created"));
        assert_eq!(sorting.event_id.as_deref(), Some("e-1"));
        assert_eq!(hop(trace, fixture::PARCELS_HOP).gap_ns, None);
        let parcels = hop(trace, fixture::PARCELS_HOP);
        assert_eq!(
            parcels.publishes.len(),
            1,
            "the publish under the handler span"
        );
        assert_eq!(parcels.publishes[0].event_ids, ["e-1"]);
        assert_eq!(parcels.publishes[0].detail_types, ["Created"]);
        assert_eq!(
            hop(trace, fixture::MAILER_HOP).parent_hop.as_deref(),
            Some(fixture::SORTING_HOP)
        );
        assert_eq!(trace.span_count, 9);
        assert_eq!(trace.end_unix_nano - trace.start_unix_nano, 260_000_000);
    }

    #[test]
    fn a_dead_letter_stops_the_flow_in_its_failure_queue() {
        let report = build("p-1", &fixture::stopped_flow(), &BTreeMap::new());
        let stopped = &report.traces[0].stopped;
        assert_eq!(stopped.len(), 1, "{stopped:?}");
        assert_eq!(stopped[0].hop_span_id, fixture::BILLING_HOP);
        assert_eq!(stopped[0].why, StopReason::DeadLetter);
        assert_eq!(
            stopped[0].failure_queue.as_deref(),
            Some("app-billing-failure")
        );
        assert_eq!(stopped[0].reason.as_deref(), Some("gateway down"));
    }

    #[test]
    fn a_failed_hop_without_a_dead_letter_span_names_the_stack_s_failure_queue() {
        let spans: Vec<SpanLine> = fixture::stopped_flow()
            .into_iter()
            .filter(|s| s.span_id != fixture::BILLING_LETTER)
            .collect();
        let queues = BTreeMap::from([(
            "billing".to_owned(),
            "http://localhost/q/app-billing-failure".to_owned(),
        )]);
        let stopped = &build("p-1", &spans, &queues).traces[0].stopped;
        assert_eq!(stopped.len(), 1);
        assert_eq!(stopped[0].why, StopReason::HandlerFailure);
        assert_eq!(
            stopped[0].failure_queue.as_deref(),
            Some("http://localhost/q/app-billing-failure")
        );
        assert_eq!(stopped[0].reason.as_deref(), Some("gateway down"));
    }

    #[test]
    fn a_retried_hop_stops_the_flow_only_without_a_later_attempt() {
        let attempt = |id: &str, at: u64, result: &str| {
            span(
                "billing",
                id,
                Some(fixture::SORTING_PUBLISH),
                "process Shipped",
                SpanKind::Consumer,
                (at, at + 5),
                json!({"eventrail.detail_type": "Shipped", "messaging.message.id": "e-2",
                       "eventrail.result": result}),
            )
        };
        let without_billing: Vec<SpanLine> = fixture::stopped_flow()
            .into_iter()
            .filter(|s| s.service != "billing")
            .collect();
        let queues = BTreeMap::from([("billing".to_owned(), "app-billing-failure".to_owned())]);

        let mut retried_then_done = without_billing.clone();
        retried_then_done.push(attempt("c0000000000000a1", 200, "retried"));
        retried_then_done.push(attempt("c0000000000000a2", 1200, "published"));
        let trace = &build("p-1", &retried_then_done, &queues).traces[0];
        assert!(trace.stopped.is_empty(), "{:?}", trace.stopped);
        assert_eq!(
            trace.hops.iter().filter(|h| h.service == "billing").count(),
            2,
            "both attempts are hops"
        );

        let mut still_failing = without_billing;
        still_failing.push(attempt("c0000000000000a1", 200, "retried"));
        still_failing.push(attempt("c0000000000000a2", 1200, "retried"));
        let stopped = &build("p-1", &still_failing, &queues).traces[0].stopped;
        assert_eq!(stopped.len(), 1, "{stopped:?}");
        assert_eq!(stopped[0].hop_span_id, "c0000000000000a2");
        assert_eq!(stopped[0].why, StopReason::Retried);
        assert_eq!(
            stopped[0].failure_queue.as_deref(),
            Some("app-billing-failure")
        );
    }

    #[test]
    fn a_redelivered_event_s_hop_says_so_and_its_gap_runs_from_the_publish() {
        let mut spans = fixture::stopped_flow();
        spans.push(span(
            "billing",
            "c0000000000000b1",
            Some(fixture::SORTING_PUBLISH),
            "redrive Shipped",
            SpanKind::Consumer,
            (5_000, 5_001),
            json!({"eventrail.redelivery": "redrive"}),
        ));
        spans.push(span(
            "billing",
            "c0000000000000b2",
            Some("c0000000000000b1"),
            "process Shipped",
            SpanKind::Consumer,
            (5_001, 5_010),
            json!({"eventrail.detail_type": "Shipped", "messaging.message.id": "e-2",
                   "eventrail.result": "published"}),
        ));
        let trace = &build("p-1", &spans, &BTreeMap::new()).traces[0];
        let redriven = hop(trace, "c0000000000000b2");
        assert_eq!(redriven.redelivery.as_deref(), Some("redrive"));
        assert_eq!(redriven.parent_hop.as_deref(), Some(fixture::SORTING_HOP));
        assert_eq!(redriven.gap_ns, Some((5_000 - 128) * 1_000_000));
        assert!(
            !trace.hops.iter().any(|h| h.span_id == "c0000000000000b1"),
            "the redelivery span is not a hop of its own"
        );
        assert!(
            trace.stopped.is_empty(),
            "the dead-lettered event went through once redriven: {:?}",
            trace.stopped
        );
    }

    #[test]
    fn a_replay_under_a_new_trace_is_a_second_trace_linked_to_the_first() {
        let mut spans = fixture::stopped_flow();
        spans.extend(fixture::replay_trace());
        // Each span once, however often the search returned it.
        spans.extend(fixture::replay_trace());
        let report = build("p-1", &spans, &BTreeMap::new());
        assert_eq!(report.traces.len(), 2);
        assert_eq!(report.traces[0].trace_id, fixture::TRACE);
        let replay = &report.traces[1];
        assert_eq!(replay.span_count, 2);
        assert_eq!(replay.hops.len(), 1);
        assert_eq!(replay.hops[0].redelivery.as_deref(), Some("replay"));
        assert_eq!(replay.links.len(), 1);
        assert_eq!(replay.links[0].trace_id, fixture::TRACE);
        assert_eq!(replay.links[0].redelivery.as_deref(), Some("replay"));
    }
}
