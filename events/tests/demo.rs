//! The shop's demo declaration (`events/demo.json`, named by `demo` in the workspace's
//! `[workspace.metadata.eventrail]`) is generated from the scenarios: `eventrail demo` places
//! [`Scenario::DEMO`] and puts the zero-quantity poison `OrderPlaced` on the bus.
//!
//! Regenerate it after changing a scenario with
//! `EVENTRAIL_BLESS=1 cargo test -p events --test demo`.

use std::path::PathBuf;

use events::scenarios::{ORDER_ID_PREFIX, Scenario};
use events::{Event, OrderPlaced, PlaceOrder};
use serde::Serialize;
use serde_json::{Value, json};

/// The demo declaration, its fields in the order people read them (structs, not a `Value`:
/// field order does not depend on serde_json's `preserve_order` feature).
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Declaration {
    invoke: &'static str,
    subject: &'static str,
    id_prefix: &'static str,
    answer: Answer,
    flows: Vec<Flow>,
    poison: Poison,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Answer {
    correlation_id: &'static str,
    event_id: &'static str,
    event: &'static str,
}

#[derive(Serialize)]
struct Flow {
    label: &'static str,
    trigger: &'static str,
    command: PlaceOrder,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Poison {
    sample: &'static str,
    trigger: &'static str,
    fresh_id: Vec<&'static str>,
}

/// What the demo declaration must say.
fn declaration() -> Declaration {
    Declaration {
        invoke: "orders",
        subject: "order",
        id_prefix: ORDER_ID_PREFIX,
        // Fields of `OrderAccepted`, the orders function's answer.
        answer: Answer {
            correlation_id: "/correlation_id",
            event_id: "/event_id",
            event: OrderPlaced::DETAIL_TYPE,
        },
        flows: Scenario::DEMO
            .into_iter()
            .map(|scenario| Flow {
                label: scenario.label(),
                trigger: scenario.trigger(),
                // The demo puts a fresh order id in place of `{id}`.
                command: scenario.command("{id}"),
            })
            .collect(),
        poison: Poison {
            sample: "samples/poison/order-placed-zero-quantity.json",
            trigger: "an OrderPlaced whose item has quantity 0",
            fresh_id: vec!["/data/order/order_id"],
        },
    }
}

/// [`declaration`] as JSON.
fn demo_declaration() -> Value {
    serde_json::to_value(declaration()).expect("the declaration serialises")
}

#[test]
fn checked_in_demo_declaration_is_the_demo_scenarios() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("demo.json");
    let want = demo_declaration();
    if std::env::var_os("EVENTRAIL_BLESS").is_some() {
        let mut text =
            serde_json::to_string_pretty(&declaration()).expect("the declaration serialises");
        text.push('\n');
        std::fs::write(&path, text).expect("write the demo declaration");
        return;
    }
    let have: Option<Value> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    assert!(
        have.as_ref() == Some(&want),
        "events/demo.json is stale or missing; regenerate with \
         `EVENTRAIL_BLESS=1 cargo test -p events --test demo`"
    );
}

#[test]
fn the_answer_fields_are_those_of_order_accepted() {
    let accepted = events::OrderAccepted {
        order_id: "ord-1".into(),
        correlation_id: "corr-1".into(),
        idempotency_key: "k-1".into(),
        event_id: Some("e-1".into()),
        detail: json!({}),
    };
    let answer = serde_json::to_value(&accepted).expect("an answer encodes");
    let declaration = demo_declaration();
    let field = |name: &str| {
        let pointer = declaration["answer"][name].as_str().unwrap_or_default();
        answer.pointer(pointer).cloned()
    };
    assert_eq!(field("correlation-id"), Some(json!("corr-1")));
    assert_eq!(field("event-id"), Some(json!("e-1")));
}

#[test]
fn the_poison_sample_has_an_order_id_where_the_declaration_says() {
    let declaration = demo_declaration();
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        declaration["poison"]["sample"]
            .as_str()
            .expect("a sample path"),
    );
    let text =
        std::fs::read_to_string(&sample).unwrap_or_else(|e| panic!("{}: {e}", sample.display()));
    let envelope: Value = serde_json::from_str(&text).expect("the sample is JSON");
    assert_eq!(envelope["detail-type"], OrderPlaced::DETAIL_TYPE);
    for pointer in declaration["poison"]["fresh-id"]
        .as_array()
        .expect("pointers")
    {
        let pointer = pointer.as_str().expect("a pointer");
        assert!(
            envelope["detail"]
                .pointer(pointer)
                .is_some_and(Value::is_string),
            "{pointer} names no string in the sample's detail"
        );
    }
}
