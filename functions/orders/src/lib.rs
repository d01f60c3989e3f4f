//! `orders`: the producer. Takes a `PlaceOrder` command, over HTTP (`POST /orders`, the REST
//! API) or by direct invoke, validates it and emits `OrderPlaced` carrying the whole order.
//!
//! The runtime decodes and validates the request before the handler runs: a bad body gets a
//! `400` naming the field (a direct invoke: an error naming it) and nothing is published. The
//! flow's correlation id and the event's idempotency key are derived from the order id, so
//! placing the same order twice yields the same keys and downstream effects deduplicate.

use std::time::{Duration, SystemTime};

use eventrail_runtime::prelude::*;
use eventrail_runtime::publisher::{PutEventsApi, deadline_instant};
use eventrail_runtime::{HttpRequest, HttpResponse, PublishError, Publisher};
pub use events::OrderAccepted;
use events::{Envelope, Event, Metadata, OrderPlaced, PlaceOrder, Validate, derive_key};
use serde_json::Value;

/// Why an order was not placed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// The command is malformed or breaks a rule; the message names the field.
    #[error("invalid PlaceOrder command: {0}")]
    Invalid(String),
    /// The event could not be published (retry the command: it is idempotent).
    #[error("order accepted but OrderPlaced was not published: {0}")]
    Publish(#[from] PublishError),
}

impl From<OrderError> for eventrail_runtime::lambda_runtime::Diagnostic {
    fn from(error: OrderError) -> Self {
        let error_type = match &error {
            OrderError::Invalid(_) => "eventrail.InvalidCommand",
            OrderError::Publish(_) => "eventrail.PublishError",
        };
        Self {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// The largest order, as the `detail` of its `OrderPlaced`, that fits at every hop: each later
/// event carries the whole order plus a few hundred bytes (reservation, payment, tracking,
/// metadata), every one must fit in an EventBridge entry (256 KB on the classic limit, which
/// LocalStack still enforces) and a poison dead letter must carry it whole (the runtime's
/// inline limit is 250 KiB). 200 KiB leaves room for all of that; a bigger order would fail
/// hops later, so it is refused here, at the source.
pub const MAX_ORDER_DETAIL_BYTES: usize = 200 * 1024;

/// Time kept back from the invocation's deadline for the answer: publishing ends this long
/// before Lambda would stop the invocation, so the caller gets the publish error (retryable:
/// placing the same order again is idempotent) instead of a timeout that leaves it unknown
/// whether `OrderPlaced` went out. The answer is one small JSON document; 500 ms is ample.
pub const ANSWER_RESERVE: Duration = Duration::from_millis(500);

/// Decodes and validates a raw `PlaceOrder` command.
pub fn decode_command(raw: &Value) -> Result<PlaceOrder, OrderError> {
    let command: PlaceOrder = serde_path_to_error::deserialize(raw).map_err(|e| {
        OrderError::Invalid(format!(
            "{}: {}",
            e.path(),
            eventrail_runtime::without_values(&e.inner().to_string())
        ))
    })?;
    command
        .validate()
        .map_err(|e| OrderError::Invalid(e.to_string()))?;
    check_size(&command).map_err(|reason| OrderError::Invalid(format!("order: {reason}")))?;
    Ok(command)
}

/// Refuses an order too big for the events of its flow ([`MAX_ORDER_DETAIL_BYTES`]); the
/// reason says how big it is.
pub fn check_size(command: &PlaceOrder) -> Result<(), String> {
    let size = serde_json::to_string(&command.order).map_or(usize::MAX, |text| text.len());
    if size > MAX_ORDER_DETAIL_BYTES {
        return Err(format!(
            "the order is {size} bytes as JSON; at most {MAX_ORDER_DETAIL_BYTES} fit in every \
             event of its flow (fewer items, or shorter fields)"
        ));
    }
    Ok(())
}

/// The first metadata of the flow an order starts: correlation id and idempotency key are
/// derived from the order id, so placing the same order again yields the same keys.
pub fn origin_metadata(order_id: &str) -> Metadata {
    Metadata::origin(
        OrderPlaced::VERSION,
        format!("corr-{}", derive_key(&["order", order_id])),
        derive_key(&["order", order_id, OrderPlaced::DETAIL_TYPE]),
    )
}

/// The function's handler (`http = "POST /orders"`, and `invoke = "direct"`): places the
/// order the request carries, decoded and validated by the runtime, and answers `202
/// Accepted` with the order id and the flow's correlation id (a direct invoke gets that
/// answer alone). An order too big for its flow is a `413` naming `order`; a publish that
/// failed is a server error the caller may retry (placing the same order is idempotent).
pub async fn handle(
    request: HttpRequest<PlaceOrder>,
    context: Context,
) -> Result<HttpResponse<OrderAccepted>, HandlerError> {
    let command = request.body;
    check_size(&command).map_err(|reason| HandlerError::rejected(413, reason).on_field("order"))?;
    let accepted = place(context.publisher(), command, context.deadline())
        .await
        .map_err(HandlerError::retryable)?;
    Ok(HttpResponse::accepted(accepted))
}

/// Places an order: validate, then publish `OrderPlaced` (unless `publisher` is `None`: dry run),
/// with no deadline (outside Lambda: tests, tools). The function itself uses
/// [`place_order_before`].
pub async fn place_order<P: PutEventsApi>(
    publisher: Option<&Publisher<P>>,
    raw: Value,
) -> Result<OrderAccepted, OrderError> {
    place_order_before(publisher, raw, None).await
}

/// [`place_order`] for an invocation: `deadline` is when Lambda stops the invocation (its
/// context's deadline; `None` outside Lambda): publishing, retries included, ends [`ANSWER_RESERVE`] before it, with a retryable
/// [`OrderError::Publish`] when it could not finish.
pub async fn place_order_before<P: PutEventsApi>(
    publisher: Option<&Publisher<P>>,
    raw: Value,
    deadline: Option<SystemTime>,
) -> Result<OrderAccepted, OrderError> {
    let command =
        decode_command(&raw).inspect_err(|e| tracing::warn!(error = %e, "command rejected"))?;
    Ok(place(publisher, command, deadline).await?)
}

/// Publishes `OrderPlaced` for a command already decoded and checked (unless `publisher` is
/// `None`: dry run), ending [`ANSWER_RESERVE`] before `deadline` (when Lambda stops the
/// invocation; `None` outside Lambda).
pub async fn place<P: PutEventsApi>(
    publisher: Option<&Publisher<P>>,
    command: PlaceOrder,
    deadline: Option<SystemTime>,
) -> Result<OrderAccepted, PublishError> {
    let order_id = command.order.order_id.clone();
    let metadata = origin_metadata(&order_id);
    let event = OrderPlaced {
        order: command.order,
    };
    let detail = serde_json::to_value(Envelope {
        metadata: metadata.clone(),
        data: &event,
    })
    .map_err(|e| PublishError::Serialize {
        detail_type: OrderPlaced::DETAIL_TYPE.to_owned(),
        idempotency_key: metadata.idempotency_key.clone(),
        reason: e.to_string(),
    })?;
    let event_id = match publisher {
        Some(publisher) => {
            let publish_by = deadline.map(|d| deadline_instant(d, ANSWER_RESERVE));
            let published = publisher
                .publish_before(metadata.clone(), &event, publish_by)
                .await
                .inspect_err(|e| tracing::error!(error = %e, "OrderPlaced not published"))?;
            Some(published.event_id)
        }
        None => None,
    };
    tracing::info!(%order_id, correlation_id = %metadata.correlation_id, event_id = event_id.as_deref().unwrap_or("<dry run>"), "order placed");
    Ok(OrderAccepted {
        order_id,
        correlation_id: metadata.correlation_id,
        idempotency_key: metadata.idempotency_key,
        event_id,
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventrail_runtime::publisher::EventBridgePutEvents;

    fn command(name: &str) -> Value {
        let path = format!(
            "{}/../../events/samples/commands/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn an_order_too_big_for_its_flow_is_refused_at_the_source() {
        let mut raw = command("place-order.json");
        let item = raw["order"]["items"][0].clone();
        let count = MAX_ORDER_DETAIL_BYTES / item.to_string().len() + 10;
        let items: Vec<Value> = (0..count).map(|_| item.clone()).collect();
        let unit = item["unit_price_cents"].as_u64().unwrap();
        let quantity = item["quantity"].as_u64().unwrap();
        raw["order"]["total_cents"] = Value::from(unit * quantity * count as u64);
        raw["order"]["items"] = Value::Array(items);
        let error = decode_command(&raw).unwrap_err().to_string();
        assert!(
            error.contains("order: the order is")
                && error.contains(&MAX_ORDER_DETAIL_BYTES.to_string()),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_request_is_answered_202_with_the_order_or_413_when_too_big() {
        let small: PlaceOrder = serde_json::from_value(command("place-order.json")).unwrap();
        let response = handle(HttpRequest::new(small.clone()), Context::new(None, None))
            .await
            .unwrap();
        assert_eq!(response.status, 202);
        assert_eq!(response.body.order_id, "ord-1001");
        assert!(response.body.correlation_id.starts_with("corr-"));
        assert_eq!(response.body.event_id, None, "dry run: nothing published");

        let mut big = small;
        let item = big.order.items[0].clone();
        let count = MAX_ORDER_DETAIL_BYTES / serde_json::to_string(&item).unwrap().len() + 10;
        big.order.items = vec![item.clone(); count];
        big.order.total_cents = item.unit_price_cents * u64::from(item.quantity) * count as u64;
        let error = handle(HttpRequest::new(big), Context::new(None, None))
            .await
            .unwrap_err();
        let HandlerError::Rejected(rejection) = error else {
            panic!("expected a rejection, got {error}");
        };
        assert_eq!(rejection.status, 413);
        assert_eq!(rejection.field.as_deref(), Some("order"));
        assert!(
            rejection.error.contains("bytes as JSON"),
            "{}",
            rejection.error
        );
    }

    #[test]
    fn an_order_id_that_cannot_be_a_fifo_group_id_is_refused() {
        for bad in ["has space", &"x".repeat(129), "naïve"] {
            let mut raw = command("place-order.json");
            raw["order"]["order_id"] = Value::from(bad);
            let error = decode_command(&raw).unwrap_err().to_string();
            assert!(error.contains("order.order_id"), "{bad}: {error}");
        }
    }

    #[tokio::test]
    async fn valid_command_yields_order_placed_with_origin_metadata() {
        let accepted = place_order::<EventBridgePutEvents>(None, command("place-order.json"))
            .await
            .unwrap();
        assert_eq!(accepted.order_id, "ord-1001");
        assert_eq!(accepted.detail["metadata"]["causation_id"], Value::Null);
        assert_eq!(accepted.detail["data"]["order"]["total_cents"], 3399);
        assert!(accepted.correlation_id.starts_with("corr-"));
        // The same command gives the same keys.
        let again = place_order::<EventBridgePutEvents>(None, command("place-order.json"))
            .await
            .unwrap();
        assert_eq!(again.idempotency_key, accepted.idempotency_key);
        assert_eq!(again.correlation_id, accepted.correlation_id);
    }

    /// An EventBridge that never answers (a stalled connection).
    struct Stalled;

    impl PutEventsApi for Stalled {
        async fn put_events(
            &self,
            _bus: &str,
            _entries: &[eventrail_runtime::publisher::OutgoingEvent],
        ) -> Result<
            Vec<eventrail_runtime::publisher::EntryOutcome>,
            eventrail_runtime::publisher::TransportError,
        > {
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn a_publish_that_would_outlive_the_invocation_stops_in_time_and_reports() {
        let publisher = Publisher::new(Stalled, "bus");
        // Lambda stops this invocation 2 s from now. The bus never answers: without the
        // deadline the publish would wait for ever (Lambda would kill it mid-call and the
        // caller would see a timeout, not knowing whether OrderPlaced went out).
        let deadline = SystemTime::now() + Duration::from_secs(2);
        // A generous guard, so that a publish ignoring the deadline fails the test instead of
        // hanging it.
        let placed = tokio::time::timeout(
            Duration::from_secs(60),
            place_order_before(
                Some(&publisher),
                command("place-order.json"),
                Some(deadline),
            ),
        )
        .await;
        let Ok(placed) = placed else {
            panic!("place_order outlived the invocation's deadline");
        };
        let error = placed.unwrap_err();
        let OrderError::Publish(publish) = &error else {
            panic!("expected a publish error, got {error}");
        };
        assert!(!publish.is_permanent(), "retryable: {publish}");
        assert!(
            error.to_string().contains("OrderPlaced") && error.to_string().contains("deadline"),
            "{error}"
        );
        let diagnostic = eventrail_runtime::lambda_runtime::Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, "eventrail.PublishError");
    }

    #[tokio::test]
    async fn a_deadline_too_near_for_a_call_sends_nothing() {
        let publisher = Publisher::new(Stalled, "bus");
        let deadline = SystemTime::now() + ANSWER_RESERVE / 2;
        let error = place_order_before(
            Some(&publisher),
            command("place-order.json"),
            Some(deadline),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                &error,
                OrderError::Publish(PublishError::Transport { attempts: 0, .. })
            ),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn invalid_command_names_the_field() {
        let error = place_order::<EventBridgePutEvents>(None, command("place-order-invalid.json"))
            .await
            .unwrap_err();
        assert_eq!(
            error,
            OrderError::Invalid("order.items[0].quantity: must be at least 1".into())
        );
        let error = place_order::<EventBridgePutEvents>(
            None,
            serde_json::json!({"order": {"order_id": 5}}),
        )
        .await
        .unwrap_err();
        assert!(error.to_string().contains("order.order_id"), "{error}");
    }
}
