use eventrail_pattern::{Pattern, RuleMachine};
use std::time::Instant;
fn main() {
    let kind = std::env::args().nth(1).unwrap_or("exact".into());
    let mut m = RuleMachine::new();
    let rule = match kind.as_str() {
        "exact" => r#"{"detail": {"f": ["v1"]}}"#,
        "numeric" => r#"{"detail": {"f": [{"numeric": [">=", 10, "<", 15]}]}}"#,
        "eic" => r#"{"detail": {"f": [{"equals-ignore-case": "Name1"}]}}"#,
        _ => r#"{"detail": {"items": {"sku": ["S1"], "qty": [{"numeric": [">", 0]}]}}}"#,
    };
    m.add_rule(0usize, &Pattern::parse(rule).unwrap());
    let f = match kind.as_str() {
        "exact" => "\"v1\"",
        "numeric" => "12",
        "eic" => "\"NAME1\"",
        _ => "\"x\"",
    };
    let items = if kind == "sae" {
        r#", "items": [{"sku": "S1", "qty": 2}, {"sku": "none", "qty": 3}, {"sku": "S2", "qty": 0}]"#
    } else {
        ""
    };
    let ev = format!(
        r#"{{"version":"0","id":"ev-1","source":"bench.operators","detail-type":"Bench","time":"2026-11-27T10:00:00Z","detail":{{"f":{f},"g":"zzz","note":"an order of 3 items","total":1234,"country":"NL"{items}}}}}"#
    );
    let v: serde_json::Value = serde_json::from_str(&ev).unwrap();
    assert_eq!(m.matching_rules_json(ev.as_bytes()).unwrap().len(), 1);
    let n = 1_000_000;
    let mode = std::env::args().nth(2).unwrap_or_default();
    if mode == "q" {
        let mut q: quamina::Quamina<usize> = quamina::Quamina::new();
        q.add_pattern(0, rule).unwrap();
        assert_eq!(q.matches_for_event(ev.as_bytes()).unwrap().len(), 1);
        let t = Instant::now();
        let mut c = 0;
        for _ in 0..n {
            c += q
                .matches_for_event(std::hint::black_box(ev.as_bytes()))
                .unwrap()
                .len();
        }
        println!(
            "{kind}: quamina {:.0} ns ({c})",
            t.elapsed().as_nanos() as f64 / n as f64
        );
        return;
    }
    if mode == "b" {
        let t = Instant::now();
        let mut c = 0;
        for _ in 0..n {
            c += m
                .matching_rules_json(std::hint::black_box(ev.as_bytes()))
                .unwrap()
                .len();
        }
        println!(
            "{kind}: bytes {:.0} ns ({c})",
            t.elapsed().as_nanos() as f64 / n as f64
        );
        return;
    }
    let t = Instant::now();
    let mut c = 0;
    for _ in 0..n {
        c += m
            .matching_rules_json(std::hint::black_box(ev.as_bytes()))
            .unwrap()
            .len();
    }
    let b = t.elapsed().as_nanos() as f64 / n as f64;
    let t = Instant::now();
    for _ in 0..n {
        c += m.matching_rules(std::hint::black_box(&v)).len();
    }
    let vv = t.elapsed().as_nanos() as f64 / n as f64;
    println!(
        "{kind}: bytes {b:.0} ns, value {vv:.0} ns ({c}) len {}",
        ev.len()
    );
}
