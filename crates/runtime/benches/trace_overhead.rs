//! The per-event cost of tracing, in process: a typical hop (one EventBridge event consumed,
//! decoded, handled, one event published to a bus that answers at once) run through
//! [`Consumer::process_payload`], the path a function's invocation takes, on the functions'
//! current-thread runtime.
//!
//! Variants, each with the JSON log layer as `run` installs it (written to a sink, so no
//! system call is counted):
//! - `logs`: no span layer (what the log lines alone cost; on the build before tracing, the
//!   whole cost of a hop);
//! - `spans-sampled-out`: the span layer with `OTEL_TRACES_SAMPLER=always_off` (spans made,
//!   trace context carried on, nothing written);
//! - `spans`: the span layer, every span written as a span line (counted: bytes per event).
//!
//! Rounds go over the variants in turn so load on the machine affects them alike; each event
//! is timed alone, and the report gives p50, p90, p99 and the mean per variant.
//!
//! `cargo bench -p eventrail-runtime --bench trace_overhead` (`TRACE_BENCH_ROUNDS`,
//! `TRACE_BENCH_EVENTS` per round: 20 x 1000 by default).

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use eventrail_runtime::{
    Consumer, Emitted, HandlerError, Incoming, Publisher,
    contract::{Event, Validate, ValidationError},
    dead_letter::SqsDeadLetterQueue,
    publisher::{EntryOutcome, OutgoingEvent, PutEventsApi, TransportError},
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
struct TaskCreated {
    task_id: String,
    title: String,
    estimate_hours: u32,
}

impl Validate for TaskCreated {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

impl Event for TaskCreated {
    const SOURCE: &'static str = "bench.tasks";
    const DETAIL_TYPE: &'static str = "TaskCreated";
    const VERSION: u32 = 1;
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
struct TaskAssigned {
    task_id: String,
    worker: String,
}

impl Validate for TaskAssigned {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

impl Event for TaskAssigned {
    const SOURCE: &'static str = "bench.tasks";
    const DETAIL_TYPE: &'static str = "TaskAssigned";
    const VERSION: u32 = 1;
}

/// A bus that accepts every entry at once.
struct Bus;

impl PutEventsApi for Bus {
    async fn put_events(
        &self,
        _bus: &str,
        entries: &[OutgoingEvent],
    ) -> Result<Vec<EntryOutcome>, TransportError> {
        Ok((0..entries.len())
            .map(|i| EntryOutcome {
                event_id: Some(format!("0d9e5b1c-0000-4000-8000-{i:012}")),
                ..EntryOutcome::default()
            })
            .collect())
    }
}

async fn assign(event: Incoming<TaskCreated>) -> Result<Emitted, HandlerError> {
    Ok(Emitted::one(TaskAssigned {
        task_id: event.data.task_id,
        worker: "w-7".to_owned(),
    }))
}

/// The invocation's payload: an event as EventBridge delivers it, whose metadata carries the
/// publisher's trace context.
const PAYLOAD: &str = r#"{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"TaskCreated","source":"bench.tasks","account":"123456789012","time":"2026-12-07T10:00:00Z","region":"eu-west-1","resources":[],"detail":{"metadata":{"schema_version":1,"correlation_id":"c0ffee00-1111-4222-8333-444455556666","causation_id":null,"idempotency_key":"task-42-created","traceparent":"00-6935a2f0aa5b4a8cb1f8b2c3d4e5f607-1111222233334444-01"},"data":{"task_id":"task-42","title":"Wrap the gift","estimate_hours":3}}}"#;

/// Counts the bytes written to it.
#[derive(Default)]
struct Counted(u64);

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The JSON log layer as `eventrail_runtime::logging` builds it, written to a sink.
fn log_layer<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use tracing_subscriber::Layer as _;
    tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .with_writer(std::io::sink)
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO)
}

struct Variant {
    name: &'static str,
    dispatch: tracing::Dispatch,
    span_bytes: Option<Arc<Mutex<Counted>>>,
    times: Vec<Duration>,
}

fn variants() -> Vec<Variant> {
    use tracing_subscriber::layer::SubscriberExt as _;
    let mut all = vec![Variant {
        name: "logs",
        dispatch: tracing::Dispatch::new(tracing_subscriber::registry().with(log_layer())),
        span_bytes: None,
        times: Vec::new(),
    }];
    // TRACING VARIANTS BEGIN (the build before tracing has no span layer)
    for (name, vars) in [
        (
            "spans-sampled-out",
            &[("OTEL_TRACES_SAMPLER", "always_off")][..],
        ),
        ("spans", &[][..]),
    ] {
        let counted = Arc::new(Mutex::new(Counted::default()));
        let (layer, _export) =
            eventrail_runtime::__private::bench_span_layer("bench-tasks", vars, counted.clone())
                .unwrap_or_else(|error| panic!("{error}"));
        all.push(Variant {
            name,
            dispatch: tracing::Dispatch::new(
                tracing_subscriber::registry().with(log_layer()).with(layer),
            ),
            span_bytes: Some(counted),
            times: Vec::new(),
        });
    }
    // TRACING VARIANTS END
    all
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

fn micros(duration: Duration) -> String {
    format!("{:.1} µs", duration.as_secs_f64() * 1e6)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it once, briefly.
    let quick = !std::env::args().any(|arg| arg == "--bench");
    let rounds = if quick {
        1
    } else {
        env_number("TRACE_BENCH_ROUNDS", 20)
    };
    let per_round = if quick {
        20
    } else {
        env_number("TRACE_BENCH_EVENTS", 1000)
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    let consumer = Consumer::new(
        assign,
        Some(Publisher::new(Bus, "bench-bus")),
        None::<SqsDeadLetterQueue>,
        "bench-tasks",
    );
    let mut variants = variants();
    // One warm-up round per variant, not counted.
    for round in 0..=rounds {
        for variant in &mut variants {
            let _guard = tracing::dispatcher::set_default(&variant.dispatch);
            runtime.block_on(async {
                for _ in 0..per_round {
                    let started = Instant::now();
                    let outcome = consumer.process_payload(PAYLOAD.as_bytes(), None).await;
                    let took = started.elapsed();
                    if outcome.is_err() {
                        panic!("the hop failed: {outcome:?}");
                    }
                    if round > 0 {
                        variant.times.push(took);
                    }
                }
            });
        }
    }
    let events = (rounds * per_round) as u64;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "trace_overhead: {rounds} rounds x {per_round} events per variant (after one warm-up \
         round); load average {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("| variant | p50 | p90 | p99 | mean | span lines, bytes per event |");
    println!("|---|---|---|---|---|---|");
    for variant in &mut variants {
        variant.times.sort_unstable();
        let total: Duration = variant.times.iter().sum();
        let bytes = variant.span_bytes.as_ref().map_or_else(
            || "-".to_owned(),
            |counted| {
                let written = counted.lock().map(|c| c.0).unwrap_or_default();
                // The warm-up round wrote too.
                format!("{}", written / (events + per_round as u64))
            },
        );
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            variant.name,
            micros(percentile(&variant.times, 50)),
            micros(percentile(&variant.times, 90)),
            micros(percentile(&variant.times, 99)),
            micros(total / variant.times.len().max(1) as u32),
            bytes
        );
    }
}
