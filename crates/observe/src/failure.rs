//! Messages of the failure queues, decoded: poison dead letters (written by the runtime),
//! Lambda on-failure destination records, and EventBridge delivery dead letters.

use std::collections::BTreeMap;

use eventrail_contract::DeadLetter;
use serde_json::Value;

use crate::outputs::FailureLayer;

/// One message read from a failure queue.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureRecord {
    /// The function the queue belongs to (`worker`).
    pub queue_function: String,
    /// Which failure layer the queue collects.
    pub layer: FailureLayer,
    /// SQS message id.
    pub message_id: String,
    /// What the message says.
    pub kind: FailureKind,
}

/// The decoded content of a failure queue message.
#[derive(Debug, Clone, PartialEq)]
pub enum FailureKind {
    /// A poison event the function dead-lettered at once, without retries.
    Poison(DeadLetter),
    /// Lambda gave up on an asynchronous invocation (its OnFailure destination record).
    HandlerFailure(HandlerFailure),
    /// EventBridge could not deliver the event to the rule's target.
    DeliveryFailure(DeliveryFailure),
    /// A message none of the above decoders understood, kept verbatim.
    Unrecognised {
        /// The body.
        body: String,
        /// Why it did not decode.
        reason: String,
    },
}

/// A Lambda OnFailure destination record.
#[derive(Debug, Clone, PartialEq)]
pub struct HandlerFailure {
    /// `requestContext.functionArn`.
    pub function_arn: String,
    /// `requestContext.condition`: `RetriesExhausted`, `EventAgeExceeded`, ...
    pub condition: String,
    /// `requestContext.approximateInvokeCount`: the first attempt plus the retries.
    pub approximate_invoke_count: u64,
    /// `requestContext.requestId`.
    pub request_id: String,
    /// `responsePayload.errorType`.
    pub error_type: Option<String>,
    /// `responsePayload.errorMessage`.
    pub error_message: Option<String>,
    /// `requestPayload`: the event the function failed on, as delivered.
    pub event: Value,
    /// `timestamp`.
    pub timestamp: Option<String>,
}

/// An EventBridge rule-target dead letter: the event, with the error in message attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryFailure {
    /// The event that was not delivered.
    pub event: Value,
    /// `ERROR_CODE` attribute.
    pub error_code: Option<String>,
    /// `ERROR_MESSAGE` attribute.
    pub error_message: Option<String>,
    /// `RULE_ARN` attribute.
    pub rule_arn: Option<String>,
    /// `TARGET_ARN` attribute.
    pub target_arn: Option<String>,
    /// `RETRY_ATTEMPTS` attribute: how many times EventBridge retried.
    pub retry_attempts: Option<u32>,
}

impl FailureKind {
    /// Decodes a message body (and its string message attributes).
    pub fn decode(body: &str, attributes: &BTreeMap<String, String>) -> Self {
        let unrecognised = |reason: String| Self::Unrecognised {
            body: body.to_owned(),
            reason,
        };
        // Read past serde_json's 128 levels: a record holds the event the bus delivered,
        // however deep (a Lambda on-failure record's `requestPayload` one level down).
        let value: Value = match crate::json::parse(body) {
            Ok(value) => value,
            Err(e) => return unrecognised(format!("body is not JSON: {e}")),
        };
        if value.get("kind").and_then(Value::as_str) == Some("poison") {
            return match serde_json::from_value::<DeadLetter>(value) {
                Ok(mut letter) => {
                    // A payload the function could not decode travels as text; when the tools
                    // can (it was only deeper than the function's decoder goes), it becomes
                    // the letter's event, to show and redrive like any other.
                    if letter.event.is_null()
                        && let Some(text) = letter.event_raw.as_ref().and_then(|r| r.text())
                        && let Ok(event) = crate::json::parse(text)
                    {
                        letter.event = event;
                    }
                    Self::Poison(letter)
                }
                Err(e) => unrecognised(format!("a poison dead letter with a bad field: {e}")),
            };
        }
        if let (Some(context), Some(payload)) =
            (value.get("requestContext"), value.get("requestPayload"))
        {
            let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
            let response = value.get("responsePayload");
            return Self::HandlerFailure(HandlerFailure {
                function_arn: text(context.get("functionArn")).unwrap_or_default(),
                condition: text(context.get("condition")).unwrap_or_default(),
                approximate_invoke_count: context
                    .get("approximateInvokeCount")
                    .and_then(Value::as_u64)
                    .unwrap_or(0),
                request_id: text(context.get("requestId")).unwrap_or_default(),
                error_type: text(response.and_then(|r| r.get("errorType"))),
                error_message: text(response.and_then(|r| r.get("errorMessage"))),
                event: payload.clone(),
                timestamp: text(value.get("timestamp")),
            });
        }
        if value.get("detail-type").is_some() && value.get("source").is_some() {
            let attribute = |name: &str| attributes.get(name).cloned();
            return Self::DeliveryFailure(DeliveryFailure {
                event: value,
                error_code: attribute("ERROR_CODE"),
                error_message: attribute("ERROR_MESSAGE"),
                rule_arn: attribute("RULE_ARN"),
                target_arn: attribute("TARGET_ARN"),
                retry_attempts: attribute("RETRY_ATTEMPTS").and_then(|v| v.parse().ok()),
            });
        }
        unrecognised(
            "neither a poison dead letter, a Lambda on-failure record nor an EventBridge event"
                .to_owned(),
        )
    }
}

impl FailureRecord {
    /// The original event of a failure record, exactly as it was delivered: the one place
    /// that knows where each kind of record keeps it (a poison dead letter's `event`, a Lambda
    /// on-failure record's `requestPayload`, a delivery dead letter's body). Everything that
    /// needs the event (show, redrive, watch) goes through here, so a record that one day
    /// carries a pointer to the event instead of the event is resolved in this one function.
    /// The error says why there is no event (an unrecognised message).
    pub fn original_event(&self) -> Result<&Value, String> {
        match &self.kind {
            FailureKind::Poison(letter) if letter.event.is_null() && letter.event_raw.is_some() => {
                Err(format!(
                    "message {} of {} {} holds the payload as delivered, which is not a JSON \
                     event ({}); `eventrail dlq show` prints it",
                    self.message_id,
                    self.queue_function,
                    self.layer.describe(),
                    letter.reason
                ))
            }
            FailureKind::Poison(letter) => Ok(&letter.event),
            FailureKind::HandlerFailure(failure) => Ok(&failure.event),
            FailureKind::DeliveryFailure(failure) => Ok(&failure.event),
            FailureKind::Unrecognised { reason, .. } => Err(format!(
                "message {} of {} {} holds no event: {reason}",
                self.message_id,
                self.queue_function,
                self.layer.describe()
            )),
        }
    }

    /// The original event as text for people: pretty JSON when it is JSON, else the payload
    /// exactly as delivered (a poison letter's `event_raw`: nested deeper than the tools
    /// decode, a lone surrogate, a number out of range, not JSON). The error says why there
    /// is none.
    pub fn event_text(&self) -> Result<String, String> {
        if let FailureKind::Poison(letter) = &self.kind
            && letter.event.is_null()
            && let Some(raw) = &letter.event_raw
        {
            return Ok(match raw.text() {
                Some(text) => text.to_owned(),
                None => format!("(not UTF-8, base64) {}", raw.data),
            });
        }
        let event = self.original_event()?;
        serde_json::to_string_pretty(event).map_err(|e| e.to_string())
    }

    /// The event that failed, as delivered (`None` for an unrecognised message); see
    /// [`FailureRecord::original_event`].
    pub fn event(&self) -> Option<&Value> {
        self.original_event().ok()
    }

    /// `poison`, `handler-failure`, `delivery-failure` or `unrecognised`.
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            FailureKind::Poison(_) => "poison",
            FailureKind::HandlerFailure(_) => "handler-failure",
            FailureKind::DeliveryFailure(_) => "delivery-failure",
            FailureKind::Unrecognised { .. } => "unrecognised",
        }
    }

    /// How many times delivery or handling was attempted, when the record says.
    pub fn attempts(&self) -> Option<u64> {
        match &self.kind {
            // Dead-lettered on the first attempt, never retried.
            FailureKind::Poison(_) => Some(1),
            FailureKind::HandlerFailure(failure) => Some(failure.approximate_invoke_count),
            FailureKind::DeliveryFailure(failure) => {
                failure.retry_attempts.map(|r| u64::from(r) + 1)
            }
            FailureKind::Unrecognised { .. } => None,
        }
    }

    /// The error type, when the record has one (`eventrail.RetryableHandlerError`,
    /// an EventBridge error code).
    pub fn error_type(&self) -> Option<&str> {
        match &self.kind {
            FailureKind::Poison(_) => Some("poison"),
            FailureKind::HandlerFailure(failure) => failure.error_type.as_deref(),
            FailureKind::DeliveryFailure(failure) => failure.error_code.as_deref(),
            FailureKind::Unrecognised { .. } => None,
        }
    }

    /// Why it failed, in the record's words.
    pub fn reason(&self) -> String {
        match &self.kind {
            FailureKind::Poison(letter) => letter.reason.clone(),
            FailureKind::HandlerFailure(failure) => failure
                .error_message
                .clone()
                .or_else(|| failure.error_type.clone())
                .unwrap_or_else(|| failure.condition.clone()),
            FailureKind::DeliveryFailure(failure) => failure
                .error_message
                .clone()
                .or_else(|| failure.error_code.clone())
                .unwrap_or_else(|| "no error message".to_owned()),
            FailureKind::Unrecognised { reason, .. } => reason.clone(),
        }
    }

    /// The failed event's id.
    pub fn event_id(&self) -> Option<&str> {
        if let FailureKind::Poison(letter) = &self.kind
            && let Some(id) = &letter.event_id
        {
            return Some(id);
        }
        self.event()?.get("id")?.as_str()
    }

    /// The failed event's correlation id.
    pub fn correlation_id(&self) -> Option<&str> {
        if let FailureKind::Poison(letter) = &self.kind
            && let Some(id) = &letter.correlation_id
        {
            return Some(id);
        }
        self.event()?
            .pointer("/detail/metadata/correlation_id")?
            .as_str()
    }

    /// The failed event's detail-type.
    pub fn detail_type(&self) -> Option<&str> {
        if let FailureKind::Poison(letter) = &self.kind
            && let Some(detail_type) = &letter.detail_type
        {
            return Some(detail_type);
        }
        self.event()?.get("detail-type")?.as_str()
    }

    /// True for a poison dead letter.
    pub fn is_poison(&self) -> bool {
        matches!(self.kind, FailureKind::Poison(_))
    }

    /// The handler failure record, if this is one.
    pub fn handler_failure(&self) -> Option<&HandlerFailure> {
        match &self.kind {
            FailureKind::HandlerFailure(failure) => Some(failure),
            _ => None,
        }
    }

    /// The poison dead letter, if this is one.
    pub fn poison(&self) -> Option<&DeadLetter> {
        match &self.kind {
            FailureKind::Poison(letter) => Some(letter),
            _ => None,
        }
    }

    /// One line for people: what happened and why.
    pub fn summary(&self) -> String {
        let queue = format!("{} {}", self.queue_function, self.layer.describe());
        match &self.kind {
            FailureKind::Poison(letter) => format!(
                "poison: {} dead-lettered it at once, no retries -> {queue}: {}",
                letter.function, letter.reason
            ),
            FailureKind::HandlerFailure(failure) => {
                let attempts = failure.approximate_invoke_count;
                let error = match (&failure.error_type, &failure.error_message) {
                    (Some(t), Some(m)) => format!("{t}: {m}"),
                    (None, Some(m)) => m.clone(),
                    (Some(t), None) => t.clone(),
                    (None, None) => "no error payload".to_owned(),
                };
                format!(
                    "handler failed {attempts} time{} ({}) -> {queue}: {error}",
                    if attempts == 1 { "" } else { "s" },
                    failure.condition
                )
            }
            FailureKind::DeliveryFailure(failure) => format!(
                "not delivered by EventBridge ({}) -> {queue}: {}",
                failure.error_code.as_deref().unwrap_or("no error code"),
                failure
                    .error_message
                    .as_deref()
                    .unwrap_or("no error message")
            ),
            FailureKind::Unrecognised { reason, .. } => {
                format!("unrecognised message in {queue}: {reason}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn no_attributes() -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    fn record(kind: FailureKind) -> FailureRecord {
        FailureRecord {
            queue_function: "worker".into(),
            layer: FailureLayer::Function,
            message_id: "m-1".into(),
            kind,
        }
    }

    fn task_assigned() -> Value {
        json!({"id": "e-2", "source": "eventrail.planner", "detail-type": "TaskAssigned",
               "detail": {"metadata": {"correlation_id": "c-1", "causation_id": "e-1",
                                       "idempotency_key": "k"}, "data": {}}})
    }

    #[test]
    fn decodes_a_poison_dead_letter() {
        let body = json!({
            "kind": "poison", "function": "planner",
            "reason": "detail.data.task.steps[0].estimate: must be at least 1",
            "event_id": "e-9", "correlation_id": "c-9", "failed_at": "2026-11-20T10:00:00Z",
            "event": {"id": "e-9", "detail-type": "TaskCreated"}
        })
        .to_string();
        let record = record(FailureKind::decode(&body, &no_attributes()));
        assert!(record.is_poison());
        assert_eq!(record.event_id(), Some("e-9"));
        assert_eq!(record.correlation_id(), Some("c-9"));
        assert_eq!(record.detail_type(), Some("TaskCreated"));
        let summary = record.summary();
        assert!(summary.contains("no retries"), "{summary}");
        assert!(
            summary.contains("estimate: must be at least 1"),
            "{summary}"
        );
    }

    #[test]
    fn decodes_a_lambda_on_failure_record() {
        let body = json!({
            "version": "1.0", "timestamp": "2026-11-20T10:00:03.000Z",
            "requestContext": {"requestId": "r-1", "condition": "RetriesExhausted",
                "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:eventrail-local-worker:$LATEST",
                "approximateInvokeCount": 3},
            "requestPayload": task_assigned(),
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorType": "eventrail.RetryableHandlerError",
                                "errorMessage": "event e-2: retryable error: upstream unavailable"}
        })
        .to_string();
        let record = record(FailureKind::decode(&body, &no_attributes()));
        let failure = record.handler_failure().unwrap();
        assert_eq!(failure.approximate_invoke_count, 3);
        assert_eq!(failure.condition, "RetriesExhausted");
        assert_eq!(failure.event, task_assigned());
        assert_eq!(record.event_id(), Some("e-2"));
        assert_eq!(record.correlation_id(), Some("c-1"));
        let summary = record.summary();
        assert!(
            summary.starts_with("handler failed 3 times (RetriesExhausted)"),
            "{summary}"
        );
        assert!(summary.contains("upstream unavailable"), "{summary}");
    }

    #[test]
    fn decodes_a_delivery_dead_letter_with_its_attributes() {
        let attributes = BTreeMap::from([
            ("ERROR_CODE".to_owned(), "SDK_CLIENT_ERROR".to_owned()),
            ("ERROR_MESSAGE".to_owned(), "function not found".to_owned()),
        ]);
        let record = record(FailureKind::decode(
            &task_assigned().to_string(),
            &attributes,
        ));
        assert!(matches!(record.kind, FailureKind::DeliveryFailure(_)));
        assert_eq!(record.correlation_id(), Some("c-1"));
        assert!(record.summary().contains("SDK_CLIENT_ERROR"));
    }

    #[test]
    fn keeps_what_it_does_not_understand() {
        let record = record(FailureKind::decode("{\"hello\":1}", &no_attributes()));
        assert!(matches!(record.kind, FailureKind::Unrecognised { .. }));
        assert_eq!(record.event_id(), None);
        let record = self::record(FailureKind::decode("not json", &no_attributes()));
        assert!(record.summary().contains("not JSON"));
        let bad_poison = FailureKind::decode("{\"kind\":\"poison\"}", &no_attributes());
        assert!(matches!(bad_poison, FailureKind::Unrecognised { .. }));
    }

    fn deep_event(levels: usize) -> String {
        format!(
            r#"{{"id":"e-7","source":"eventrail.intake","detail-type":"TaskCreated","detail":{{"metadata":{{"correlation_id":"c-7"}},"data":{{"note":{}1{}}}}}}}"#,
            "[".repeat(levels),
            "]".repeat(levels)
        )
    }

    fn poison_with_raw(payload: &str) -> String {
        json!({
            "kind": "poison", "function": "worker",
            "reason": "the payload nests arrays or objects deeper than 128 levels",
            "event_id": "e-7", "correlation_id": "c-7", "detail_type": "TaskCreated",
            "failed_at": "2026-12-07T10:00:00Z", "event": null,
            "event_raw": {"encoding": "text", "data": payload}
        })
        .to_string()
    }

    /// A Lambda on-failure record whose event nests deeper than serde_json's 128 levels (what
    /// the queues held before the kit decoded payloads itself) is read, with its event.
    #[test]
    fn reads_an_on_failure_record_holding_an_event_deeper_than_serde_json_decodes() {
        let event = deep_event(200);
        let body = format!(
            r#"{{"requestContext":{{"requestId":"r-1","condition":"RetriesExhausted","functionArn":"arn:f","approximateInvokeCount":3}},"requestPayload":{event},"responsePayload":{{"errorType":"Runtime.ExitError"}}}}"#
        );
        let record = record(FailureKind::decode(&body, &no_attributes()));
        assert_eq!(record.kind_name(), "handler-failure");
        assert_eq!(record.event_id(), Some("e-7"));
        assert_eq!(record.detail_type(), Some("TaskCreated"));
        assert!(record.event_text().unwrap().contains("\"note\""));
    }

    /// A poison letter keeping a too-deep payload as text: the tools decode it, so it shows
    /// and redrives as an event.
    #[test]
    fn a_poison_letter_with_a_deep_payload_has_its_event() {
        let payload = deep_event(200);
        let record = record(FailureKind::decode(
            &poison_with_raw(&payload),
            &no_attributes(),
        ));
        assert!(record.is_poison());
        let event = record.original_event().unwrap();
        assert_eq!(event, &crate::json::parse(&payload).unwrap());
        assert_eq!(record.correlation_id(), Some("c-7"));
    }

    /// A payload that is not JSON at all (a lone surrogate) is shown as delivered, and there
    /// is no event to redrive.
    #[test]
    fn a_poison_letter_with_a_payload_that_is_not_json_shows_it_as_delivered() {
        let payload = r#"{"id":"e-7","detail":{"data":{"note":"\ud800"}}}"#;
        let record = record(FailureKind::decode(
            &poison_with_raw(payload),
            &no_attributes(),
        ));
        assert!(record.is_poison());
        assert_eq!(record.event_text().unwrap(), payload);
        assert!(
            record
                .original_event()
                .unwrap_err()
                .contains("not a JSON event")
        );
        assert_eq!(record.event_id(), Some("e-7"));
        let deeper = deep_event(crate::json::MAX_DEPTH + 10);
        let record = self::record(FailureKind::decode(
            &poison_with_raw(&deeper),
            &no_attributes(),
        ));
        assert_eq!(record.event_text().unwrap(), deeper);
    }
}
