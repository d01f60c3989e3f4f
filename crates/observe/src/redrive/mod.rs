//! Redrive: send the original events of a function's failure queues through again.
//!
//! Records of the function's failure queue (handler failures after Lambda's retries, poison
//! events) go back to the function as an asynchronous invoke, or, for a function an SQS queue
//! feeds (a buffered consumer, a queue trigger), into that queue ([`SendBack`]), so its
//! concurrency cap still holds; records of the rule target's delivery dead-letter queue go
//! back to the bus. The safety rules:
//!
//! - a message is deleted only after its redelivery was accepted (the invoke or PutEvents
//!   answered without error), so a crash at any point loses nothing: at worst a message
//!   whose redelivery was accepted is sent again by the next redrive (handlers are
//!   idempotent per idempotency key);
//! - poison records are checked against the current catalog first; those that still fail are
//!   left in the queue and reported with the reason;
//! - a record is sent back under the operator's identity only when its event is one the
//!   function consumes (its declaration's `consumes`, with the catalog's sources); any other
//!   is refused, naming the event id, source and detail-type ([`Consumes`]);
//! - a claim check (a dead letter whose event is stored in the failed-events bucket) is
//!   followed only into the stack's own bucket under the function's own prefix
//!   (`<function>/`); any other pointer is refused ([`crate::stored::check_claim`]);
//! - one record that cannot be read (not a failure record, a stored event that cannot be
//!   fetched) fails alone: it is reported with its message id and the reason, stays in the
//!   queue, and the redrive goes on;
//! - queues are read with long polls ([`REDRIVE_WAIT_SECONDS`]): a short poll samples a
//!   subset of SQS's servers and may answer nothing while messages exist, which would end
//!   the redrive early and report a non-empty queue empty;
//! - messages stay hidden while the redrive runs (so each is seen once) and everything left
//!   is made visible again at the end.
//!
//! - an event that carries trace context goes back with it and with the redrive's mark in its
//!   `tracestate` ([`mark_redelivered`]), so its consumer continues the event's trace with a
//!   span that says it was redriven.
//!
//! The engine talks to AWS through [`RedriveClient`], so its order of operations is tested
//! with a fake.

mod buffer;
mod client;
mod consumes;
mod mark;
mod report;

pub use buffer::{
    Feed, QueueDepth, SendBack, depth, kind_name, redriven_by_sqs, sqs_redrive_reason,
};
pub use client::RedriveClient;
pub use consumes::Consumes;
pub use mark::mark_redelivered;
pub use report::{RedriveEntry, RedriveOutcome, RedriveReport};

use eventrail_contract::trace::Redelivery;
use serde_json::Value;

use crate::aws::RawMessage;
use crate::dlq::DeadLetterMessage;
use crate::error::Result;
use crate::failure::{FailureKind, FailureRecord};
use crate::json;
use crate::outputs::{FailureLayer, FailureQueue};
use crate::stored;

/// How long a received message stays hidden while the redrive runs.
pub const REDRIVE_VISIBILITY_SECONDS: i32 = 300;

/// How long each receive waits for messages (`WaitTimeSeconds`). Any wait makes it a long
/// poll, which asks every SQS server holding the queue; a short poll (0) asks a sample and
/// can answer nothing while messages exist. The redrive ends a queue on the first empty
/// answer, so it must never get a false one; the cost is this wait once per queue.
pub const REDRIVE_WAIT_SECONDS: i32 = 2;

/// What to redrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedriveRequest {
    /// The function's display name (`worker`).
    pub function: String,
    /// Its deployed name (the asynchronous invoke's target).
    pub function_name: String,
    /// The bus (delivery dead letters go back there).
    pub bus_name: String,
    /// The function's failure queue and delivery dead-letter queue.
    pub queues: Vec<FailureQueue>,
    /// Where the failure queue's records go back: the function, or the queue that feeds it.
    pub send_back: SendBack,
    /// The events the function consumes (from its declaration): no other is sent back.
    pub consumes: Consumes,
    /// The stack's failed-events bucket (output `FailedEventsBucketName`): claim checks are
    /// followed only into it, under `<function>/`; `None` refuses every claim check.
    pub failed_events_bucket: Option<String>,
    /// At most this many records are handled (redriven, left or failed).
    pub max: Option<usize>,
    /// Only the record with this SQS message id or event id.
    pub id: Option<String>,
    /// Decide and report, but send and delete nothing.
    pub dry_run: bool,
}

/// Runs a redrive. `check` is the catalog check poison records must pass before they are
/// sent again (see `CatalogCheck::check`). Errors reading a queue stop the redrive
/// (after releasing what it holds); a record that cannot be read or is refused, and errors
/// sending or deleting one record, are reported for that record and the redrive goes on.
pub async fn redrive<C: RedriveClient>(
    client: &C,
    request: &RedriveRequest,
    check: impl Fn(&Value) -> Result<(), String>,
) -> Result<RedriveReport> {
    let mut report = RedriveReport::default();
    let limit = request.max.unwrap_or(usize::MAX);
    for queue in &request.queues {
        // Messages to make visible again when this queue is done: left, failed, skipped.
        let mut hold: Vec<String> = Vec::new();
        let mut result = Ok(());
        while report.entries.len() < limit {
            let batch = match client
                .receive(&queue.url, REDRIVE_WAIT_SECONDS, REDRIVE_VISIBILITY_SECONDS)
                .await
            {
                Ok(batch) if batch.is_empty() => break,
                Ok(batch) => batch,
                Err(error) => {
                    result = Err(error);
                    break;
                }
            };
            let mut found_the_one = false;
            for message in batch {
                let decoded = DeadLetterMessage::decode(queue, &message).record;
                let wanted = request
                    .id
                    .as_deref()
                    .is_none_or(|id| id == message.message_id || decoded.event_id() == Some(id));
                // Everything not handled is made visible again at the end, the rest of a
                // batch after the one record asked for included.
                if !wanted || found_the_one || report.entries.len() >= limit {
                    hold.push(message.receipt_handle);
                    continue;
                }
                let outcome = handle(client, request, queue, &message, &decoded, &check).await;
                if !matches!(outcome, RedriveOutcome::Redriven { .. }) {
                    hold.push(message.receipt_handle.clone());
                }
                report.entries.push(RedriveEntry {
                    message_id: message.message_id.clone(),
                    event_id: decoded.event_id().map(str::to_owned),
                    kind: kind_name(&decoded, request.send_back.feed()),
                    layer: queue.layer,
                    outcome,
                });
                found_the_one = request.id.is_some();
            }
            if found_the_one {
                break;
            }
        }
        let released = client.release(&queue.url, &hold).await;
        result?;
        released?;
        if request.id.is_some() && !report.entries.is_empty() {
            break;
        }
    }
    Ok(report)
}

/// The record with its claim check followed: a dead letter whose event is stored apart
/// gets the event back, after [`stored::check_claim`] allowed the place and the object was read;
/// the letter's own event id, when it has one, must be the stored event's. `Ok(None)` when
/// the letter carries its event (or is not JSON: decoding says why).
async fn follow_claim_check<C: RedriveClient>(
    client: &C,
    request: &RedriveRequest,
    queue: &FailureQueue,
    message: &RawMessage,
) -> Result<Option<FailureRecord>, String> {
    let Ok(mut letter) = json::parse(&message.body) else {
        return Ok(None);
    };
    let Some((bucket, key)) = stored::stored_event_location(&letter) else {
        return Ok(None);
    };
    stored::check_claim(
        request.failed_events_bucket.as_deref(),
        &request.function,
        &bucket,
        &key,
    )?;
    if letter
        .pointer("/event_stored_at/format")
        .and_then(Value::as_str)
        == Some("raw")
    {
        return Err(format!(
            "its payload is stored as delivered at s3://{bucket}/{key}: not a JSON event, so \
             there is nothing to send again (`eventrail dlq show` prints it)"
        ));
    }
    let event = client.read_stored(&bucket, &key).await.map_err(|error| {
        format!("its event is stored at s3://{bucket}/{key} and could not be read: {error}")
    })?;
    let letter_id = letter.get("event_id").and_then(Value::as_str);
    let stored_id = event.get("id").and_then(Value::as_str);
    if let Some(letter_id) = letter_id
        && stored_id != Some(letter_id)
    {
        return Err(format!(
            "refused: the event stored at s3://{bucket}/{key} has id {}, not the letter's {letter_id}",
            stored_id.unwrap_or("none")
        ));
    }
    letter["event"] = event;
    let inlined = RawMessage {
        body: letter.to_string(),
        ..message.clone()
    };
    Ok(Some(DeadLetterMessage::decode(queue, &inlined).record))
}

/// Decides and, unless a dry run, redelivers one record, then deletes it.
async fn handle<C: RedriveClient>(
    client: &C,
    request: &RedriveRequest,
    queue: &FailureQueue,
    message: &RawMessage,
    record: &FailureRecord,
    check: &impl Fn(&Value) -> Result<(), String>,
) -> RedriveOutcome {
    let inlined = match follow_claim_check(client, request, queue, message).await {
        Ok(inlined) => inlined,
        Err(reason) => return RedriveOutcome::Failed { reason },
    };
    let record = inlined.as_ref().unwrap_or(record);
    let send_back = match queue.layer {
        FailureLayer::Function => Some(&request.send_back),
        FailureLayer::Delivery => None,
    };
    if let Some(SendBack::SourceQueue { url }) = send_back {
        // A queue's messages are not the bus's events: no catalog type to check them against,
        // the body goes back as the queue had it.
        let body = match source_body(record, message) {
            Ok(body) => body,
            Err(reason) => {
                return RedriveOutcome::Failed {
                    reason: format!("unreadable: {reason}"),
                };
            }
        };
        let to = request.send_back.describe(&request.function_name);
        if request.dry_run {
            return RedriveOutcome::WouldRedrive { to };
        }
        let accepted = client.send_message(url, &body).await;
        return settle(client, queue, message, to, accepted).await;
    }
    let event = match record.original_event() {
        Ok(event) => event,
        Err(reason) => {
            return RedriveOutcome::Failed {
                reason: format!("unreadable: {reason}"),
            };
        }
    };
    if let Err(reason) = request.consumes.admits(&request.function, event) {
        return RedriveOutcome::Failed { reason };
    }
    if let FailureKind::Poison(_) = record.kind
        && let Err(reason) = check(event)
    {
        return RedriveOutcome::Left {
            reason: format!("still fails the current catalog: {reason}"),
        };
    }
    let to = match send_back {
        Some(send_back) => send_back.describe(&request.function_name),
        None => format!("bus {}", request.bus_name),
    };
    if request.dry_run {
        return RedriveOutcome::WouldRedrive { to };
    }
    let event = &mark_redelivered(event, Redelivery::Redrive);
    let accepted = match send_back {
        Some(SendBack::Invoke) => client.invoke_async(&request.function_name, event).await,
        Some(SendBack::BufferQueue { url }) => client.send_message(url, &event.to_string()).await,
        Some(SendBack::SourceQueue { .. }) | None => {
            client.put_event(&request.bus_name, event).await.map(|_| ())
        }
    };
    settle(client, queue, message, to, accepted).await
}

/// The body to send back into a queue-triggered function's source queue: a dead letter's
/// payload (its event, or the text as delivered), else the message as SQS moved it.
fn source_body(record: &FailureRecord, message: &RawMessage) -> Result<String, String> {
    match &record.kind {
        FailureKind::Poison(letter) if letter.event.is_null() => letter
            .event_raw
            .as_ref()
            .and_then(|raw| raw.text())
            .map(str::to_owned)
            .ok_or_else(|| "the dead letter holds no payload to send back".to_owned()),
        FailureKind::Poison(letter) => Ok(letter.event.to_string()),
        _ => Ok(message.body.clone()),
    }
}

/// Deletes a message once its redelivery was `accepted`; the outcome either way.
async fn settle<C: RedriveClient>(
    client: &C,
    queue: &FailureQueue,
    message: &RawMessage,
    to: String,
    accepted: Result<()>,
) -> RedriveOutcome {
    if let Err(error) = accepted {
        return RedriveOutcome::Failed {
            reason: format!("not accepted by {to}: {error}"),
        };
    }
    match client.delete(&queue.url, &message.receipt_handle).await {
        Ok(()) => RedriveOutcome::Redriven { to },
        Err(error) => RedriveOutcome::Failed {
            reason: format!(
                "redelivered to {to}, but not deleted ({error}); it stays queued and a later \
                 redrive sends it again (handlers are idempotent)"
            ),
        },
    }
}
#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::{Arc, Mutex};

    use serde_json::json;
    use tokio::sync::Notify;

    use super::*;
    use crate::error::ObserveError;

    /// A fake SQS + Lambda + EventBridge: queues of messages with visibility, and a log of
    /// every call in order.
    #[derive(Default)]
    struct Fake {
        state: Mutex<State>,
        /// Invokes of this event id never answer (the process "crashes" there).
        hang_on: Option<String>,
        /// Invokes of this event id are refused.
        refuse: Option<String>,
        /// Told when the hanging invoke starts.
        hung: Arc<Notify>,
        /// Short polls (no wait) answer nothing, as SQS may when it samples servers holding
        /// none of the queue's messages.
        short_polls_miss: bool,
    }

    #[derive(Default)]
    struct State {
        /// (queue url, message id, body, visible, deleted)
        messages: Vec<(String, String, String, bool, bool)>,
        /// Stored events by (bucket, key).
        stored: BTreeMap<(String, String), Value>,
        log: Vec<String>,
        /// What each redelivery sent, in order: (where, the payload as JSON).
        sent: Vec<(String, Value)>,
    }

    impl Fake {
        fn with(messages: &[(&str, &str, Value)]) -> Self {
            let fake = Self::default();
            fake.state.lock().unwrap().messages = messages
                .iter()
                .map(|(q, id, body)| (q.to_string(), id.to_string(), body.to_string(), true, false))
                .collect();
            fake
        }

        fn log(&self) -> Vec<String> {
            self.state.lock().unwrap().log.clone()
        }

        fn queued(&self) -> Vec<String> {
            let state = self.state.lock().unwrap();
            state
                .messages
                .iter()
                .filter(|m| !m.4)
                .map(|m| m.1.clone())
                .collect()
        }

        /// Messages still hidden (received, neither deleted nor released).
        fn hidden(&self) -> Vec<String> {
            let state = self.state.lock().unwrap();
            state
                .messages
                .iter()
                .filter(|m| !m.3 && !m.4)
                .map(|m| m.1.clone())
                .collect()
        }

        /// The visibility timeout of every hidden message expires.
        fn expire_visibility(&self) {
            for message in &mut self.state.lock().unwrap().messages {
                message.3 = true;
            }
        }
    }

    fn event_id(event: &Value) -> String {
        event["id"].as_str().unwrap_or_default().to_owned()
    }

    impl RedriveClient for Fake {
        async fn receive(
            &self,
            queue_url: &str,
            wait_seconds: i32,
            _visibility: i32,
        ) -> Result<Vec<RawMessage>> {
            let mut state = self.state.lock().unwrap();
            let mut batch = Vec::new();
            if self.short_polls_miss && wait_seconds == 0 {
                state.log.push(format!("receive {queue_url} -> 0"));
                return Ok(batch);
            }
            for message in state.messages.iter_mut() {
                if message.0 == queue_url && message.3 && !message.4 && batch.len() < 10 {
                    message.3 = false;
                    batch.push(RawMessage {
                        message_id: message.1.clone(),
                        receipt_handle: format!("rh-{}", message.1),
                        body: message.2.clone(),
                        attributes: Default::default(),
                        deduplication_id: None,
                        group_id: None,
                        sent_at_ms: None,
                        receive_count: None,
                    });
                }
            }
            state
                .log
                .push(format!("receive {} -> {}", queue_url, batch.len()));
            Ok(batch)
        }

        async fn read_stored(&self, bucket: &str, key: &str) -> Result<Value> {
            let mut state = self.state.lock().unwrap();
            state.log.push(format!("read s3://{bucket}/{key}"));
            state
                .stored
                .get(&(bucket.to_owned(), key.to_owned()))
                .cloned()
                .ok_or_else(|| ObserveError::StoredEvent {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                    message: "NoSuchKey".to_owned(),
                })
        }

        async fn invoke_async(&self, function_name: &str, event: &Value) -> Result<()> {
            let id = event_id(event);
            {
                let mut state = self.state.lock().unwrap();
                state.log.push(format!("invoke {function_name} {id}"));
                state.sent.push((function_name.to_owned(), event.clone()));
            }
            if self.hang_on.as_deref() == Some(id.as_str()) {
                self.hung.notify_one();
                std::future::pending::<()>().await;
            }
            if self.refuse.as_deref() == Some(id.as_str()) {
                return Err(ObserveError::Aws {
                    operation: "lambda:Invoke (async)",
                    target: function_name.to_owned(),
                    message: "TooManyRequestsException".to_owned(),
                });
            }
            Ok(())
        }

        async fn put_event(&self, bus_name: &str, event: &Value) -> Result<String> {
            let mut state = self.state.lock().unwrap();
            state
                .log
                .push(format!("put {bus_name} {}", event_id(event)));
            state.sent.push((bus_name.to_owned(), event.clone()));
            Ok("new-id".to_owned())
        }

        async fn send_message(&self, queue_url: &str, body: &str) -> Result<()> {
            let mut state = self.state.lock().unwrap();
            let id = serde_json::from_str::<Value>(body)
                .map(|event| event_id(&event))
                .unwrap_or_else(|_| body.to_owned());
            state.log.push(format!("send {queue_url} {id}"));
            let payload = serde_json::from_str(body).unwrap_or_else(|_| Value::from(body));
            state.sent.push((queue_url.to_owned(), payload));
            let message_id = format!("sent-{}", state.messages.len());
            state.messages.push((
                queue_url.to_owned(),
                message_id,
                body.to_owned(),
                true,
                false,
            ));
            Ok(())
        }

        async fn delete(&self, _queue_url: &str, receipt_handle: &str) -> Result<()> {
            let mut state = self.state.lock().unwrap();
            let id = receipt_handle.trim_start_matches("rh-").to_owned();
            state.log.push(format!("delete {id}"));
            for message in state.messages.iter_mut() {
                if message.1 == id {
                    message.4 = true;
                }
            }
            Ok(())
        }

        async fn release(&self, _queue_url: &str, receipt_handles: &[String]) -> Result<()> {
            let mut state = self.state.lock().unwrap();
            for receipt in receipt_handles {
                let id = receipt.trim_start_matches("rh-").to_owned();
                state.log.push(format!("release {id}"));
                for message in state.messages.iter_mut() {
                    if message.1 == id {
                        message.3 = true;
                    }
                }
            }
            Ok(())
        }
    }

    const FAILURES: &str = "q-failure";
    const DELIVERY: &str = "q-delivery";

    fn envelope(id: &str, data: Value) -> Value {
        json!({"id": id, "source": "app.upstream", "detail-type": "Thing",
               "detail": {"metadata": {"correlation_id": "c"}, "data": data}})
    }

    fn handler_failure(id: &str) -> Value {
        json!({
            "requestContext": {"requestId": "r", "condition": "RetriesExhausted",
                               "functionArn": "arn:f", "approximateInvokeCount": 3},
            "requestPayload": envelope(id, json!({"ok": true})),
            "responsePayload": {"errorType": "Retryable", "errorMessage": "gateway down"}
        })
    }

    fn poison(id: &str, data: Value) -> Value {
        json!({"kind": "poison", "function": "worker", "reason": "bad", "event_id": id,
               "correlation_id": "c", "failed_at": "2026-11-20T10:00:00Z",
               "event": envelope(id, data)})
    }

    fn request(dry_run: bool) -> RedriveRequest {
        RedriveRequest {
            function: "worker".into(),
            function_name: "stack-worker".into(),
            bus_name: "bus".into(),
            queues: vec![
                FailureQueue {
                    function: "worker".into(),
                    layer: FailureLayer::Function,
                    url: FAILURES.into(),
                },
                FailureQueue {
                    function: "worker".into(),
                    layer: FailureLayer::Delivery,
                    url: DELIVERY.into(),
                },
            ],
            send_back: SendBack::Invoke,
            consumes: Consumes::Listed(BTreeSet::from([(
                "app.upstream".to_owned(),
                "Thing".to_owned(),
            )])),
            failed_events_bucket: Some(BUCKET.into()),
            max: None,
            id: None,
            dry_run,
        }
    }

    const BUCKET: &str = "stack-failedevents";

    /// A poison dead letter whose event is stored apart, at `bucket`/`key`.
    fn claim_check(id: &str, bucket: &str, key: &str) -> Value {
        json!({"kind": "poison", "function": "worker", "reason": "bad", "event_id": id,
               "correlation_id": "c", "failed_at": "2026-11-20T10:00:00Z", "event": null,
               "event_stored_at": {"bucket": bucket, "key": key, "bytes": 300_000}})
    }

    /// The catalog says: `data.ok` must be true.
    fn check(event: &Value) -> Result<(), String> {
        if event.pointer("/detail/data/ok") == Some(&json!(true)) {
            Ok(())
        } else {
            Err("detail.data.ok must be true".to_owned())
        }
    }

    fn position(log: &[String], line: &str) -> usize {
        log.iter()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("`{line}` not in {log:#?}"))
    }

    #[tokio::test]
    async fn each_message_is_deleted_only_after_its_redelivery_was_accepted() {
        let fake = Fake::with(&[
            (FAILURES, "m1", handler_failure("e1")),
            (FAILURES, "m2", handler_failure("e2")),
            (DELIVERY, "m3", envelope("e3", json!({"ok": true}))),
        ]);
        let fake = Fake {
            refuse: Some("e2".into()),
            ..fake
        };
        let report = redrive(&fake, &request(false), check).await.unwrap();
        let log = fake.log();
        assert!(position(&log, "invoke stack-worker e1") < position(&log, "delete m1"));
        assert!(position(&log, "put bus e3") < position(&log, "delete m3"));
        // Refused: never deleted, made visible again.
        assert!(!log.contains(&"delete m2".to_owned()), "{log:#?}");
        assert!(log.contains(&"release m2".to_owned()), "{log:#?}");
        assert_eq!(fake.queued(), ["m2"]);
        assert_eq!(
            (report.redriven(), report.left(), report.failed()),
            (2, 0, 1)
        );
        let text = report.render(false);
        assert!(text.contains("TooManyRequestsException"), "{text}");
    }

    #[tokio::test]
    async fn a_crash_in_the_middle_loses_nothing_and_the_next_run_finishes() {
        let fake = Fake::with(&[
            (FAILURES, "m1", handler_failure("e1")),
            (FAILURES, "m2", handler_failure("e2")),
            (FAILURES, "m3", handler_failure("e3")),
        ]);
        let fake = Fake {
            hang_on: Some("e2".into()),
            ..fake
        };
        // The process dies while the second redelivery is in flight: the redrive future
        // is dropped there, as a killed process would stop.
        let hung = fake.hung.clone();
        let first = request(false);
        tokio::select! {
            _ = redrive(&fake, &first, check) => panic!("the redrive should hang on e2"),
            () = hung.notified() => {}
        }
        assert_eq!(fake.queued(), ["m2", "m3"], "{:#?}", fake.log());

        // Later, the messages' visibility timeout expires and a new run redrives the rest.
        fake.expire_visibility();
        let healthy = Fake {
            state: Mutex::new(std::mem::take(&mut *fake.state.lock().unwrap())),
            ..Fake::default()
        };
        let report = redrive(&healthy, &request(false), check).await.unwrap();
        assert_eq!(report.redriven(), 2);
        assert!(healthy.queued().is_empty());
        let log = healthy.log();
        assert_eq!(
            log.iter().filter(|l| l.starts_with("invoke")).count(),
            // e1 once before the crash, e2 once before and once after, e3 once.
            4,
            "{log:#?}"
        );
    }

    #[tokio::test]
    async fn poison_that_still_fails_the_catalog_is_left_in_place() {
        let fake = Fake::with(&[
            (FAILURES, "m1", poison("e1", json!({"ok": false}))),
            (FAILURES, "m2", poison("e2", json!({"ok": true}))),
            (FAILURES, "m3", json!({"what": "is this"})),
        ]);
        let report = redrive(&fake, &request(false), check).await.unwrap();
        assert_eq!(fake.queued(), ["m1", "m3"]);
        assert_eq!(
            (report.redriven(), report.left(), report.failed()),
            (1, 1, 1)
        );
        let text = report.render(false);
        assert!(
            text.contains("still fails the current catalog: detail.data.ok must be true"),
            "{text}"
        );
        assert!(fake.log().contains(&"invoke stack-worker e2".to_owned()));
    }

    #[tokio::test]
    async fn a_dry_run_sends_and_deletes_nothing() {
        let fake = Fake::with(&[
            (FAILURES, "m1", handler_failure("e1")),
            (DELIVERY, "m2", envelope("e2", json!({"ok": true}))),
        ]);
        let report = redrive(&fake, &request(true), check).await.unwrap();
        assert_eq!(report.redriven(), 2);
        let log = fake.log();
        assert!(
            log.iter()
                .all(|l| l.starts_with("receive") || l.starts_with("release")),
            "{log:#?}"
        );
        assert_eq!(fake.queued(), ["m1", "m2"]);
        assert!(report.render(true).contains("2 would be redriven"));
    }

    #[tokio::test]
    async fn max_and_id_limit_what_is_redriven() {
        let messages = [
            (FAILURES, "m1", handler_failure("e1")),
            (FAILURES, "m2", handler_failure("e2")),
            (FAILURES, "m3", handler_failure("e3")),
        ];
        let fake = Fake::with(&messages);
        let one = RedriveRequest {
            max: Some(1),
            ..request(false)
        };
        let report = redrive(&fake, &one, check).await.unwrap();
        assert_eq!(report.entries.len(), 1);
        assert_eq!(fake.queued(), ["m2", "m3"]);

        let fake = Fake::with(&messages);
        let by_event = RedriveRequest {
            id: Some("e3".into()),
            ..request(false)
        };
        let report = redrive(&fake, &by_event, check).await.unwrap();
        assert_eq!(report.entries.len(), 1);
        assert_eq!(report.entries[0].message_id, "m3");
        assert_eq!(fake.queued(), ["m1", "m2"]);
        assert!(fake.hidden().is_empty(), "{:#?}", fake.log());

        // The one asked for comes first in its batch: the rest is released too.
        let fake = Fake::with(&messages);
        let first = RedriveRequest {
            id: Some("m1".into()),
            ..request(false)
        };
        let report = redrive(&fake, &first, check).await.unwrap();
        assert_eq!(report.entries.len(), 1);
        assert_eq!(fake.queued(), ["m2", "m3"]);
        assert!(fake.hidden().is_empty(), "{:#?}", fake.log());
    }

    fn outcome_of<'a>(report: &'a RedriveReport, message_id: &str) -> &'a RedriveOutcome {
        &report
            .entries
            .iter()
            .find(|e| e.message_id == message_id)
            .unwrap_or_else(|| panic!("no entry for {message_id}: {report:#?}"))
            .outcome
    }

    fn failure_reason(report: &RedriveReport, message_id: &str) -> String {
        match outcome_of(report, message_id) {
            RedriveOutcome::Failed { reason } => reason.clone(),
            other => panic!("{message_id} did not fail: {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_unreadable_record_fails_alone_and_the_redrive_goes_on() {
        let fake = Fake::with(&[
            // Its stored event is gone from the bucket.
            (FAILURES, "m1", claim_check("e1", BUCKET, "worker/e1.json")),
            (FAILURES, "m2", json!("not a failure record")),
            (FAILURES, "m3", handler_failure("e3")),
            (DELIVERY, "m4", envelope("e4", json!({"ok": true}))),
        ]);
        let report = redrive(&fake, &request(false), check).await.unwrap();
        assert_eq!(
            (report.redriven(), report.left(), report.failed()),
            (2, 0, 2),
            "{report:#?}"
        );
        assert!(failure_reason(&report, "m1").contains("NoSuchKey"));
        assert!(failure_reason(&report, "m1").contains("s3://stack-failedevents/worker/e1.json"));
        assert!(failure_reason(&report, "m2").contains("holds no event"));
        // Left in the queue and visible again; the others were redriven.
        assert_eq!(fake.queued(), ["m1", "m2"]);
        assert!(fake.hidden().is_empty(), "{:#?}", fake.log());
        let log = fake.log();
        assert!(
            log.contains(&"invoke stack-worker e3".to_owned()),
            "{log:#?}"
        );
        assert!(log.contains(&"put bus e4".to_owned()), "{log:#?}");
        let text = report.render(false);
        assert!(text.contains("m1 poison (event e1"), "{text}");
        assert!(text.contains("2 redriven, 0 left, 2 failed"), "{text}");
    }

    #[tokio::test]
    async fn queues_are_long_polled_so_a_sampled_empty_answer_never_ends_the_redrive() {
        let fake = Fake {
            short_polls_miss: true,
            ..Fake::with(&[
                (FAILURES, "m1", handler_failure("e1")),
                (DELIVERY, "m2", envelope("e2", json!({"ok": true}))),
            ])
        };
        let report = redrive(&fake, &request(false), check).await.unwrap();
        assert_eq!(report.redriven(), 2, "{:#?}", fake.log());
        assert!(fake.queued().is_empty());
    }

    #[tokio::test]
    async fn events_the_function_does_not_consume_are_refused_and_stay_queued() {
        let foreign = |id: &str, source: &str, detail_type: &str| {
            json!({"id": id, "source": source, "detail-type": detail_type,
                   "detail": {"data": {"ok": true}}})
        };
        let fake = Fake::with(&[
            (
                FAILURES,
                "m1",
                json!({
                    "requestContext": {"requestId": "r", "condition": "RetriesExhausted",
                                       "functionArn": "arn:f", "approximateInvokeCount": 3},
                    "requestPayload": foreign("e1", "app.upstream", "OtherThing"),
                }),
            ),
            (
                FAILURES,
                "m2",
                json!({"kind": "poison", "function": "worker", "reason": "bad",
                "event_id": "e2", "correlation_id": "c", "failed_at": "2026-11-20T10:00:00Z",
                "event": foreign("e2", "evil.source", "Thing")}),
            ),
            (DELIVERY, "m3", foreign("e3", "app.elsewhere", "Thing")),
            (FAILURES, "m4", handler_failure("e4")),
        ]);
        let report = redrive(&fake, &request(false), check).await.unwrap();
        let log = fake.log();
        for id in ["e1", "e2", "e3"] {
            assert!(
                !log.iter().any(|l| l.ends_with(id)),
                "{id} was sent: {log:#?}"
            );
        }
        assert!(
            log.contains(&"invoke stack-worker e4".to_owned()),
            "{log:#?}"
        );
        assert_eq!(fake.queued(), ["m1", "m2", "m3"]);
        assert_eq!(report.failed(), 3);
        let reason = failure_reason(&report, "m1");
        assert!(
            reason.contains("event e1 (source `app.upstream`, detail-type `OtherThing`)"),
            "{reason}"
        );
        assert!(reason.contains("not an event worker consumes"), "{reason}");
        assert!(reason.contains("Thing from app.upstream"), "{reason}");
        let reason = failure_reason(&report, "m2");
        assert!(reason.contains("source `evil.source`"), "{reason}");
        let reason = failure_reason(&report, "m3");
        assert!(reason.contains("source `app.elsewhere`"), "{reason}");
        // A dry run refuses them alike.
        let report = redrive(&fake, &request(true), check).await.unwrap();
        assert_eq!((report.redriven(), report.failed()), (0, 3));
    }

    #[tokio::test]
    async fn claim_checks_are_followed_only_into_the_stacks_bucket_under_the_functions_prefix() {
        let fake = Fake::with(&[
            (FAILURES, "m1", claim_check("e1", BUCKET, "worker/e1.json")),
            (
                FAILURES,
                "m2",
                claim_check("e2", "someone-elses-bucket", "worker/e2.json"),
            ),
            (FAILURES, "m3", claim_check("e3", BUCKET, "planner/e3.json")),
            (
                FAILURES,
                "m4",
                claim_check("e4", BUCKET, "worker/../planner/e4.json"),
            ),
            (FAILURES, "m5", claim_check("e5", BUCKET, "worker/e5.json")),
        ]);
        {
            let mut state = fake.state.lock().unwrap();
            for (bucket, key, id) in [
                (BUCKET, "worker/e1.json", "e1"),
                ("someone-elses-bucket", "worker/e2.json", "e2"),
                (BUCKET, "planner/e3.json", "e3"),
                (BUCKET, "worker/../planner/e4.json", "e4"),
                // Another event than the letter's.
                (BUCKET, "worker/e5.json", "e-other"),
            ] {
                state.stored.insert(
                    (bucket.to_owned(), key.to_owned()),
                    envelope(id, json!({"ok": true})),
                );
            }
        }
        let report = redrive(&fake, &request(false), check).await.unwrap();
        let log = fake.log();
        assert!(
            log.contains(&"invoke stack-worker e1".to_owned()),
            "{log:#?}"
        );
        assert_eq!(
            log.iter()
                .filter(|l| l.starts_with("read"))
                .collect::<Vec<_>>(),
            [
                "read s3://stack-failedevents/worker/e1.json",
                "read s3://stack-failedevents/worker/e5.json"
            ],
            "only the stack's bucket under worker/ is read"
        );
        assert_eq!(fake.queued(), ["m2", "m3", "m4", "m5"]);
        assert_eq!((report.redriven(), report.failed()), (1, 4));
        let reason = failure_reason(&report, "m2");
        assert!(
            reason.contains("outside the stack's failed-events bucket `stack-failedevents`"),
            "{reason}"
        );
        for id in ["m3", "m4"] {
            let reason = failure_reason(&report, id);
            assert!(
                reason.contains("outside worker's prefix `worker/`"),
                "{reason}"
            );
        }
        let reason = failure_reason(&report, "m5");
        assert!(
            reason.contains("has id e-other, not the letter's e5"),
            "{reason}"
        );

        // A stack without the bucket's output follows no claim check.
        let fake = Fake::with(&[(FAILURES, "m1", claim_check("e1", BUCKET, "worker/e1.json"))]);
        let no_bucket = RedriveRequest {
            failed_events_bucket: None,
            ..request(false)
        };
        let report = redrive(&fake, &no_bucket, check).await.unwrap();
        assert!(failure_reason(&report, "m1").contains("FailedEventsBucketName"));
        assert!(!fake.log().iter().any(|l| l.starts_with("read")));
    }

    const BUFFER: &str = "q-buffer";

    /// What SQS moves to the failure queue by itself after the last receive: the event alone.
    fn redriven_by_sqs_record(id: &str) -> Value {
        envelope(id, json!({"ok": true}))
    }

    #[tokio::test]
    async fn a_buffered_consumers_failures_go_back_into_its_buffer_queue_never_to_the_function() {
        let fake = Fake::with(&[
            (FAILURES, "m1", poison("e1", json!({"ok": true}))),
            (FAILURES, "m2", redriven_by_sqs_record("e2")),
            (FAILURES, "m3", poison("e3", json!({"ok": false}))),
            (DELIVERY, "m4", envelope("e4", json!({"ok": true}))),
        ]);
        let buffered = RedriveRequest {
            send_back: SendBack::BufferQueue { url: BUFFER.into() },
            ..request(false)
        };
        // The dry run says where each would go and sends nothing.
        let report = redrive(
            &fake,
            &RedriveRequest {
                dry_run: true,
                ..buffered.clone()
            },
            check,
        )
        .await
        .unwrap();
        let text = report.render(true);
        assert!(text.contains("buffer queue q-buffer"), "{text}");
        assert!(
            !fake.log().iter().any(|l| l.starts_with("send")),
            "{:#?}",
            fake.log()
        );

        let report = redrive(&fake, &buffered, check).await.unwrap();
        let log = fake.log();
        assert!(!log.iter().any(|l| l.starts_with("invoke")), "{log:#?}");
        assert!(position(&log, "send q-buffer e1") < position(&log, "delete m1"));
        assert!(position(&log, "send q-buffer e2") < position(&log, "delete m2"));
        // Poison that still fails the catalog stays; delivery dead letters go to the bus.
        assert!(!log.contains(&"send q-buffer e3".to_owned()), "{log:#?}");
        assert!(log.contains(&"put bus e4".to_owned()), "{log:#?}");
        assert_eq!((report.redriven(), report.left()), (3, 1));
        assert_eq!(
            report
                .entries
                .iter()
                .find(|e| e.message_id == "m2")
                .map(|e| e.kind),
            Some("sqs-redriven")
        );
        // The buffer now holds the original events, as the rule would have sent them.
        let state = fake.state.lock().unwrap();
        let sent: Vec<&String> = state
            .messages
            .iter()
            .filter(|m| m.0 == BUFFER)
            .map(|m| &m.2)
            .collect();
        assert_eq!(sent.len(), 2);
        assert_eq!(
            serde_json::from_str::<Value>(sent[1]).unwrap(),
            redriven_by_sqs_record("e2")
        );
    }

    #[tokio::test]
    async fn a_queue_triggered_functions_failures_go_back_into_its_source_queue_as_they_were() {
        let letter = json!({"kind": "poison", "function": "worker", "reason": "bad body",
                            "failed_at": "2026-11-20T10:00:00Z", "event": {"sku": "x"}});
        let fake = Fake::with(&[
            (FAILURES, "m1", letter),
            (
                FAILURES,
                "m2",
                json!("plain text, as the producer wrote it"),
            ),
        ]);
        let queued = RedriveRequest {
            send_back: SendBack::SourceQueue {
                url: "q-source".into(),
            },
            ..request(false)
        };
        let report = redrive(&fake, &queued, check).await.unwrap();
        assert_eq!(report.redriven(), 2, "{report:#?}");
        let state = fake.state.lock().unwrap();
        let sent: Vec<&String> = state
            .messages
            .iter()
            .filter(|m| m.0 == "q-source")
            .map(|m| &m.2)
            .collect();
        assert_eq!(
            sent,
            [
                r#"{"sku":"x"}"#,
                r#""plain text, as the producer wrote it""#
            ]
        );
        assert!(!state.log.iter().any(|l| l.starts_with("invoke")));
    }

    /// `envelope` with trace context in its metadata (an event a traced producer published).
    fn traced(id: &str, tracestate: Option<&str>) -> Value {
        let mut event = envelope(id, json!({"ok": true}));
        event["detail"]["metadata"]["traceparent"] = json!(TRACEPARENT);
        if let Some(state) = tracestate {
            event["detail"]["metadata"]["tracestate"] = json!(state);
        }
        event
    }

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[tokio::test]
    async fn a_redriven_event_keeps_its_trace_and_is_marked_redriven_wherever_it_goes() {
        let mut failure = handler_failure("e1");
        failure["requestPayload"] = traced("e1", Some("congo=t61rcWkgMzE"));
        let mut letter = poison("e2", json!({"ok": true}));
        letter["event"] = traced("e2", Some("eventrail=reput"));
        let untraced = handler_failure("e4");
        let messages = [
            (FAILURES, "m1", failure),
            (FAILURES, "m2", letter),
            (DELIVERY, "m3", traced("e3", None)),
            (FAILURES, "m4", untraced.clone()),
        ];
        let buffered = RedriveRequest {
            send_back: SendBack::BufferQueue { url: BUFFER.into() },
            ..request(false)
        };
        for request in [request(false), buffered] {
            let fake = Fake::with(&messages);
            let report = redrive(&fake, &request, check).await.unwrap();
            assert_eq!(report.redriven(), 4, "{report:#?}");
            let sent = fake.state.lock().unwrap().sent.clone();
            let state_of = |id: &str| {
                let (_, event) = sent
                    .iter()
                    .find(|(_, event)| event_id(event) == id)
                    .unwrap_or_else(|| panic!("{id} was not sent: {sent:#?}"));
                assert_eq!(
                    event["detail"]["metadata"]["traceparent"],
                    if id == "e4" {
                        Value::Null
                    } else {
                        json!(TRACEPARENT)
                    },
                    "{event}"
                );
                event["detail"]["metadata"]["tracestate"].clone()
            };
            assert_eq!(state_of("e1"), "eventrail=redrive,congo=t61rcWkgMzE");
            assert_eq!(state_of("e2"), "eventrail=redrive");
            assert_eq!(state_of("e3"), "eventrail=redrive");
            // An event published before tracing goes back exactly as it was.
            assert_eq!(state_of("e4"), Value::Null);
            let (_, e4) = sent.iter().find(|(_, e)| event_id(e) == "e4").unwrap();
            assert_eq!(e4, &untraced["requestPayload"]);
        }
    }
}
