use eventrail_pattern::{Pattern, RuleMachine};
use std::time::Instant;
fn main() {
    let rules: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string("/tmp/rules1.json").unwrap()).unwrap();
    let mut m = RuleMachine::new();
    for (i, r) in rules.iter().enumerate() {
        m.add_rule(i, &Pattern::from_value(r).unwrap());
    }
    let ev = std::fs::read("/tmp/ev100k.json").unwrap();
    let n = 200;
    let t = Instant::now();
    let mut c = 0;
    for _ in 0..n {
        c += m
            .matching_rules_json(std::hint::black_box(&ev))
            .unwrap()
            .len();
    }
    let b = t.elapsed().as_nanos() as f64 / n as f64;
    let t = Instant::now();
    for _ in 0..n {
        let v: serde_json::Value = serde_json::from_slice(std::hint::black_box(&ev)).unwrap();
        c += v.is_object() as usize;
    }
    let s = t.elapsed().as_nanos() as f64 / n as f64;
    println!(
        "bytes {} B: {b:.0} ns ({:.2} ns/B), serde Value parse {s:.0} ns {c}",
        ev.len(),
        b / ev.len() as f64
    );
}
