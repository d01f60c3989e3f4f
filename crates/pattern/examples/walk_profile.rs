//! Temporary profiling loop (not committed).
use eventrail_pattern::{Pattern, RuleMachine};
use serde_json::{Value, json};
use std::time::Instant;

fn rule(kind: &str, i: usize) -> Value {
    let on_f = |c: Value| json!({"detail": {"f": [c]}});
    match kind {
        "exact" => on_f(json!(format!("v{i}"))),
        "prefix" => on_f(json!({"prefix": format!("p{i}-")})),
        "numeric" => on_f(json!({"numeric": [">=", 10 * i, "<", 10 * i + 5]})),
        "exists" => json!({"detail": {format!("x{i}"): [{"exists": true}]}}),
        "eic" => on_f(json!({"equals-ignore-case": format!("Name{i}")})),
        _ => {
            json!({"detail": {"items": {"sku": [format!("S{i}")], "qty": [{"numeric": [">", 0]}]}}})
        }
    }
}

fn event(kind: &str, t: usize) -> Value {
    let f = match kind {
        "exact" => json!(format!("v{t}")),
        "prefix" => json!(format!("p{t}-tail")),
        "numeric" => json!(10 * t + 2),
        "eic" => json!(format!("NAME{t}")),
        _ => json!("unrelated"),
    };
    let mut detail =
        json!({"f": f, "g": "zzz", "note": "an order of 3 items", "total": 1234, "country": "NL"});
    if kind == "exists" {
        detail[format!("x{t}")] = json!("here");
    }
    if kind == "same" {
        detail["items"] = json!([{"sku": format!("S{t}"), "qty": 2}, {"sku": "none", "qty": 3}, {"sku": format!("S{}", t + 1), "qty": 0}]);
    }
    json!({"version": "0", "id": format!("ev-{t}"), "source": "bench.operators", "detail-type": "Bench", "time": "2026-11-27T10:00:00Z", "detail": detail})
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let kind = args.get(1).map_or("exact", String::as_str);
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let iters: usize = args
        .get(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    let mode = args.get(4).map_or("json", String::as_str);
    let mut m = RuleMachine::new();
    for i in 0..n {
        m.add_rule(i, &Pattern::from_value(&rule(kind, i)).unwrap());
    }
    let events: Vec<Value> = (0..8).map(|j| event(kind, j * n / 8)).collect();
    let bodies: Vec<Vec<u8>> = events
        .iter()
        .map(|e| serde_json::to_vec(e).unwrap())
        .collect();
    let started = Instant::now();
    let mut total = 0usize;
    for k in 0..iters {
        let j = k % 8;
        total += if mode == "json" {
            m.matching_rules_json(&bodies[j]).map_or(0, |r| r.len())
        } else {
            m.matching_rules(&events[j]).len()
        };
    }
    let ns = started.elapsed().as_nanos() as f64 / iters as f64;
    println!(
        "{kind} {n} {mode}: {ns:.0} ns/event, {} matches/event",
        total as f64 / iters as f64
    );
}
