//! Fault injection, offline: "nothing lost", measured.
//!
//! The shop's real handlers run inside the real runtime kit (`Consumer`, `Publisher`, dead
//! letters), wired by the real template's rules (`Router`), over a simulated EventBridge and
//! Lambda that fail on command. The simulation keeps what the AWS services promise:
//! - EventBridge: an accepted entry is delivered to every function whose rule matches it;
//! - EventBridge refuses a PutEvents call with an entry of 1 MiB or more;
//! - Lambda (asynchronous invocation): a failed invocation is retried twice, then the event
//!   goes to the function's failure queue as an on-failure record; a crash (a panic, raised
//!   inside the handler the real `Consumer` runs) is a failure;
//! - each invocation has a deadline (10 s timeout): the harness kills an invocation still
//!   running at its deadline, as Lambda does (a killed invocation is a failure, and is counted:
//!   the runtime must end every invocation before its deadline).
//!
//! A set of orders (every scenario, twice), two poison events and, for one row, an event too
//! large to pass on, go through once without faults (the baseline: what must happen) and
//! once per fault. For each fault the table counts what was published, duplicated, parked in
//! failure queues and written to the outbox, and the residual: expected effects that are
//! neither done nor downstream of a hop whose event is parked in a failure queue (the
//! baseline records which invocation produced each effect). The residual must be 0, the
//! outbox must hold one message per key, and no invocation may be killed at its deadline.
//! Time is paused (tokio's test clock), so backoffs and deadlines cost nothing real, and
//! every loop is bounded. RELIABILITY.md has the table and how to rerun it:
//! `cargo test -p eventrail-tests --test integration faults:: -- --nocapture`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventrail_model::Router;
use eventrail_runtime::dead_letter::{DeadLetter, DeadLetterError, DeadLetterSink};
use eventrail_runtime::publisher::{
    EntryOutcome, MAX_ENTRY_BYTES, OutgoingEvent, Publisher, PutEventsApi, RetryPolicy,
    TransportError,
};
use eventrail_runtime::{Consumer, Emitted, Handler, HandlerError, Incoming};
use eventrail_tests::repo;
use events::scenarios::Scenario;
use events::{Event, OutboxMessage};
use serde_json::{Value, json};

/// The invocation a publish or an outbox send happens in: (function, its event's key).
type Hop = (String, EventKey);
/// An event's identity across runs: (correlation id, detail-type, idempotency key).
type EventKey = (String, String, String);

tokio::task_local! {
    /// Set around each invocation, so the simulated services know which hop caused an effect.
    static HOP: Hop;
}

/// The invocation timeout (the harness kills an invocation at this deadline).
const TIMEOUT: Duration = Duration::from_secs(10);
/// An event whose id this is is the oversized row's input.
const OVERSIZED_ID: &str = "oversized-1";

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
    /// Invocations still running at their deadline, killed by the harness as Lambda would.
    killed: AtomicUsize,
    /// Entries the bus refused for being over EventBridge's entry limit.
    refused_oversized: AtomicUsize,
    /// Accepted events, with the invocation that published them (`None`: put from outside).
    archive: Mutex<Vec<(Value, Option<Hop>)>>,
    deliveries: Mutex<VecDeque<(String, Value)>>,
    dead_letters: Mutex<Vec<DeadLetter>>,
    dead_letter_tries: Mutex<BTreeMap<String, usize>>,
    on_failure: Mutex<Vec<(String, Value)>>,
    outbox: Mutex<Vec<(OutboxMessage, Option<Hop>)>>,
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
            killed: AtomicUsize::new(0),
            refused_oversized: AtomicUsize::new(0),
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
        self.archive.lock().unwrap().push((event, current_hop()));
    }
}

/// The invocation the calling task runs in, if any.
fn current_hop() -> Option<Hop> {
    HOP.try_with(Clone::clone).ok()
}

/// An event's identity across runs.
fn event_key(event: &Value) -> EventKey {
    (
        text(event, "/detail/metadata/correlation_id").to_owned(),
        text(event, "/detail-type").to_owned(),
        text(event, "/detail/metadata/idempotency_key").to_owned(),
    )
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
            // Longer than any invocation: the publisher must give up at its deadline. The
            // fault struck when the call is abandoned while it hangs (the guard is dropped
            // before the sleep ends).
            let abandoned = Abandoned(Some(Arc::clone(w)));
            tokio::time::sleep(Duration::from_secs(60)).await;
            abandoned.finished();
        }
        // EventBridge refuses the whole call when an entry is over its size limit.
        if entries
            .iter()
            .any(|e| e.source.len() + e.detail_type.len() + e.detail.len() >= MAX_ENTRY_BYTES)
        {
            w.refused_oversized.fetch_add(1, Ordering::Relaxed);
            return Err(TransportError::permanent(
                "ValidationException: an entry is over the 1 MiB limit",
            ));
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

/// Strikes when dropped before [`Abandoned::finished`]: a hanging call was given up on.
struct Abandoned(Option<Arc<World>>);

impl Abandoned {
    fn finished(mut self) {
        self.0 = None;
    }
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        if let Some(world) = &self.0 {
            world.strike();
        }
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
        outbox.push((message.clone(), current_hop()));
        Ok(Some(format!("out-{}", outbox.len())))
    }
}

/// A real handler, made to panic inside the real `Consumer` on the invocations the harness
/// picks (the `CRASH` flag of the invocation's task).
struct MayPanic<H> {
    handler: H,
}

tokio::task_local! {
    /// Whether the handler panics in this invocation.
    static CRASH: bool;
}

impl<E, H> Handler<E> for MayPanic<H>
where
    E: Event + Send + 'static,
    H: Handler<E>,
{
    async fn handle(&self, event: Incoming<E>) -> Result<Emitted, HandlerError> {
        if CRASH.try_with(|crash| *crash).unwrap_or(false) {
            panic!("injected: the handler panicked");
        }
        self.handler.handle(event).await
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

/// One function: the real runtime around the real handler, invoked with Lambda's deadline and
/// killed when it is still running at that deadline.
fn function<E, H>(world: &Arc<World>, name: &str, emits: Vec<String>, handler: H) -> Function
where
    E: Event + Send + 'static,
    H: Handler<E> + 'static,
{
    let consumer = Arc::new(
        Consumer::new(
            MayPanic { handler },
            Some(Publisher::new(Bus(Arc::clone(world)), "bus").with_retry(fast_retries())),
            Some(FailureQueue(Arc::clone(world))),
            name,
        )
        .with_declared_emits(emits),
    );
    let world = Arc::clone(world);
    let name = name.to_owned();
    Arc::new(move |event: Value, crash: bool| {
        let consumer = Arc::clone(&consumer);
        let world = Arc::clone(&world);
        let hop = (name.clone(), event_key(&event));
        Box::pin(async move {
            let deadline = std::time::SystemTime::now() + TIMEOUT;
            let mut task = tokio::spawn(HOP.scope(
                hop,
                CRASH.scope(crash, async move {
                    Box::pin(consumer.process_until(event, Some(deadline)))
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }),
            ));
            match tokio::time::timeout(TIMEOUT, &mut task).await {
                Ok(Ok(result)) => result,
                Ok(Err(crashed)) => {
                    if crashed.is_panic() && world.fault == Fault::HandlerPanic {
                        // The fault struck: a panic ended the invocation.
                        world.strike();
                    }
                    Err(format!("the invocation crashed: {crashed}"))
                }
                Err(_) => {
                    // Lambda ends the invocation at its timeout: whatever it had not done
                    // yet (a dead letter, the answer) never happens.
                    task.abort();
                    world.killed.fetch_add(1, Ordering::Relaxed);
                    Err(format!(
                        "Task timed out after {} seconds",
                        TIMEOUT.as_secs()
                    ))
                }
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
        if world.fault == Fault::Oversized && text(&event, "/id") == OVERSIZED_ID {
            // The oversized order reached a function: its effects cannot be published.
            world.strike();
        }
        let mut last_error = String::new();
        let mut handled = false;
        for attempt in 1..=3 {
            let n = world.invocations.fetch_add(1, Ordering::Relaxed) + 1;
            let crash = world.fault == Fault::HandlerPanic && attempt == 1 && n.is_multiple_of(4);
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

/// The extra order one row adds to the inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExtraOrder {
    /// None (every row but one).
    Without,
    /// The oversized row's order with a small SKU: its baseline (what the order would do).
    Small,
    /// The oversized row's order: every event inventory could emit about it is over 1 MB.
    Oversized,
}

/// The inputs: every scenario twice through `orders`, the poison samples, and (one row) an
/// order whose events would be over EventBridge's entry limit.
async fn feed(world: &Arc<World>, extra: ExtraOrder) -> usize {
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
    let sku = match extra {
        ExtraOrder::Without => return inputs,
        ExtraOrder::Small => "S".to_owned(),
        // Decodes and validates, but every event inventory could emit about it is over 1 MB.
        ExtraOrder::Oversized => "S".repeat(1_100_000),
    };
    let mut command =
        serde_json::to_value(Scenario::HappyPath.command("ord-fault-oversized")).unwrap();
    command["order"]["items"][0]["sku"] = json!(sku);
    let order = command["order"].clone();
    let detail = json!({
        "metadata": {
            "schema_version": 1, "correlation_id": "corr-oversized", "causation_id": null,
            "idempotency_key": "k-oversized",
        },
        "data": { "order": order },
    });
    inputs += 1;
    world.accept(bus_event(
        OVERSIZED_ID,
        "eventrail.orders",
        "OrderPlaced",
        detail,
    ));
    inputs
}

/// What one run produced.
#[derive(Debug, Default)]
struct Tally {
    inputs: usize,
    injected: usize,
    /// Invocations the harness killed at their deadline.
    killed: usize,
    /// PutEvents calls the bus refused for an entry over the size limit.
    refused_oversized: usize,
    published_raw: usize,
    /// Each distinct event published, with the invocation that first published it.
    events: BTreeMap<EventKey, Option<Hop>>,
    outbox_raw: usize,
    /// Each distinct outbox key, with the invocation that first wrote it.
    outbox: BTreeMap<String, Option<Hop>>,
    /// The hops (function, event) a failure record holds the event of.
    failed_hops: BTreeSet<Hop>,
    /// The hops whose failure record is a poison dead letter.
    poison_hops: BTreeSet<Hop>,
    poison: usize,
    handler_failures: usize,
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

async fn run(fault: Fault, extra: ExtraOrder) -> Tally {
    let router = Router::load(repo().join("infra/template.yaml")).expect("the template loads");
    let world = World::new(fault, router);
    let functions = functions(&world);
    let inputs = feed(&world, extra).await;
    drain(&world, &functions).await;
    if fault == Fault::Replay {
        let archived: Vec<Value> = world
            .archive
            .lock()
            .unwrap()
            .iter()
            .map(|(event, _)| event.clone())
            .collect();
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
        killed: world.killed.load(Ordering::Relaxed),
        refused_oversized: world.refused_oversized.load(Ordering::Relaxed),
        ..Tally::default()
    };
    let mut by_id: BTreeMap<String, EventKey> = BTreeMap::new();
    for (event, hop) in world.archive.lock().unwrap().iter() {
        tally.published_raw += 1;
        let key = event_key(event);
        by_id.insert(text(event, "/id").to_owned(), key.clone());
        tally.events.entry(key).or_insert_with(|| hop.clone());
    }
    for (message, hop) in world.outbox.lock().unwrap().iter() {
        tally.outbox_raw += 1;
        tally
            .outbox
            .entry(message.idempotency_key.clone())
            .or_insert_with(|| hop.clone());
    }
    for letter in world.dead_letters.lock().unwrap().iter() {
        tally.poison += 1;
        let id = letter.event_id.clone().unwrap_or_default();
        let key = by_id.get(&id).cloned().unwrap_or_else(|| {
            panic!(
                "{} dead-lettered event {id:?}, which the bus never accepted",
                letter.function
            )
        });
        let hop = (letter.function.clone(), key);
        tally.failed_hops.insert(hop.clone());
        tally.poison_hops.insert(hop);
    }
    for (function, record) in world.on_failure.lock().unwrap().iter() {
        tally.handler_failures += 1;
        let hop = (function.clone(), event_key(&record["requestPayload"]));
        tally.failed_hops.insert(hop);
    }
    tally
}

/// Whether `hop`, or an invocation upstream of it in the baseline, has a failure record in
/// `got`. Up the chain of causes: each event was published by one invocation (or put by the
/// harness: a root). Bounded: causes do not loop in the baseline.
fn downstream_of_a_failure<'a>(expected: &'a Tally, got: &Tally, mut hop: Option<&'a Hop>) -> bool {
    for _ in 0..100 {
        let Some(h) = hop else { return false };
        if got.failed_hops.contains(h) {
            return true;
        }
        hop = expected.events.get(&h.1).and_then(Option::as_ref);
    }
    false
}

/// Expected effects (from the baseline) that are neither done nor downstream of a failed
/// hop: an effect is excused only when a failure record holds the event of the invocation
/// that produced it in the baseline, or of an invocation upstream of that one (redriving the
/// parked event resumes the flow there). A failure record excuses nothing beside its hop.
fn residual(expected: &Tally, got: &Tally) -> Vec<String> {
    let excused = |hop: Option<&Hop>| downstream_of_a_failure(expected, got, hop);
    let mut missing = Vec::new();
    let effects = expected
        .events
        .iter()
        .filter(|(key, _)| !got.events.contains_key(*key))
        .map(|(key, hop)| (format!("event {key:?}"), hop.as_ref()))
        .chain(
            expected
                .outbox
                .iter()
                .filter(|(key, _)| !got.outbox.contains_key(*key))
                .map(|(key, hop)| (format!("outbox message {key:?}"), hop.as_ref())),
        )
        .chain(
            expected
                .failed_hops
                .iter()
                .filter(|hop| !got.failed_hops.contains(*hop))
                .map(|hop| {
                    (
                        format!("failure record {hop:?}"),
                        expected.events.get(&hop.1).and_then(Option::as_ref),
                    )
                }),
        );
    for (effect, produced_by) in effects {
        if !excused(produced_by) {
            missing.push(format!("{effect} (produced by {produced_by:?})"));
        }
    }
    missing
}

fn by_type(tally: &Tally) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, detail_type, _) in tally.events.keys() {
        *counts.entry(detail_type).or_default() += 1;
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
    let baseline = run(Fault::None, ExtraOrder::Without).await;
    assert!(baseline.poison >= 2, "the poison inputs are dead-lettered");
    assert!(
        baseline.handler_failures >= 2,
        "the gateway-down orders end in payments' failure queue"
    );
    // What the oversized row's order does when it is small: that row's expectations.
    let with_small_order = run(Fault::None, ExtraOrder::Small).await;
    println!(
        "Expected distinct idempotency keys per event type: {}",
        by_type(&baseline)
    );
    println!();
    println!(
        "| fault | inputs | struck | published | distinct | duplicates | poison | handler failures | outbox | outbox keys | killed at deadline | residual |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut problems = Vec::new();
    for fault in Fault::ALL {
        let (tally, expected) = match fault {
            Fault::None => (None, &baseline),
            Fault::Oversized => (
                Some(run(fault, ExtraOrder::Oversized).await),
                &with_small_order,
            ),
            _ => (Some(run(fault, ExtraOrder::Without).await), &baseline),
        };
        let tally = tally.as_ref().unwrap_or(&baseline);
        let distinct = tally.events.len();
        let outbox_keys = tally.outbox.len();
        let residual = residual(expected, tally);
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
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
            tally.killed,
            residual.len()
        );
        if !residual.is_empty() {
            problems.push(format!(
                "{}: residual {}, e.g. {:#?}",
                fault.label(),
                residual.len(),
                &residual[..residual.len().min(3)]
            ));
        }
        if tally.outbox_raw != outbox_keys {
            problems.push(format!(
                "{}: {} outbox messages for {outbox_keys} keys: a customer was notified twice",
                fault.label(),
                tally.outbox_raw
            ));
        }
        if tally.killed != 0 {
            problems.push(format!(
                "{}: {} invocation(s) still running at the {} s deadline were killed",
                fault.label(),
                tally.killed,
                TIMEOUT.as_secs()
            ));
        }
        if fault != Fault::None && tally.injected == 0 {
            problems.push(format!("{}: the fault never struck", fault.label()));
        }
        if fault == Fault::Oversized {
            let oversized = (
                "inventory".to_owned(),
                (
                    "corr-oversized".to_owned(),
                    "OrderPlaced".to_owned(),
                    "k-oversized".to_owned(),
                ),
            );
            if !tally.poison_hops.contains(&oversized) {
                problems.push(format!(
                    "{}: inventory did not dead-letter the oversized order as poison at once \
                     (failure records: {:?})",
                    fault.label(),
                    tally.failed_hops
                ));
            }
            if tally.refused_oversized != 0 {
                problems.push(format!(
                    "{}: {} PutEvents call(s) carried an entry over the limit",
                    fault.label(),
                    tally.refused_oversized
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn a_failure_record_excuses_only_what_is_downstream_of_its_hop() {
    let key = |detail_type: &str, key: &str| {
        ("corr-1".to_owned(), detail_type.to_owned(), key.to_owned())
    };
    let placed = key("OrderPlaced", "k-1");
    let hop = |function: &str, event: &EventKey| Some((function.to_owned(), event.clone()));
    // One order: inventory reserves stock (and payments captures), fraud flags it.
    let reserved = key("StockReserved", "k-2");
    let captured = key("PaymentCaptured", "k-3");
    let suspected = key("FraudSuspected", "k-4");
    let mut expected = Tally::default();
    expected.events.insert(placed.clone(), None);
    expected
        .events
        .insert(reserved.clone(), hop("inventory", &placed));
    expected
        .events
        .insert(captured.clone(), hop("payments", &reserved));
    expected
        .events
        .insert(suspected.clone(), hop("fraud", &placed));
    // inventory's invocation failed and is parked; fraud's effect is lost all the same.
    let mut got = Tally::default();
    got.events.insert(placed.clone(), None);
    got.failed_hops
        .insert(("inventory".to_owned(), placed.clone()));
    let missing = residual(&expected, &got);
    assert_eq!(missing.len(), 1, "{missing:#?}");
    assert!(missing[0].contains("FraudSuspected"), "{missing:#?}");
    // Once fraud's effect is there, the parked hop excuses everything downstream of it.
    got.events.insert(suspected, hop("fraud", &placed));
    assert_eq!(residual(&expected, &got), Vec::<String>::new());
}
