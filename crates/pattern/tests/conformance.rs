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

/// The pattern's and the event's text of a corpus line, as written (the oracle copies
/// them byte for byte, so a number keeps its token).
fn raw_pattern_and_event(line: &str) -> (&str, &str) {
    fn value_end(text: &str) -> usize {
        let (mut depth, mut in_string, mut escaped) = (0i32, false, false);
        for (at, c) in text.char_indices() {
            if in_string {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_string = false,
                    _ => {}
                }
                continue;
            }
            match c {
                '"' => in_string = true,
                '{' | '[' => depth += 1,
                '}' | ']' => {
                    depth -= 1;
                    if depth == 0 {
                        return at + 1;
                    }
                }
                _ => {}
            }
        }
        text.len()
    }
    let start = line.find(r#""pattern":"#).unwrap() + r#""pattern":"#.len();
    let pattern = &line[start..start + value_end(&line[start..])];
    let rest = &line[start + pattern.len()..];
    let start = rest.find(r#""event":"#).unwrap() + r#""event":"#.len();
    let event = &rest[start..start + value_end(&rest[start..])];
    (pattern, event)
}

/// Agreement of the engine's reading of pattern and event text (`Pattern::parse`, then
/// `matches_json`: what every CLI entry point uses) with an event-ruler-labelled corpus,
/// per kind when `kinds` is given (a case's kind is its index modulo `kinds`).
fn ruler_agreement(corpus: &str, kinds: usize) -> Vec<(usize, usize)> {
    let path = format!("{}/tests/conformance/{corpus}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let mut counts = vec![(0usize, 0usize); kinds];
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).unwrap();
        let (pattern, event) = raw_pattern_and_event(line);
        let actual = match Pattern::parse(pattern) {
            Err(_) => "invalid",
            Ok(p) => match p.matches_json(event.as_bytes()) {
                Ok(true) => "match",
                Ok(false) => "no_match",
                Err(_) => "error",
            },
        };
        let index: usize = case["name"]
            .as_str()
            .unwrap_or_default()
            .rsplit('-')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let slot = &mut counts[index % kinds];
        slot.1 += 1;
        if case["expect"] == actual {
            slot.0 += 1;
        }
    }
    counts
}

/// The held-out corpus (seed 2, general cases) agrees with event-ruler on >= 99.8%.
#[test]
fn held_out_ruler_corpus_agrees_on_at_least_99_8_percent() {
    let (agree, total) = ruler_agreement("ruler-heldout.jsonl", 1)[0];
    assert!(total >= 3000, "{total} cases");
    assert!(
        agree * 1000 >= total * 998,
        "{agree} of {total} agree, below 99.8%"
    );
}

/// The edge corpus (`ruler_cases --edges --seed 3`, labelled by event-ruler): numbers at
/// the edge of precision and in exponent form, empty arrays under `exists`, dotted event
/// keys, `$or` with `cidr`, `equals-ignore-case` beyond the Basic Multilingual Plane.
/// Each kind agrees on >= 99.5% of its 600 cases, and all of them on >= 99.8%.
#[test]
fn edge_corpus_agrees_with_ruler_kind_by_kind() {
    let kinds = ruler_agreement("ruler-edges.jsonl", 5);
    let names = [
        "numbers",
        "exists-empty-array",
        "dotted-keys",
        "or-cidr",
        "ignore-case-non-bmp",
    ];
    for ((agree, total), name) in kinds.iter().zip(names) {
        assert!(*total >= 500, "{name}: {total} cases");
        assert!(
            agree * 1000 >= total * 995,
            "{name}: {agree} of {total} agree"
        );
    }
    let (agree, total) = kinds.iter().fold((0, 0), |(a, t), (x, y)| (a + x, t + y));
    assert!(
        agree * 1000 >= total * 998,
        "{agree} of {total} agree, below 99.8%"
    );
}
