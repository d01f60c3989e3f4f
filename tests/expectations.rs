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
