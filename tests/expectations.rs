//! The support library's expected outcomes (`eventrail_tests::expected`), checked offline:
//! the tables the end-to-end tests compare a flow against must themselves be consistent.

use eventrail_tests::{contains_all, expected};
use events::scenarios::Scenario;

#[test]
fn multiset_inclusion_counts_repeats() {
    assert!(contains_all(&[1, 2, 2, 3], &[2, 2]));
    assert!(!contains_all(&[1, 2, 3], &[2, 2]));
    assert!(contains_all::<u8>(&[], &[]));
}

#[test]
fn every_chain_starts_with_one_order_placed_and_has_one_outcome() {
    for scenario in Scenario::ALL {
        let expected = expected(scenario);
        let roots: Vec<_> = expected.edges.iter().filter(|(c, _)| c.is_none()).collect();
        assert_eq!(roots, [&(None, "OrderPlaced".to_owned())], "{scenario:?}");
        let outcomes = expected.outbox.len() + expected.handler_failures.len();
        assert_eq!(outcomes, 1, "{scenario:?}");
        // Every cause is itself in the chain.
        for (cause, _) in &expected.edges {
            if let Some(cause) = cause {
                assert!(
                    expected.edges.iter().any(|(_, t)| t == cause),
                    "{scenario:?}"
                );
            }
        }
    }
}

/// The demo the shop declares (`demo` in the workspace's `[workspace.metadata.eventrail]`),
/// read as `eventrail demo` reads it: it places [`Scenario::DEMO`] through the orders
/// function, follows each order by the correlation id of its answer, and puts a poison
/// `OrderPlaced` on the bus that inventory must dead-letter.
#[test]
fn the_declared_demo_places_the_demo_scenarios_and_one_poison_order() {
    use eventrail_observe::demo::DemoPlan;
    use events::{OrderAccepted, PlaceOrder, Validate};

    let project = eventrail_contract::Project::load(eventrail_tests::repo())
        .unwrap_or_else(|e| panic!("{e}"));
    let plan = DemoPlan::of_project(&project).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.invoke, "orders");
    let order_id = plan.fresh_id();
    let placed: Vec<PlaceOrder> = plan
        .flows
        .iter()
        .map(|flow| {
            serde_json::from_value(flow.command(&order_id))
                .unwrap_or_else(|e| panic!("{}: not a PlaceOrder: {e}", flow.label))
        })
        .collect();
    let scenarios: Vec<PlaceOrder> = Scenario::DEMO
        .into_iter()
        .map(|s| s.command(&order_id))
        .collect();
    assert_eq!(placed, scenarios);

    let accepted = OrderAccepted {
        order_id: order_id.clone(),
        correlation_id: format!("corr-{order_id}"),
        idempotency_key: "k".into(),
        event_id: Some("e-1".into()),
        detail: serde_json::json!({}),
    };
    let answer = serde_json::to_value(&accepted).unwrap_or_else(|e| panic!("{e}"));
    let started = plan.started(&answer).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(started.correlation_id, accepted.correlation_id);
    assert_eq!(started.event_id, accepted.event_id);

    let (event, correlation_id) = plan
        .poison_event(&order_id)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the demo declares a poison event"));
    assert_eq!(event.detail_type, "OrderPlaced");
    assert_eq!(event.detail["metadata"]["correlation_id"], correlation_id);
    assert_eq!(event.detail["data"]["order"]["order_id"], order_id);
    let poison: events::Envelope<events::OrderPlaced> =
        serde_json::from_value(event.detail).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        poison.validate().is_err(),
        "the poison order fails validation, so inventory dead-letters it"
    );
}
