//! The trace a hop makes, checked on the spans it finishes (an in-memory exporter): who is
//! whose parent, what each entry and event carries, redeliveries and the 30-day rule.

use std::sync::Mutex;

use eventrail_contract::trace::{HopResult, TraceParent, attr};
use eventrail_contract::{Event, Validate, ValidationError};
use opentelemetry::trace::{SpanKind, Status};
use opentelemetry_sdk::trace::SpanData;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::consumer::{Consumer, Outcome};
use crate::dead_letter::{DeadLetter, DeadLetterError, DeadLetterSink};
use crate::handler::{Emitted, Handler, HandlerError, Incoming};
use crate::publisher::{
    EntryOutcome, OutgoingEvent, Publisher, PutEventsApi, TraceContextMode, TransportError,
};
use crate::trace::business_key::BusinessKey;
use crate::trace::ids::{now_epoch_seconds, trace_id_at};
use crate::trace::testing::{Spans, attribute, id, names, tracer};

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
struct TaskCreated {
    task_id: String,
}

impl Validate for TaskCreated {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

impl Event for TaskCreated {
    const SOURCE: &'static str = "test.tasks";
    const DETAIL_TYPE: &'static str = "TaskCreated";
    const VERSION: u32 = 1;
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
struct TaskAssigned {
    task_id: String,
    worker: u32,
}

impl Validate for TaskAssigned {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

impl Event for TaskAssigned {
    const SOURCE: &'static str = "test.tasks";
    const DETAIL_TYPE: &'static str = "TaskAssigned";
    const VERSION: u32 = 1;
}

/// A bus that records each call's entries and trace header.
#[derive(Default)]
struct Bus {
    calls: Mutex<Vec<(Vec<OutgoingEvent>, Option<String>)>>,
}

impl Bus {
    fn calls(&self) -> Vec<(Vec<OutgoingEvent>, Option<String>)> {
        self.calls.lock().unwrap().clone()
    }
}

impl PutEventsApi for &Bus {
    async fn put_events(
        &self,
        bus: &str,
        entries: &[OutgoingEvent],
    ) -> Result<Vec<EntryOutcome>, TransportError> {
        self.put_traced_events(bus, entries, None).await
    }

    async fn put_traced_events(
        &self,
        _bus: &str,
        entries: &[OutgoingEvent],
        trace_header: Option<&str>,
    ) -> Result<Vec<EntryOutcome>, TransportError> {
        let mut calls = self.calls.lock().unwrap();
        calls.push((entries.to_vec(), trace_header.map(str::to_owned)));
        let call = calls.len();
        Ok((0..entries.len())
            .map(|i| EntryOutcome {
                event_id: Some(format!("evt-{call}-{i}")),
                ..EntryOutcome::default()
            })
            .collect())
    }
}

#[derive(Default)]
struct Letters(Mutex<Vec<DeadLetter>>);

impl DeadLetterSink for &Letters {
    async fn send(&self, letter: &DeadLetter) -> Result<String, DeadLetterError> {
        self.0.lock().unwrap().push(letter.clone());
        Ok("m-1".to_owned())
    }

    fn queue_name(&self) -> &str {
        "tasks-failures"
    }
}

/// The parent the event's publisher wrote: a trace started now.
fn upstream() -> TraceParent {
    TraceParent {
        trace_id: trace_id_at(now_epoch_seconds()),
        span_id: 0x1111_2222_3333_4444,
        sampled: true,
    }
}

fn raw_event(traceparent: Option<String>, tracestate: Option<&str>, task_id: &str) -> Value {
    let mut metadata = json!({
        "schema_version": 1, "correlation_id": "corr-1", "causation_id": null,
        "idempotency_key": "key-1",
    });
    if let Some(parent) = traceparent {
        metadata["traceparent"] = json!(parent);
    }
    if let Some(state) = tracestate {
        metadata["tracestate"] = json!(state);
    }
    json!({
        "version": "0", "id": "event-1", "detail-type": "TaskCreated", "source": "test.tasks",
        "account": "000000000000", "time": "2026-12-07T10:00:00Z", "region": "eu-west-1",
        "resources": [],
        "detail": {"metadata": metadata, "data": {"task_id": task_id}}
    })
}

async fn assign(event: Incoming<TaskCreated>) -> Result<Emitted, HandlerError> {
    match event.data.task_id.as_str() {
        "poison" => Err(HandlerError::poison("no such task")),
        "flaky" => Err(HandlerError::retryable("the worker pool timed out")),
        _ => Ok(Emitted::one(TaskAssigned {
            task_id: event.data.task_id,
            worker: 7,
        })
        .and(TaskAssigned {
            task_id: "second".to_owned(),
            worker: 8,
        })),
    }
}

fn consumer<'a>(
    bus: &'a Bus,
    letters: &'a Letters,
) -> Consumer<TaskCreated, impl Handler<TaskCreated> + use<>, &'a Bus, &'a Letters> {
    Consumer::new(
        assign,
        Some(Publisher::new(bus, "tasks-bus")),
        Some(letters),
        "assigner",
    )
    .with_business_key(BusinessKey::new("task_id"))
}

fn parent_of(span: &SpanData) -> u64 {
    id(span.parent_span_id)
}

fn trace_of(span: &SpanData) -> u128 {
    u128::from_be_bytes(span.span_context.trace_id().to_bytes())
}

fn own_id(span: &SpanData) -> u64 {
    id(span.span_context.span_id())
}

fn detail_metadata(entry: &OutgoingEvent) -> Value {
    let detail: Value = serde_json::from_str(&entry.detail).unwrap();
    detail["metadata"].clone()
}

async fn run(raw: Value) -> (Spans, Vec<(Vec<OutgoingEvent>, Option<String>)>, Outcome) {
    let (spans, _guard) = tracer();
    let bus = Bus::default();
    let letters = Letters::default();
    let outcome = consumer(&bus, &letters).process(raw).await.unwrap();
    (spans, bus.calls(), outcome)
}

#[tokio::test]
async fn the_consumer_span_continues_the_events_trace_and_its_publish_names_itself() {
    let parent = upstream();
    let (spans, calls, _) = run(raw_event(
        Some(parent.to_string()),
        Some("congo=t61"),
        "t-1",
    ))
    .await;

    let process = spans.named("process TaskCreated");
    assert_eq!(process.span_kind, SpanKind::Consumer);
    assert_eq!(trace_of(&process), parent.trace_id);
    assert_eq!(
        parent_of(&process),
        parent.span_id,
        "the event's publish span is the parent"
    );
    assert!(process.parent_span_is_remote);
    assert_eq!(
        attribute(&process, attr::MESSAGING_MESSAGE_ID).as_deref(),
        Some("event-1")
    );
    assert_eq!(
        attribute(&process, attr::RESULT).as_deref(),
        Some(HopResult::Published.as_str())
    );
    assert_eq!(
        attribute(&process, attr::BUSINESS_KEY).as_deref(),
        Some("t-1")
    );
    assert_eq!(
        attribute(&process, attr::CORRELATION_ID).as_deref(),
        Some("corr-1")
    );
    assert_eq!(
        attribute(&process, attr::IDEMPOTENCY_KEY).as_deref(),
        Some("key-1")
    );
    for child in [
        "decode TaskCreated",
        "handle TaskCreated",
        "publish tasks-bus",
    ] {
        let span = spans.named(child);
        assert_eq!(parent_of(&span), own_id(&process), "{child}");
        assert_eq!(trace_of(&span), parent.trace_id, "{child}");
    }

    let publish = spans.named("publish tasks-bus");
    assert_eq!(publish.span_kind, SpanKind::Producer);
    assert_eq!(
        attribute(&publish, attr::EVENT_IDS).as_deref(),
        Some("[\"evt-1-0\",\"evt-1-1\"]")
    );
    let [(entries, header)] = calls.as_slice() else {
        panic!("one PutEvents call: {calls:?}");
    };
    let written = TraceParent {
        trace_id: parent.trace_id,
        span_id: own_id(&publish),
        sampled: true,
    };
    assert_eq!(header.as_deref(), Some(written.to_xray_header().as_str()));
    for entry in entries {
        let metadata = detail_metadata(entry);
        assert_eq!(metadata["traceparent"], json!(written.to_string()));
        assert_eq!(metadata["tracestate"], json!("congo=t61"));
    }
}

#[tokio::test]
async fn every_entry_of_every_call_carries_its_publish_spans_context() {
    let (spans, _guard) = tracer();
    let bus = Bus::default();
    let invocation = crate::trace::spans::invocation(
        "invoke intake".to_owned(),
        "server",
        &crate::trace::spans::Invocation {
            trigger: crate::trace::spans::FaasTrigger::Other,
            request_id: "req-1",
            function: "intake",
        },
    );
    let publisher = Publisher::new(&bus, "tasks-bus");
    let events: Vec<OutgoingEvent> = (0..13)
        .map(|i| {
            let metadata =
                eventrail_contract::Metadata::origin(1, "corr-9".into(), format!("k-{i}"));
            OutgoingEvent::typed(
                metadata,
                &TaskCreated {
                    task_id: format!("t-{i}"),
                },
            )
            .unwrap()
        })
        .collect();
    let results = tracing::Instrument::instrument(publisher.publish_all(events), invocation).await;
    assert!(results.iter().all(Result::is_ok));

    let invocation = spans.named("invoke intake");
    assert_eq!(parent_of(&invocation), 0, "a new trace");
    let publishes: Vec<SpanData> = spans
        .all()
        .into_iter()
        .filter(|span| span.name == "publish tasks-bus")
        .collect();
    let calls = bus.calls();
    assert_eq!((publishes.len(), calls.len()), (2, 2));
    for ((entries, header), publish) in calls.iter().zip(&publishes) {
        assert_eq!(parent_of(publish), own_id(&invocation));
        let written = TraceParent {
            trace_id: trace_of(&invocation),
            span_id: own_id(publish),
            sampled: true,
        };
        assert_eq!(header.as_deref(), Some(written.to_xray_header().as_str()));
        for entry in entries {
            assert_eq!(
                detail_metadata(entry)["traceparent"],
                json!(written.to_string())
            );
            assert_eq!(detail_metadata(entry).get("tracestate"), None);
        }
    }
    assert_ne!(own_id(&publishes[0]), own_id(&publishes[1]));
}

#[tokio::test]
async fn accept_mode_writes_no_trace_context_into_events_but_sets_the_header() {
    let (_spans, _guard) = tracer();
    let bus = Bus::default();
    let publisher = Publisher::new(&bus, "tasks-bus").with_trace_context(TraceContextMode::Accept);
    let metadata = eventrail_contract::Metadata::origin(1, "corr-9".into(), "k-1".into());
    publisher
        .publish(
            metadata,
            &TaskCreated {
                task_id: "t".into(),
            },
        )
        .await
        .unwrap();
    let calls = bus.calls();
    let (entries, header) = &calls[0];
    assert_eq!(detail_metadata(&entries[0]).get("traceparent"), None);
    assert!(
        header.as_deref().is_some_and(|h| h.starts_with("Root=1-")),
        "{header:?}"
    );
}

#[tokio::test]
async fn a_bad_traceparent_starts_a_new_trace_and_the_event_is_handled() {
    let (spans, calls, outcome) = run(raw_event(Some("00-nonsense".to_owned()), None, "t-1")).await;
    assert!(matches!(outcome, Outcome::Handled { .. }), "{outcome:?}");
    let process = spans.named("process TaskCreated");
    assert_eq!(parent_of(&process), 0);
    let written = detail_metadata(&calls[0].0[0]);
    assert_eq!(
        TraceParent::parse(written["traceparent"].as_str().unwrap())
            .unwrap()
            .trace_id,
        trace_of(&process)
    );
}

#[tokio::test]
async fn a_poison_event_ends_its_hop_as_poison_with_the_dead_letter_span() {
    let parent = upstream();
    let (spans, _, outcome) = run(raw_event(Some(parent.to_string()), None, "poison")).await;
    assert!(
        matches!(outcome, Outcome::DeadLettered { .. }),
        "{outcome:?}"
    );
    let process = spans.named("process TaskCreated");
    assert_eq!(attribute(&process, attr::RESULT).as_deref(), Some("poison"));
    assert!(matches!(process.status, Status::Error { .. }));
    let send = spans.named("send tasks-failures");
    assert_eq!(parent_of(&send), own_id(&process));
    assert_eq!(
        attribute(&send, attr::FAILURE_QUEUE).as_deref(),
        Some("tasks-failures")
    );
}

#[tokio::test]
async fn a_handler_failure_ends_its_hop_as_retried() {
    let (spans, _guard) = tracer();
    let bus = Bus::default();
    let letters = Letters::default();
    let raw = raw_event(Some(upstream().to_string()), None, "flaky");
    assert!(consumer(&bus, &letters).process(raw).await.is_err());
    let process = spans.named("process TaskCreated");
    assert_eq!(
        attribute(&process, attr::RESULT).as_deref(),
        Some("retried")
    );
    assert!(matches!(
        spans.named("handle TaskCreated").status,
        Status::Error { .. }
    ));
}

#[tokio::test]
async fn a_redriven_event_has_its_redrive_span_between_the_publish_and_the_consumer() {
    let parent = upstream();
    let (spans, calls, _) = run(raw_event(
        Some(parent.to_string()),
        Some("eventrail=redrive,congo=t61"),
        "t-1",
    ))
    .await;
    let redrive = spans.named("redrive TaskCreated");
    assert_eq!(redrive.span_kind, SpanKind::Consumer);
    assert_eq!(parent_of(&redrive), parent.span_id);
    assert_eq!(trace_of(&redrive), parent.trace_id);
    assert_eq!(
        attribute(&redrive, attr::REDELIVERY).as_deref(),
        Some("redrive")
    );
    let process = spans.named("process TaskCreated");
    assert_eq!(parent_of(&process), own_id(&redrive));
    // What the hop publishes is not itself redelivered: the mark is not handed on.
    assert_eq!(
        detail_metadata(&calls[0].0[0])["tracestate"],
        json!("congo=t61")
    );
}

#[tokio::test]
async fn a_replay_continues_a_recent_trace() {
    let parent = upstream();
    let mut raw = raw_event(Some(parent.to_string()), None, "t-1");
    raw["replay-name"] = json!("tasks-replay-1");
    let (spans, _, _) = run(raw).await;
    let replay = spans.named("replay TaskCreated");
    assert_eq!(parent_of(&replay), parent.span_id);
    assert_eq!(trace_of(&replay), parent.trace_id);
    assert_eq!(
        attribute(&replay, attr::REPLAY_NAME).as_deref(),
        Some("tasks-replay-1")
    );
    assert!(replay.links.is_empty());
    assert_eq!(
        parent_of(&spans.named("process TaskCreated")),
        own_id(&replay)
    );
}

#[tokio::test]
async fn a_replay_of_a_trace_over_thirty_days_old_starts_a_new_trace_linked_to_it() {
    let old = TraceParent {
        trace_id: trace_id_at(now_epoch_seconds() - 31 * 24 * 3600),
        span_id: 0x5555_6666_7777_8888,
        sampled: true,
    };
    let mut raw = raw_event(Some(old.to_string()), None, "t-1");
    raw["replay-name"] = json!("tasks-replay-2");
    let (spans, calls, _) = run(raw).await;
    let replay = spans.named("replay TaskCreated");
    assert_eq!(parent_of(&replay), 0, "a root");
    assert_ne!(trace_of(&replay), old.trace_id);
    let new_trace = TraceParent {
        trace_id: trace_of(&replay),
        span_id: 1,
        sampled: true,
    };
    assert!(new_trace.xray_accepts_at(now_epoch_seconds()));
    let [link] = replay.links.links.as_slice() else {
        panic!("one link: {:?}", replay.links);
    };
    assert_eq!(
        u128::from_be_bytes(link.span_context.trace_id().to_bytes()),
        old.trace_id
    );
    assert_eq!(id(link.span_context.span_id()), old.span_id);
    assert_eq!(
        link.attributes
            .iter()
            .find(|kv| kv.key.as_str() == attr::REDELIVERY)
            .map(|kv| kv.value.to_string()),
        Some("replay".to_owned())
    );
    let process = spans.named("process TaskCreated");
    assert_eq!(trace_of(&process), trace_of(&replay));
    let written = detail_metadata(&calls[0].0[0]);
    assert_eq!(
        TraceParent::parse(written["traceparent"].as_str().unwrap())
            .unwrap()
            .trace_id,
        trace_of(&replay),
        "the flow goes on in the new trace"
    );
}

#[tokio::test]
async fn a_batchs_record_spans_continue_each_records_event_and_link_to_the_batch() {
    use aws_lambda_events::sqs::{SqsEvent, SqsMessage};

    use crate::batch::{BufferedConsumer, batch_span};

    let (spans, _guard) = tracer();
    let bus = Bus::default();
    let letters = Letters::default();
    let buffered = BufferedConsumer::new(consumer(&bus, &letters), 3);
    let parents = [upstream(), upstream()];
    let mut event = SqsEvent::default();
    for (i, parent) in parents.iter().enumerate() {
        let mut record = SqsMessage::default();
        record.message_id = Some(format!("m-{i}"));
        record.event_source_arn = Some("arn:aws:sqs:eu-west-1:000000000000:assigner-buffer".into());
        record.body =
            Some(raw_event(Some(parent.to_string()), None, &format!("t-{i}")).to_string());
        record
            .attributes
            .insert("ApproximateReceiveCount".into(), "2".into());
        event.records.push(record);
    }
    let batch = batch_span(&event);
    let report = tracing::Instrument::instrument(buffered.process_batch(&event, None), batch).await;
    assert!(report.failed_ids().is_empty());

    let batch = spans.named("process assigner-buffer");
    let records: Vec<SpanData> = spans
        .all()
        .into_iter()
        .filter(|span| span.name == "process TaskCreated")
        .collect();
    assert_eq!(records.len(), 2, "{:?}", names(&spans.all()));
    for (record, parent) in records.iter().zip(&parents) {
        assert_eq!(parent_of(record), parent.span_id);
        assert_eq!(trace_of(record), parent.trace_id);
        assert_eq!(attribute(record, attr::RECEIVE_COUNT).as_deref(), Some("2"));
        let [link] = record.links.links.as_slice() else {
            panic!("one link: {:?}", record.links);
        };
        assert_eq!(id(link.span_context.span_id()), own_id(&batch));
    }
}
