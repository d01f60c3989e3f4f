use eventrail_pattern::{Pattern, RuleMachine};
use std::time::Instant;
fn main() {
    let mut m = RuleMachine::new();
    m.add_rule(0usize, &Pattern::parse(r#"{"source": ["eventrail.orders"], "detail": {"data": {"order": {"total_cents": [{"numeric": [">", 100000]}]}}}}"#).unwrap());
    let items: Vec<String> = (0..1000).map(|k| format!(r#"{{"sku": "SKU-{k}", "quantity": {}, "unit_price_cents": {}, "note": "gift wrap, leave at the door"}}"#, 1 + k % 3, 199 + k)).collect();
    let ev = format!(
        r#"{{"source": "eventrail.orders", "detail": {{"data": {{"order": {{"items": [{}], "total_cents": 123456}}}}}}}}"#,
        items.join(",")
    );
    let n = 2000;
    let t = Instant::now();
    let mut c = 0;
    for _ in 0..n {
        c += m
            .matching_rules_json(std::hint::black_box(ev.as_bytes()))
            .unwrap()
            .len();
    }
    let b = t.elapsed().as_nanos() as f64 / n as f64;
    println!(
        "bytes {} B: {b:.0} ns ({:.2} ns/B) {c}",
        ev.len(),
        b / ev.len() as f64
    );
}
