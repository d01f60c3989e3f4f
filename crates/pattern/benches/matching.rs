//! Matching cost of the pattern engine: 1, 100 and 10,000 rules against the sample
//! events, generated events of about 1 KB, 10 KB and 100 KB, and one pathological event
//! with a 10,000-element array. The same rules and events are written to a cases file
//! and, when a LocalStack venv is found, LocalStack's Python engine is timed on them in
//! the same run (localstack_engine.py); a comparison table is printed and written to
//! `<target>/pattern-bench/table.md`.
//!
//! Two more sections run in the same process: one rule-count row per operator kind
//! (1, 100, 1,000 and 10,000 rules of that kind on one field, the same matches per event
//! at every count), and the citylots workload, each timed for eventrail and for the
//! `quamina` crate (the Rust port of quamina) side by side.
//!
//! Run: `cargo bench -p eventrail-pattern --bench matching`. `EVENTRAIL_BENCH=operators`,
//! `citylots` or `localstack` (comma-separated) runs only those sections, and
//! `EVENTRAIL_BENCH_RULES=1` (comma-separated) only those rule counts of section 1, and
//! `EVENTRAIL_BENCH_OPERATORS=exact,prefix` only those rows of the operator section.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use eventrail_pattern::{Pattern, RuleMachine};
use serde_json::{Value, json};

#[path = "matching/peers.rs"]
mod peers;

const RULE_COUNTS: [usize; 3] = [1, 100, 10_000];

/// The rule counts of section 1 to run: `EVENTRAIL_BENCH_RULES` (comma-separated, e.g.
/// `1`), else all of [`RULE_COUNTS`].
fn rule_counts() -> Vec<usize> {
    let chosen: Vec<usize> = std::env::var("EVENTRAIL_BENCH_RULES")
        .unwrap_or_default()
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    if chosen.is_empty() {
        RULE_COUNTS.to_vec()
    } else {
        chosen
    }
}

/// The reference app's subscriptions (see the contract); the 1-rule case uses the first.
fn app_rules() -> Vec<Value> {
    vec![
        json!({"source": ["eventrail.orders"], "detail-type": ["OrderPlaced"],
               "$or": [{"detail": {"data": {"order": {"total_cents": [{"numeric": [">", 100000]}]}}}},
                       {"detail": {"data": {"order": {"shipping_address": {"country": [{"anything-but": ["US", "CA", "GB", "DE", "FR", "NL"]}]}}}}}]}),
        json!({"source": ["eventrail.orders"], "detail-type": ["OrderPlaced"]}),
        json!({"source": ["eventrail.inventory"], "detail-type": ["StockReserved"]}),
        json!({"source": ["eventrail.payments"], "detail-type": ["PaymentCaptured"]}),
        json!({"source": [{"prefix": "eventrail."}], "detail-type": ["StockUnavailable", "PaymentFailed", "OrderShipped"]}),
        json!({"source": [{"prefix": "eventrail."}]}),
    ]
}

/// Rule `i` of a synthetic tenant: a mix of exact, prefix, suffix, case-insensitive,
/// numeric-with-key and array-element rules, each selective like real subscriptions.
fn generated_rule(i: usize) -> Value {
    let order = |fields: Value| json!({"detail": {"data": {"order": fields}}});
    match i % 7 {
        0 => json!({"source": [format!("eventrail.svc{i}")], "detail-type": [format!("Type{i}")]}),
        1 => json!({"source": [{"prefix": format!("eventrail.svc{i}.")}]}),
        2 => {
            let mut rule = order(json!({"customer_id": [format!("cust-{i}")],
                                        "total_cents": [{"numeric": [">", 1000]}]}));
            rule["source"] = json!(["eventrail.orders"]);
            rule
        }
        3 => {
            let mut rule = order(json!({"shipping_address": {"country": [format!("C{i}")]}}));
            rule["source"] = json!([{"prefix": "eventrail."}]);
            rule
        }
        4 => order(
            json!({"items": {"sku": [format!("SKU-{i}")], "quantity": [{"numeric": [">=", 1]}]}}),
        ),
        5 => json!({"detail-type": [{"equals-ignore-case": format!("type{i}")}]}),
        _ => order(json!({"customer_email": [{"suffix": format!("@d{i}.example")}]})),
    }
}

fn rules(count: usize) -> Vec<Value> {
    let mut rules = app_rules();
    rules.truncate(count);
    rules.extend((rules.len()..count).map(generated_rule));
    rules
}

fn samples() -> Vec<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/samples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "json"));
    files.sort();
    files
        .iter()
        .filter_map(|p| serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok())
        .collect()
}

/// An OrderPlaced envelope with `items` order lines, padded to grow with them.
fn order_event(items: usize, seed: usize) -> Value {
    let lines: Vec<Value> = (0..items)
        .map(|k| {
            json!({"sku": format!("SKU-{}", (seed * 31 + k * 7) % 20_000), "quantity": 1 + k % 3,
                        "unit_price_cents": 199 + k, "note": "gift wrap, leave at the door"})
        })
        .collect();
    json!({
        "version": "0", "id": format!("bench-{seed}"), "detail-type": "OrderPlaced",
        "source": "eventrail.orders", "account": "123456789012", "time": "2026-11-20T10:15:30Z",
        "region": "us-east-1", "resources": [],
        "detail": {"metadata": {"schema_version": 1, "correlation_id": format!("corr-{seed}"),
                                "causation_id": null, "idempotency_key": format!("k-{seed}")},
                   "data": {"order": {"order_id": format!("ord-{seed}"), "customer_id": format!("cust-{}", seed * 7 + 2),
                                      "customer_email": format!("c{seed}@d{}.example", seed * 7 + 6),
                                      "items": lines, "total_cents": 123_456, "currency": "USD",
                                      "shipping_address": {"name": "Ada", "line1": "12 Analytical Row", "city": "Springfield",
                                                           "postal_code": "12345", "country": "NL"},
                                      "payment_token": "tok_visa"}}}
    })
}

/// An event of about `bytes` bytes.
fn event_of_size(bytes: usize, seed: usize) -> Value {
    let mut items = 1;
    while serde_json::to_vec(&order_event(items, seed)).map_or(0, |v| v.len()) < bytes {
        items = (items * 11).div_ceil(10).max(items + 1);
    }
    order_event(items, seed)
}

fn large_array_event() -> Value {
    let mut event = order_event(0, 3);
    let items: Vec<Value> = (0..10_000)
        .map(|k| json!({"sku": format!("SKU-{k}"), "quantity": 2}))
        .collect();
    event["detail"]["data"]["order"]["items"] = Value::Array(items);
    event
}

/// The event classes of the benchmark: name and events.
fn event_classes() -> Vec<(&'static str, Vec<Value>)> {
    vec![
        ("samples", samples()),
        ("1KB", (0..4).map(|s| event_of_size(1_000, s)).collect()),
        ("10KB", (0..4).map(|s| event_of_size(10_000, s)).collect()),
        ("100KB", (0..2).map(|s| event_of_size(100_000, s)).collect()),
        ("array10k", vec![large_array_event()]),
    ]
}

fn machine(rules: &[Value]) -> RuleMachine<usize> {
    let mut machine = RuleMachine::new();
    for (i, rule) in rules.iter().enumerate() {
        machine.add_rule(
            i,
            &Pattern::from_value(rule).expect("benchmark rules are valid"),
        );
    }
    machine
}

fn output_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("pattern-bench")
}

fn write_cases(dir: &Path, classes: &[(&str, Vec<Value>)]) -> PathBuf {
    let rule_sets: serde_json::Map<String, Value> = rule_counts()
        .iter()
        .map(|&n| (n.to_string(), Value::Array(rules(n))))
        .collect();
    let events: serde_json::Map<String, Value> = classes
        .iter()
        .map(|(name, events)| ((*name).to_owned(), Value::Array(events.clone())))
        .collect();
    let path = dir.join("cases.json");
    let cases = json!({"rule_sets": rule_sets, "events": events});
    std::fs::write(&path, serde_json::to_vec(&cases).expect("cases serialise"))
        .expect("write cases.json");
    path
}

/// One line of the comparison table. The ns figures come from a direct timing loop run
/// right after criterion's measurement (criterion keeps its own report under
/// target/criterion).
struct Row {
    rules: usize,
    class: &'static str,
    bytes_per_event: usize,
    matches_per_event: f64,
    /// From raw JSON bytes (parsing included).
    ns_per_event: f64,
    /// From an already parsed `serde_json::Value` (as LocalStack starts from a dict).
    value_ns_per_event: f64,
}

fn bench(c: &mut Criterion, classes: &[(&'static str, Vec<Value>)]) -> Vec<Row> {
    let mut rows = Vec::new();
    for count in rule_counts() {
        let started = Instant::now();
        let machine = machine(&rules(count));
        println!(
            "compiled {count} rules in {:?} ({} states)",
            started.elapsed(),
            machine.state_count()
        );
        let mut group = c.benchmark_group(format!("match_json/{count}_rules"));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        for (class, events) in classes {
            let bodies: Vec<Vec<u8>> = events
                .iter()
                .filter_map(|e| serde_json::to_vec(e).ok())
                .collect();
            let total_bytes: usize = bodies.iter().map(Vec::len).sum();
            group.throughput(Throughput::Elements(bodies.len() as u64));
            group.bench_with_input(BenchmarkId::from_parameter(class), &bodies, |b, bodies| {
                b.iter(|| {
                    bodies
                        .iter()
                        .map(|body| machine.matching_rules_json(body).map_or(0, |m| m.len()))
                        .sum::<usize>()
                });
            });
            let matched: usize = bodies
                .iter()
                .map(|body| machine.matching_rules_json(body).map_or(0, |m| m.len()))
                .sum();
            rows.push(Row {
                rules: count,
                class,
                bytes_per_event: total_bytes / bodies.len().max(1),
                matches_per_event: matched as f64 / bodies.len().max(1) as f64,
                ns_per_event: direct_ns_per_event(
                    || {
                        bodies
                            .iter()
                            .map(|body| machine.matching_rules_json(body).map_or(0, |m| m.len()))
                            .sum()
                    },
                    bodies.len(),
                ),
                value_ns_per_event: direct_ns_per_event(
                    || {
                        events
                            .iter()
                            .map(|event| machine.matching_rules(event).len())
                            .sum()
                    },
                    events.len(),
                ),
            });
        }
        group.finish();
    }
    rows
}

/// Mean ns per event over at least 0.5 s of repeating `match_all` (which matches
/// `events` events and returns the number of matches).
fn direct_ns_per_event(mut match_all: impl FnMut() -> usize, events: usize) -> f64 {
    let mut passes = 0u64;
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(500) || passes == 0 {
        std::hint::black_box(match_all());
        passes += 1;
    }
    started.elapsed().as_nanos() as f64 / (passes as f64 * events.max(1) as f64)
}

/// `EVENTRAIL_LOCALSTACK_PYTHON` when set (e.g. another checkout's venv), else this
/// checkout's LocalStack venv, else `/tmp/ls-bench-venv`.
fn localstack_python() -> Option<PathBuf> {
    let main =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.eventrail/venv/localstack/bin/python");
    std::env::var_os("EVENTRAIL_LOCALSTACK_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([main, PathBuf::from("/tmp/ls-bench-venv/bin/python")])
        .find(|p| p.exists())
}

/// Runs LocalStack's engine on the same cases; `None` when no venv is available.
fn run_localstack(cases: &Path, dir: &Path) -> Option<Value> {
    let python = localstack_python()?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/localstack_engine.py");
    let out = dir.join("localstack.json");
    println!("running LocalStack's engine with {} ...", python.display());
    let status = Command::new(&python)
        .arg(&script)
        .arg(cases)
        .arg(&out)
        .status()
        .ok()?;
    if !status.success() {
        eprintln!("localstack_engine.py failed: {status}");
        return None;
    }
    serde_json::from_str(&std::fs::read_to_string(&out).ok()?).ok()
}

fn format_ns(ns: f64) -> String {
    match ns {
        n if n >= 1e9 => format!("{:.2} s", n / 1e9),
        n if n >= 1e6 => format!("{:.2} ms", n / 1e6),
        n if n >= 1e3 => format!("{:.2} µs", n / 1e3),
        n => format!("{n:.0} ns"),
    }
}

fn table(rows: &[Row], localstack: Option<&Value>) -> String {
    let mut text = String::from(
        "| rules | events | bytes/event | matches/event | eventrail, JSON bytes | events/s | eventrail, parsed Value | events/s | LocalStack matches_event (dict) | LocalStack precompiled (dict) | LocalStack matches/event | ratio LocalStack / eventrail (both parsed) | ratio LocalStack (dict) / eventrail (JSON bytes) |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        let ls = localstack.and_then(|l| l.get(format!("{}/{}", row.rules, row.class)));
        let ls_ns = |key: &str| ls.and_then(|v| v.get(key)).and_then(Value::as_f64);
        let full = ls_ns("matches_event_ns");
        let pre = ls_ns("precompiled_ns");
        let _ = writeln!(
            text,
            "| {} | {} | {} | {:.2} | {} | {:.0} | {} | {:.0} | {} | {} | {} | {} | {} |",
            row.rules,
            row.class,
            row.bytes_per_event,
            row.matches_per_event,
            format_ns(row.ns_per_event),
            1e9 / row.ns_per_event,
            format_ns(row.value_ns_per_event),
            1e9 / row.value_ns_per_event,
            full.map_or("n/a".into(), format_ns),
            pre.map_or("n/a".into(), format_ns),
            ls_ns("matches_per_event").map_or("n/a".into(), |m| format!("{m:.2}")),
            full.map_or("n/a".into(), |f| format!(
                "{:.0}x",
                f / row.value_ns_per_event
            )),
            full.map_or("n/a".into(), |f| format!("{:.0}x", f / row.ns_per_event)),
        );
    }
    text
}

fn main() {
    let sections = std::env::var("EVENTRAIL_BENCH").unwrap_or_default();
    let wants = |name: &str| sections.is_empty() || sections.split(',').any(|s| s == name);
    let dir = output_dir();
    std::fs::create_dir_all(&dir).expect("create the benchmark output dir");
    if wants("operators") {
        let table = peers::operator_table();
        println!("\n{table}");
        std::fs::write(dir.join("operators.md"), &table).expect("write operators.md");
    }
    if wants("citylots") {
        let table = peers::citylots_table();
        println!("\n{table}");
        std::fs::write(dir.join("citylots.md"), &table).expect("write citylots.md");
    }
    if !wants("localstack") {
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    let classes = event_classes();
    let cases = write_cases(&dir, &classes);
    let rows = bench(&mut criterion, &classes);
    criterion.final_summary();
    let localstack = run_localstack(&cases, &dir);
    let table = table(&rows, localstack.as_ref());
    println!("\n{table}");
    std::fs::write(dir.join("table.md"), &table).expect("write table.md");
    println!("written to {}", dir.join("table.md").display());
}
