//! Recorded-shape spans for the trace module's tests: a neutral flow (`parcels` takes a
//! request and publishes `Created`; `sorting` processes it and publishes `Shipped`;
//! `billing` and `mailer` both process `Shipped`; billing's gateway is down and it sends the
//! event to its failure queue).

use std::collections::BTreeMap;

use eventrail_contract::trace::{SpanKind, SpanLine, SpanLink, SpanStatus};
use serde_json::{Value, json};

pub const TRACE: &str = "6740a1b2c3d4e5f60718293a4b5c6d7e";
pub const T0: u64 = 1_796_000_000_000_000_000;
pub const PARCELS_HOP: &str = "a000000000000001";
pub const PARCELS_HANDLER: &str = "a000000000000002";
pub const PARCELS_PUBLISH: &str = "a000000000000003";
pub const SORTING_HOP: &str = "b000000000000001";
pub const SORTING_PUBLISH: &str = "b000000000000003";
pub const BILLING_HOP: &str = "c000000000000001";
pub const BILLING_LETTER: &str = "c000000000000004";
pub const MAILER_HOP: &str = "d000000000000001";

/// A span of [`TRACE`] from `start_ms` to `end_ms` after [`T0`].
pub fn span(
    service: &str,
    id: &str,
    parent: Option<&str>,
    name: &str,
    kind: SpanKind,
    (start_ms, end_ms): (u64, u64),
    attributes: Value,
) -> SpanLine {
    let attributes: BTreeMap<String, Value> =
        serde_json::from_value(attributes).unwrap_or_default();
    SpanLine {
        trace_id: TRACE.to_owned(),
        span_id: id.to_owned(),
        parent_span_id: parent.map(str::to_owned),
        name: name.to_owned(),
        kind,
        start_unix_nano: T0 + start_ms * 1_000_000,
        end_unix_nano: T0 + end_ms * 1_000_000,
        status: SpanStatus::Unset,
        status_message: None,
        attributes,
        links: Vec::new(),
        service: service.to_owned(),
    }
}

/// The flow up to billing's dead letter.
pub fn stopped_flow() -> Vec<SpanLine> {
    let mut billing = span(
        "billing",
        BILLING_HOP,
        Some(SORTING_PUBLISH),
        "process Shipped",
        SpanKind::Consumer,
        (200, 260),
        json!({"eventrail.detail_type": "Shipped", "messaging.message.id": "e-2",
               "eventrail.business_key": "p-1", "eventrail.result": "handler_failure"}),
    );
    billing.status = SpanStatus::Error;
    billing.status_message = Some("gateway down".to_owned());
    vec![
        span(
            "parcels",
            PARCELS_HOP,
            None,
            "POST /parcels",
            SpanKind::Server,
            (0, 50),
            json!({"eventrail.business_key": "p-1", "eventrail.result": "published",
                    "faas.trigger": "http", "faas.coldstart": true}),
        ),
        span(
            "parcels",
            PARCELS_HANDLER,
            Some(PARCELS_HOP),
            "handle POST /parcels",
            SpanKind::Internal,
            (5, 48),
            json!({}),
        ),
        span(
            "parcels",
            PARCELS_PUBLISH,
            Some(PARCELS_HANDLER),
            "publish app-bus",
            SpanKind::Producer,
            (30, 45),
            json!({"messaging.operation.name": "PutEvents", "messaging.destination.name": "app-bus",
                    "messaging.batch.message_count": 1, "eventrail.event_ids": ["e-1"],
                    "eventrail.detail_type": "Created"}),
        ),
        span(
            "sorting",
            SORTING_HOP,
            Some(PARCELS_PUBLISH),
            "process Created",
            SpanKind::Consumer,
            (100, 130),
            json!({"eventrail.detail_type": "Created", "messaging.message.id": "e-1",
                    "eventrail.business_key": "p-1", "eventrail.result": "published"}),
        ),
        span(
            "sorting",
            "b000000000000002",
            Some(SORTING_HOP),
            "decode Created",
            SpanKind::Internal,
            (101, 102),
            json!({}),
        ),
        span(
            "sorting",
            SORTING_PUBLISH,
            Some(SORTING_HOP),
            "publish app-bus",
            SpanKind::Producer,
            (120, 128),
            json!({"messaging.operation.name": "PutEvents", "eventrail.event_ids": ["e-2"],
                    "eventrail.detail_type": ["Shipped"]}),
        ),
        billing,
        span(
            "billing",
            BILLING_LETTER,
            Some(BILLING_HOP),
            "send app-billing-failure",
            SpanKind::Client,
            (250, 255),
            json!({"eventrail.failure_queue": "app-billing-failure",
                    "eventrail.failure_reason": "gateway down", "messaging.system": "aws_sqs"}),
        ),
        span(
            "mailer",
            MAILER_HOP,
            Some(SORTING_PUBLISH),
            "process Shipped",
            SpanKind::Consumer,
            (210, 220),
            json!({"eventrail.detail_type": "Shipped", "messaging.message.id": "e-2",
                    "eventrail.result": "published"}),
        ),
    ]
}

/// A replay under a new trace of billing's event, linked to the original publish.
pub fn replay_trace() -> Vec<SpanLine> {
    const NEW: &str = "7000000011112222333344445555aaaa";
    let mut redelivery = span(
        "billing",
        "e000000000000001",
        None,
        "replay Shipped",
        SpanKind::Consumer,
        (90_000, 90_001),
        json!({"eventrail.redelivery": "replay", "eventrail.replay_name": "r-1"}),
    );
    redelivery.trace_id = NEW.to_owned();
    redelivery.links.push(SpanLink {
        trace_id: TRACE.to_owned(),
        span_id: SORTING_PUBLISH.to_owned(),
        attributes: serde_json::from_value(json!({"eventrail.redelivery": "replay"}))
            .unwrap_or_default(),
    });
    let mut hop = span(
        "billing",
        "e000000000000002",
        Some("e000000000000001"),
        "process Shipped",
        SpanKind::Consumer,
        (90_001, 90_020),
        json!({"eventrail.detail_type": "Shipped", "messaging.message.id": "e-2",
               "eventrail.business_key": "p-1", "eventrail.result": "published"}),
    );
    hop.trace_id = NEW.to_owned();
    vec![redelivery, hop]
}

/// `{"eventrail_span": span}` as a function logs it.
pub fn log_line(span: &SpanLine) -> String {
    json!({ "eventrail_span": span }).to_string()
}
