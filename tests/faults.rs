//! Fault injection, offline: "nothing lost", measured.
//!
//! The shop's real handlers run inside the real runtime kit (`Consumer`, `Publisher`, dead
//! letters), wired by the real template's rules (`Router`), over a simulated EventBridge and
//! Lambda that fail on command. The simulation keeps what the AWS services promise:
//! - EventBridge: an accepted entry is delivered to every function whose rule matches it;
//! - Lambda (asynchronous invocation): a failed invocation is retried twice, then the event
//!   goes to the function's failure queue as an on-failure record; a crash (panic) is a failure;
//! - each invocation has a deadline (10 s timeout), which the runtime must respect.
//!
//! A set of orders (every scenario, twice), two poison events and, for one row, an event too
//! large to pass on, go through once without faults (the baseline: what must happen) and
//! once per fault. For each fault the table counts what was published, duplicated, parked in
//! failure queues and written to the outbox, and the residual: expected effects that are
//! neither done nor parked in a failure queue with their event. The residual must be 0.
//! Time is paused (tokio's test clock), so backoffs and deadlines cost nothing real, and
//! every loop is bounded. RELIABILITY.md has the table and how to rerun it:
//! `cargo test -p eventrail-tests --test faults -- --nocapture`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventrail_runtime::{
    Consumer, DeadLetter, DeadLetterError, DeadLetterSink, EntryOutcome, Handler, OutgoingEvent,
    Publisher, PutEventsApi, RetryPolicy, TransportError,
};
use eventrail_template::Router;
use eventrail_tests::repo;
use events::scenarios::Scenario;
use events::{Event, OutboxMessage};
use serde_json::{Value, json};

/// The faults the harness injects, one per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    EntryThrottling,
    TimeoutAfterAccept,
    DeadLetterSendsFail,
    HandlerPanic,
    TimeoutMidPublish,
    Oversized,
    Duplicates,
    Replay,
}

impl Fault {
    const ALL: [Fault; 9] = [
        Fault::None,
        Fault::EntryThrottling,
        Fault::TimeoutAfterAccept,
        Fault::DeadLetterSendsFail,
        Fault::HandlerPanic,
        Fault::TimeoutMidPublish,
        Fault::Oversized,
        Fault::Duplicates,
        Fault::Replay,
    ];

    fn label(self) -> &'static str {
        match self {
            Fault::None => "none (baseline)",
            Fault::EntryThrottling => "1 entry in 3 throttled / InternalFailure",
            Fault::TimeoutAfterAccept => "1 call in 3 times out after EventBridge accepted it",
            Fault::DeadLetterSendsFail => "dead-letter sends fail twice per event",
            Fault::HandlerPanic => "1 invocation in 4 panics (first attempt)",
            Fault::TimeoutMidPublish => "1 PutEvents call in 3 hangs past the deadline",
            Fault::Oversized => "an event whose effects exceed the entry limit",
            Fault::Duplicates => "every delivery made twice",
            Fault::Replay => "the whole archive replayed afterwards",
        }
    }
}

/// The simulated cloud: bus, archive, deliveries, failure queues, outbox.
struct World {
    fault: Fault,
    router: Router,
    calls: AtomicUsize,
    entries: AtomicUsize,
    invocations: AtomicUsize,
    /// How often the fault actually struck (a row whose fault never struck proves nothing).
    injected: AtomicUsize,
    archive: Mutex<Vec<Value>>,
    deliveries: Mutex<VecDeque<(String, Value)>>,
    dead_letters: Mutex<Vec<DeadLetter>>,
    dead_letter_tries: Mutex<BTreeMap<String, usize>>,
    on_failure: Mutex<Vec<(String, Value)>>,
    outbox: Mutex<Vec<OutboxMessage>>,
}

impl World {
    fn new(fault: Fault, router: Router) -> Arc<Self> {
        Arc::new(Self {
            fault,
            router,
            calls: AtomicUsize::new(0),
            entries: AtomicUsize::new(0),
            invocations: AtomicUsize::new(0),
            injected: AtomicUsize::new(0),
            archive: Mutex::new(Vec::new()),
            deliveries: Mutex::new(VecDeque::new()),
            dead_letters: Mutex::new(Vec::new()),
            dead_letter_tries: Mutex::new(BTreeMap::new()),
            on_failure: Mutex::new(Vec::new()),
            outbox: Mutex::new(Vec::new()),
        })
    }

    fn strike(&self) {
        self.injected.fetch_add(1, Ordering::Relaxed);
    }

    /// EventBridge accepted `event`: archive it and queue one delivery per matching rule.
    fn accept(&self, event: Value) {
        let functions = self.router.functions_for(&event);
        let mut deliveries = self.deliveries.lock().unwrap();
        for function in functions {
            deliveries.push_back((function.clone(), event.clone()));
            if self.fault == Fault::Duplicates {
                self.strike();
                deliveries.push_back((function, event.clone()));
            }
        }
        self.archive.lock().unwrap().push(event);
    }
}

/// The bus, as the publisher sees it.
#[derive(Clone)]
struct Bus(Arc<World>);

impl PutEventsApi for Bus {
    async fn put_events(
        &self,
        _bus: &str,
        entries: &[OutgoingEvent],
    ) -> Result<Vec<EntryOutcome>, TransportError> {
        let w = &self.0;
        let call = w.calls.fetch_add(1, Ordering::Relaxed) + 1;
        if w.fault == Fault::TimeoutMidPublish && call.is_multiple_of(3) {
            w.strike();
            // Longer than any invocation: the publisher must give up at its deadline.
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        let mut outcomes = Vec::new();
        for entry in entries {
            let n = w.entries.fetch_add(1, Ordering::Relaxed) + 1;
            if w.fault == Fault::EntryThrottling && n.is_multiple_of(3) {
                w.strike();
                let code = if n.is_multiple_of(2) {
                    "ThrottlingException"
                } else {
                    "InternalFailure"
                };
                outcomes.push(EntryOutcome {
                    event_id: None,
                    error_code: Some(code.to_owned()),
                    error_message: Some("injected".to_owned()),
                });
                continue;
            }
            let id = format!("evt-{n}");
            let detail: Value = serde_json::from_str(&entry.detail)
                .map_err(|e| TransportError::permanent(format!("detail is not JSON: {e}")))?;
            w.accept(bus_event(&id, &entry.source, &entry.detail_type, detail));
            outcomes.push(EntryOutcome {
                event_id: Some(id),
                ..Default::default()
            });
        }
        if w.fault == Fault::TimeoutAfterAccept && call.is_multiple_of(3) {
            w.strike();
            return Err(TransportError::retryable(
                "injected: the call timed out after EventBridge accepted its entries",
            ));
        }
        Ok(outcomes)
    }
}

fn bus_event(id: &str, source: &str, detail_type: &str, detail: Value) -> Value {
    json!({
        "version": "0", "id": id, "detail-type": detail_type, "source": source,
        "account": "000000000000", "time": "2026-01-01T00:00:00Z", "region": "us-east-1",
        "resources": [], "detail": detail,
    })
}

/// A function's failure queue, for the runtime's poison dead letters.
#[derive(Clone)]
struct FailureQueue(Arc<World>);

impl DeadLetterSink for FailureQueue {
    async fn send(&self, letter: &DeadLetter) -> Result<String, DeadLetterError> {
        let w = &self.0;
        let key = format!(
            "{}/{}",
            letter.function,
            letter.event_id.clone().unwrap_or_default()
        );
        if w.fault == Fault::DeadLetterSendsFail {
            let mut tries = w.dead_letter_tries.lock().unwrap();
            let count = tries.entry(key).or_default();
            *count += 1;
            if *count <= 2 {
                w.strike();
                return Err(DeadLetterError {
                    event_id: letter.event_id.clone().unwrap_or_default(),
                    message: "injected: SQS refused the message".to_owned(),
                });
            }
        }
        let mut letters = w.dead_letters.lock().unwrap();
        letters.push(letter.clone());
        Ok(format!("msg-{}", letters.len()))
    }
}

/// The notifications outbox.
#[derive(Clone)]
struct Outbox(Arc<World>);

impl notifications::Outbox for Outbox {
    async fn send(
        &self,
        message: &OutboxMessage,
        _deduplication_id: &str,
    ) -> Result<Option<String>, String> {
        let mut outbox = self.0.outbox.lock().unwrap();
        outbox.push(message.clone());
        Ok(Some(format!("out-{}", outbox.len())))
    }
}

type Invocation = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
/// Runs one asynchronous invocation of a function: (event, crash it?) -> success or error.
type Function = Arc<dyn Fn(Value, bool) -> Invocation + Send + Sync>;

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(400),
    }
}

/// One function: the real runtime around the real handler, invoked with Lambda's deadline.
fn function<E, H>(world: &Arc<World>, name: &str, emits: Vec<String>, handler: H) -> Function
where
    E: Event + Send + 'static,
    H: Handler<E> + 'static,
{
    let consumer = Arc::new(
        Consumer::new(
            handler,
            Some(Publisher::new(Bus(Arc::clone(world)), "bus").with_retry(fast_retries())),
            Some(FailureQueue(Arc::clone(world))),
            name,
        )
        .with_declared_emits(emits),
    );
    Arc::new(move |event: Value, crash: bool| {
        let consumer = Arc::clone(&consumer);
        Box::pin(async move {
            // A 10 s function timeout.
            let deadline = std::time::SystemTime::now() + Duration::from_secs(10);
            let task = tokio::spawn(async move {
                if crash {
                    panic!("injected: the handler panicked");
                }
                Box::pin(consumer.process_until(event, Some(deadline)))
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            });
            match task.await {
                Ok(result) => result,
                Err(crashed) => Err(format!("the invocation crashed: {crashed}")),
            }
        }) as Invocation
    })
}

fn functions(world: &Arc<World>) -> BTreeMap<String, Function> {
    let project = eventrail_contract::Project::load(repo()).expect("the project loads");
    let emits: BTreeMap<String, Vec<String>> = project
        .functions()
        .expect("declarations load")
        .into_iter()
        .map(|f| (f.name, f.declaration.emits))
        .collect();
    let emits = |name: &str| emits.get(name).cloned().unwrap_or_default();
    let mut all = BTreeMap::new();
    all.insert(
        "inventory".to_owned(),
        function(world, "inventory", emits("inventory"), inventory::handle),
    );
    all.insert(
        "payments".to_owned(),
        function(world, "payments", emits("payments"), payments::handle),
    );
    all.insert(
        "shipping".to_owned(),
        function(world, "shipping", emits("shipping"), shipping::handle),
    );
    all.insert(
        "fraud".to_owned(),
        function(world, "fraud", emits("fraud"), fraud::handle),
    );
    all.insert(
        "analytics".to_owned(),
        function(world, "analytics", emits("analytics"), analytics::handle),
    );
    all.insert(
        "notifications".to_owned(),
        function(
            world,
            "notifications",
            emits("notifications"),
            notifications::Notifier::new(
                Outbox(Arc::clone(world)),
                eventrail_runtime::idempotency::Idempotency::new(
                    eventrail_runtime::idempotency::MemoryStore::new(),
                ),
            ),
        ),
    );
    all
}

/// Lambda: runs queued deliveries until none is left; 3 attempts, then an on-failure record.
async fn drain(world: &Arc<World>, functions: &BTreeMap<String, Function>) {
    for _ in 0..100_000 {
        let next = world.deliveries.lock().unwrap().pop_front();
        let Some((name, event)) = next else { return };
        let Some(run) = functions.get(&name) else {
            panic!("a rule targets {name}, which the harness does not run");
        };
        let mut last_error = String::new();
        let mut handled = false;
        for attempt in 1..=3 {
            let n = world.invocations.fetch_add(1, Ordering::Relaxed) + 1;
            let crash = world.fault == Fault::HandlerPanic && attempt == 1 && n.is_multiple_of(4);
            if crash {
                world.strike();
            }
            match run(event.clone(), crash).await {
                Ok(()) => {
                    handled = true;
                    break;
                }
                Err(error) => last_error = error,
            }
        }
        if !handled {
            let record = json!({ "requestPayload": event, "error": last_error });
            world.on_failure.lock().unwrap().push((name, record));
        }
    }
    panic!("the harness did not settle within 100000 deliveries");
}

/// The inputs: every scenario twice through `orders`, the poison samples, and (one row) an
/// order whose events would be over EventBridge's entry limit.
async fn feed(world: &Arc<World>) -> usize {
    let mut inputs = 0;
    let publisher = Publisher::new(Bus(Arc::clone(world)), "bus").with_retry(fast_retries());
    for round in 0..2 {
        for (i, scenario) in Scenario::ALL.into_iter().enumerate() {
            let order_id = format!("ord-fault-{round}-{i}");
            let command = serde_json::to_value(scenario.command(&order_id)).unwrap();
            inputs += 1;
            // `orders` is invoked directly: its caller retries a failed command (idempotent).
            let mut placed = false;
            for _ in 0..5 {
                if orders::place_order(Some(&publisher), command.clone())
                    .await
                    .is_ok()
                {
                    placed = true;
                    break;
                }
            }
            assert!(placed, "{order_id} was never placed");
        }
    }
    for (i, sample) in [
        "order-placed-zero-quantity.json",
        "order-placed-undecodable.json",
    ]
    .into_iter()
    .enumerate()
    {
        let path = repo().join("events/samples/poison").join(sample);
        let mut event: Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        event["id"] = json!(format!("poison-{i}"));
        event["detail"]["metadata"]["correlation_id"] = json!(format!("corr-poison-{i}"));
        inputs += 1;
        world.accept(event);
    }
    if world.fault == Fault::Oversized {
        // Decodes and validates, but every event inventory could emit about it is over 1 MB.
        let mut command =
            serde_json::to_value(Scenario::HappyPath.command("ord-fault-oversized")).unwrap();
        command["order"]["items"][0]["sku"] = json!("S".repeat(1_100_000));
        let order = command["order"].clone();
        let detail = json!({
            "metadata": {
                "schema_version": 1, "correlation_id": "corr-oversized", "causation_id": null,
                "idempotency_key": "k-oversized",
            },
            "data": { "order": order },
        });
        world.strike();
        inputs += 1;
        world.accept(bus_event(
            "oversized-1",
            "eventrail.orders",
            "OrderPlaced",
            detail,
        ));
    }
    inputs
}

/// What one run produced.
#[derive(Debug, Default)]
struct Tally {
    inputs: usize,
    injected: usize,
    /// (correlation id) -> distinct (detail-type, idempotency key) published.
    keys: BTreeMap<String, BTreeSet<(String, String)>>,
    published_raw: usize,
    /// (correlation id) -> distinct outbox idempotency keys.
    outbox_keys: BTreeMap<String, BTreeSet<String>>,
    outbox_raw: usize,
    /// (correlation id) -> failure records (poison dead letters and on-failure records).
    parked: BTreeMap<String, usize>,
    poison: usize,
    handler_failures: usize,
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

async fn run(fault: Fault) -> Tally {
    let router = Router::load(repo().join("infra/template.yaml")).expect("the template loads");
    let world = World::new(fault, router);
    let functions = functions(&world);
    let inputs = feed(&world).await;
    drain(&world, &functions).await;
    if fault == Fault::Replay {
        let archived: Vec<Value> = world.archive.lock().unwrap().clone();
        for event in archived {
            world.strike();
            let functions = world.router.functions_for(&event);
            let mut deliveries = world.deliveries.lock().unwrap();
            for function in functions {
                deliveries.push_back((function, event.clone()));
            }
        }
        drain(&world, &functions).await;
    }
    let mut tally = Tally {
        inputs,
        injected: world.injected.load(Ordering::Relaxed),
        ..Tally::default()
    };
    for event in world.archive.lock().unwrap().iter() {
        tally.published_raw += 1;
        tally
            .keys
            .entry(text(event, "/detail/metadata/correlation_id").to_owned())
            .or_default()
            .insert((
                text(event, "/detail-type").to_owned(),
                text(event, "/detail/metadata/idempotency_key").to_owned(),
            ));
    }
    for message in world.outbox.lock().unwrap().iter() {
        tally.outbox_raw += 1;
        tally
            .outbox_keys
            .entry(message.correlation_id.clone())
            .or_default()
            .insert(message.idempotency_key.clone());
    }
    for letter in world.dead_letters.lock().unwrap().iter() {
        tally.poison += 1;
        *tally
            .parked
            .entry(letter.correlation_id.clone().unwrap_or_default())
            .or_default() += 1;
    }
    for (_, record) in world.on_failure.lock().unwrap().iter() {
        tally.handler_failures += 1;
        let correlation = text(record, "/requestPayload/detail/metadata/correlation_id");
        *tally.parked.entry(correlation.to_owned()).or_default() += 1;
    }
    tally
}

/// Expected effects (from the baseline) neither done nor parked with their event in a
/// failure queue: per flow, what is missing counts unless a failure record of the flow holds
/// the event it stopped at (redriving it resumes the flow).
fn residual(expected: &Tally, got: &Tally) -> usize {
    let mut residual = 0;
    let flows: BTreeSet<&String> = expected
        .keys
        .keys()
        .chain(expected.outbox_keys.keys())
        .chain(expected.parked.keys())
        .collect();
    for flow in flows {
        let none = BTreeSet::new();
        let missing_events = expected
            .keys
            .get(flow)
            .unwrap_or(&none)
            .difference(got.keys.get(flow).unwrap_or(&none))
            .count();
        let none_keys = BTreeSet::new();
        let missing_outbox = expected
            .outbox_keys
            .get(flow)
            .unwrap_or(&none_keys)
            .difference(got.outbox_keys.get(flow).unwrap_or(&none_keys))
            .count();
        let parked = got.parked.get(flow).copied().unwrap_or(0);
        let expected_parked = expected.parked.get(flow).copied().unwrap_or(0);
        if parked == 0 {
            residual += missing_events + missing_outbox + expected_parked;
        }
    }
    residual
}

fn by_type(tally: &Tally) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for keys in tally.keys.values() {
        for (detail_type, _) in keys {
            *counts.entry(detail_type).or_default() += 1;
        }
    }
    counts
        .iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test(start_paused = true)]
async fn nothing_is_lost_under_injected_faults() {
    // Injected panics are expected; keep the report readable by not printing them.
    let report_panic = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let injected = info
            .payload()
            .downcast_ref::<&str>()
            .is_some_and(|m| m.starts_with("injected"));
        if !injected {
            report_panic(info);
        }
    }));
    let baseline = run(Fault::None).await;
    assert!(baseline.poison >= 2, "the poison inputs are dead-lettered");
    assert!(
        baseline.handler_failures >= 2,
        "the gateway-down orders end in payments' failure queue"
    );
    println!(
        "Expected distinct idempotency keys per event type: {}",
        by_type(&baseline)
    );
    println!();
    println!(
        "| fault | inputs | struck | published | distinct | duplicates | poison | handler failures | outbox | outbox keys | residual |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut problems = Vec::new();
    for fault in Fault::ALL {
        let tally = if fault == Fault::None {
            None
        } else {
            Some(run(fault).await)
        };
        let tally = tally.as_ref().unwrap_or(&baseline);
        let distinct: usize = tally.keys.values().map(BTreeSet::len).sum();
        let outbox_keys: usize = tally.outbox_keys.values().map(BTreeSet::len).sum();
        let residual = residual(&baseline, tally);
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            fault.label(),
            tally.inputs,
            tally.injected,
            tally.published_raw,
            distinct,
            tally.published_raw - distinct,
            tally.poison,
            tally.handler_failures,
            tally.outbox_raw,
            outbox_keys,
            residual
        );
        if residual != 0 {
            problems.push(format!("{}: residual {residual}", fault.label()));
        }
        if fault != Fault::None && tally.injected == 0 {
            problems.push(format!("{}: the fault never struck", fault.label()));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
