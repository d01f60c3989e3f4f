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

/// Numbers near the largest double, written out in full, parse (serde_json reads them
/// exactly only with its `float_roundtrip` feature; without it they are "out of range").
/// This crate must ask for the feature itself: the workspace build gets it from another
/// crate anyway, so `cargo test -p eventrail-pattern` is where a missing feature shows.
#[test]
fn numbers_near_the_largest_double_written_in_full() {
    let max = format!("17976931348623157{}", "0".repeat(292));
    let pattern = Pattern::parse(&format!(
        r#"{{"n": [{{"numeric": ["<=", {max}]}}], "m": [{max}]}}"#
    ))
    .unwrap();
    let event = format!(r#"{{"n": {max}, "m": 1.7976931348623157e308}}"#);
    assert!(pattern.matches_json(event.as_bytes()).unwrap());
    let value: Value = serde_json::from_str(&event).unwrap();
    assert!(pattern.matches(&value));
}

/// Every crate that relies on a `serde_json` feature enables it itself: resolved for
/// this crate alone (as `cargo build -p eventrail-pattern` or a `cargo install` of a
/// dependent does), serde_json has `float_roundtrip`.
#[test]
fn serde_json_features_are_declared_by_this_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let output = std::process::Command::new(cargo)
        .args(["tree", "--offline", "--manifest-path", manifest])
        .args([
            "-p",
            "eventrail-pattern",
            "-e",
            "features",
            "-i",
            "serde_json",
        ])
        .args(["--prefix", "none"])
        .output()
        .unwrap();
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        tree.contains("serde_json feature \"float_roundtrip\""),
        "eventrail-pattern alone resolves serde_json without float_roundtrip:\n{tree}"
    );
}
