//! One row of the per-operator benchmark (`benches/matching/peers.rs`) in a loop, for
//! counting instructions with valgrind rather than timing on a shared machine.
//!
//! `cargo run --release -p eventrail-pattern --example operator_instructions -- ENGINE
//! KIND RULES PASSES`: ENGINE is `eventrail` or `quamina`, KIND an operator row of the
//! bench (`exact`, `suffix`, ...), RULES the rule count, PASSES the passes over the
//! row's 8 events. The passes run in `measured`, so
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured*'`
//! counts them alone (compiling and the first pass, which builds lazy indexes, left
//! out); divide by 8 x PASSES for instructions per event.

use eventrail_pattern::{Pattern, RuleMachine};
use serde_json::Value;

#[allow(dead_code)]
#[path = "../benches/matching/peers.rs"]
mod peers;

/// Unused here: `peers.rs` times with it in the bench.
#[allow(dead_code)]
fn direct_ns_per_event(_match_all: impl FnMut() -> usize, _events: usize) -> f64 {
    0.0
}

#[allow(dead_code)]
fn format_ns(ns: f64) -> String {
    format!("{ns}")
}

#[inline(never)]
fn measured(passes: usize, mut match_all: impl FnMut() -> usize) -> usize {
    (0..passes).map(|_| std::hint::black_box(match_all())).sum()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [engine, kind, rules, passes] = args.as_slice() else {
        eprintln!("usage: operator_instructions ENGINE KIND RULES PASSES");
        std::process::exit(2);
    };
    let n: usize = rules.parse().unwrap_or(1);
    let passes: usize = passes.parse().unwrap_or(1);
    let rules: Vec<Value> = (0..n).map(|i| peers::operator_rule(kind, i, n)).collect();
    let bodies: Vec<Vec<u8>> = peers::targets(n)
        .map(|t| serde_json::to_vec(&peers::operator_event(kind, t)).unwrap_or_default())
        .collect();
    let matched = match engine.as_str() {
        "eventrail" => {
            let mut machine = RuleMachine::new();
            for (i, rule) in rules.iter().enumerate() {
                let Ok(pattern) = Pattern::from_value(rule) else {
                    eprintln!("rule {i} refused");
                    std::process::exit(1);
                };
                machine.add_rule(i, &pattern);
            }
            let count = || -> usize {
                bodies
                    .iter()
                    .map(|b| machine.matching_rules_json(b).map_or(0, |m| m.len()))
                    .sum()
            };
            let first = count();
            measured(passes, count) + first
        }
        _ => {
            let mut q: quamina::Quamina<usize> = quamina::Quamina::new();
            for (i, rule) in rules.iter().enumerate() {
                if let Err(e) = q.add_pattern(i, &rule.to_string()) {
                    eprintln!("rule {i} refused: {e:?}");
                    std::process::exit(1);
                }
            }
            let count = || -> usize {
                bodies
                    .iter()
                    .map(|b| q.matches_for_event(b).map_or(0, |m| m.len()))
                    .sum()
            };
            let first = count();
            measured(passes, count) + first
        }
    };
    println!(
        "{engine} {kind} {n}: {matched} matches over {} passes of {} events",
        passes + 1,
        bodies.len()
    );
}
