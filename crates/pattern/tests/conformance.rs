//! The shared corpus of 155 cases recorded against Amazon EventBridge must pass in full.
//! The corpus is a copy of ../shared/conformance (see tests/conformance/NOTICE) so that a
//! clean clone can run it.

use eventrail_pattern::Pattern;
use serde_json::Value;

const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/conformance/eventbridge-patterns.jsonl"
);

fn outcome(pattern: &Value, event: &Value) -> &'static str {
    match Pattern::from_value(pattern) {
        Err(_) => "invalid",
        Ok(p) => {
            let by_value = p.matches(event);
            let by_bytes = p.matches_json(event.to_string().as_bytes()).unwrap();
            assert_eq!(by_value, by_bytes, "value and byte matching disagree");
            assert_eq!(
                by_value,
                p.matches_reference(event),
                "machine and reference disagree"
            );
            if by_value { "match" } else { "no_match" }
        }
    }
}

#[test]
fn every_recorded_case_passes() {
    let text = std::fs::read_to_string(CORPUS).unwrap();
    let mut failures = Vec::new();
    let mut total = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).unwrap();
        total += 1;
        let expected = case["expect"].as_str().unwrap();
        let actual = outcome(&case["pattern"], &case["event"]);
        if expected != actual {
            failures.push(format!(
                "{}: expected {expected}, got {actual}",
                case["name"]
            ));
        }
    }
    assert_eq!(total, 155, "the corpus has 155 cases");
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
