//! Measures the pattern engine on its adversarial cases (see BENCHMARKS.md, section 3).
//!
//! `cargo run -p eventrail-pattern --example worst_cases` prints a Markdown table: each
//! case, its outcome, and the median wall time of a few runs. No test depends on it.

use std::time::{Duration, Instant};

use eventrail_pattern::{Pattern, RuleMachine};
use serde_json::{Value, json};

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

/// Runs `f` `times` times; the median time and the last outcome.
fn measure(times: usize, mut f: impl FnMut() -> String) -> (Duration, String) {
    let mut runs = Vec::new();
    let mut outcome = String::new();
    for _ in 0..times {
        let start = Instant::now();
        outcome = f();
        runs.push(start.elapsed());
    }
    (median(runs), outcome)
}

fn row(case: &str, (time, outcome): (Duration, String)) {
    println!(
        "| {case} | {outcome} | {:.1} ms |",
        time.as_secs_f64() * 1e3
    );
}

fn objects(field: &str, n: usize) -> Value {
    Value::Array((0..n).map(|i| json!({ field: i })).collect())
}

fn machine(pattern: &Value) -> RuleMachine<&'static str> {
    let mut machine = RuleMachine::new();
    machine.add_rule("rule", &Pattern::from_value(pattern).unwrap());
    machine
}

fn outcome<E: std::fmt::Display>(result: Result<Vec<&&str>, E>) -> String {
    match result {
        Ok(rules) if rules.is_empty() => "no match".into(),
        Ok(_) => "match".into(),
        Err(error) => {
            let text = error.to_string();
            let end = text.find(" (").unwrap_or(text.len());
            format!("error: {}", &text[..end])
        }
    }
}

fn main() {
    println!("| case | outcome | median time |");
    println!("|---|---|---|");

    for n in [1000, 3000] {
        let event = json!({"a": objects("x", n), "b": objects("y", n)});
        let bytes = event.to_string();
        let m = machine(&json!({"a": {"x": [{"exists": true}]}, "b": {"y": [{"exists": true}]}}));
        row(
            &format!("fields in two {n}-element arrays (value)"),
            measure(5, || outcome(m.try_matching_rules(&event))),
        );
        row(
            &format!("fields in two {n}-element arrays (bytes)"),
            measure(5, || outcome(m.matching_rules_json(bytes.as_bytes()))),
        );
    }

    for n in [300, 1000, 3000] {
        // 1,000 x 1,000 = 1,000,000 combinations: at the default step limit.
        let a: Vec<Value> = (0..n).map(|i| json!({"a": i, "c": i})).collect();
        let b: Vec<Value> = (0..n).map(|i| json!({"b": i, "d": i})).collect();
        let event = json!({"x": {"y": a}, "x.y": b});
        let m = machine(&json!({"x": {"y": {
            "a": [{"exists": true}], "b": [{"exists": true}],
            "c": [{"exists": true}], "d": [{"exists": true}]
        }}}));
        row(
            &format!("one rule interleaved over two {n}-element arrays at one path"),
            measure(3, || outcome(m.try_matching_rules(&event))),
        );
    }

    let deep = (0..100_000).fold(json!(1), |inner, _| Value::Array(vec![inner]));
    // (Not `json!`: it would serialise the nested value, recursing.)
    let deep = Value::Object(std::iter::once(("a".to_owned(), deep)).collect());
    let m = machine(&json!({"a": [1]}));
    row(
        "event nested 100,000 arrays deep (value)",
        measure(5, || outcome(m.try_matching_rules(&deep))),
    );
    // Dropping a value nested this deep recurses; leak it instead.
    std::mem::forget(deep);
    let text = format!("{{\"a\": {}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
    row(
        "event nested 100,000 arrays deep (bytes)",
        measure(5, || outcome(m.matching_rules_json(text.as_bytes()))),
    );

    let n = 100_000;
    let event = json!({"ids": (0..n).collect::<Vec<_>>()});
    let bytes = event.to_string();
    let m = machine(&json!({"ids": [{"numeric": [">=", 99_999]}]}));
    row(
        "100,000-element array, numeric rule (value)",
        measure(5, || outcome(m.try_matching_rules(&event))),
    );
    row(
        "100,000-element array, numeric rule (bytes)",
        measure(5, || outcome(m.matching_rules_json(bytes.as_bytes()))),
    );

    let strings: Vec<String> = (0..100_000).map(|i| format!("s{i}")).collect();
    let pattern = json!({"k": [{"anything-but": strings}]});
    row(
        "compile anything-but of 100,000 strings",
        measure(3, || {
            Pattern::from_value(&pattern).map_or_else(|e| e.to_string(), |_| "ok".into())
        }),
    );
    let m = machine(&pattern);
    let event = json!({"k": (0..10_000).map(|i| format!("s{}", i * 20)).collect::<Vec<_>>()});
    row(
        "anything-but of 100,000 strings vs 10,000 leaves",
        measure(5, || outcome(m.try_matching_rules(&event))),
    );

    let m = machine(&json!({"k": [{"wildcard": "*ab*ab*ab*ab*b"}]}));
    let event = json!({"k": format!("{}b", "a".repeat(200_000))});
    row(
        "5-star wildcard vs 200,000-char near miss",
        measure(5, || outcome(m.try_matching_rules(&event))),
    );

    let long = "x".repeat(200_000);
    let m = machine(&json!({"k": [{"equals-ignore-case": long}]}));
    let event = json!({"k": long.to_uppercase()});
    row(
        "equals-ignore-case, 200,000 chars",
        measure(5, || outcome(m.try_matching_rules(&event))),
    );

    let branches: Vec<Value> = (0..1024)
        .map(|i| json!({ format!("k{}", i % 32): [i] }))
        .collect();
    let pattern = json!({ "$or": branches });
    row(
        "compile $or of 1,024 branches",
        measure(3, || {
            Pattern::from_value(&pattern).map_or_else(|e| e.to_string(), |_| "ok".into())
        }),
    );
    let mut fields = serde_json::Map::new();
    for i in 0..11 {
        fields.insert(format!("f{i}"), json!({"$or": [{"x": [1]}, {"y": [2]}]}));
    }
    let pattern = Value::Object(fields);
    row(
        "compile 11 ANDed $or of 2 (2,048 alternatives)",
        measure(3, || {
            Pattern::from_value(&pattern).map_or_else(
                |e| {
                    let text = e.to_string();
                    let end = text.find(" (").unwrap_or(text.len());
                    format!("error: {}", &text[..end])
                },
                |_| "ok".into(),
            )
        }),
    );
}
