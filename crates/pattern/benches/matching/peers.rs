//! eventrail and the `quamina` crate side by side: one row per operator kind at 1, 100,
//! 1,000 and 10,000 rules, and the citylots workload.

use std::fmt::Write as _;
use std::time::Instant;

use eventrail_pattern::{Pattern, RuleMachine};
use serde_json::{Value, json};

use super::{direct_ns_per_event, format_ns};

const OPERATOR_RULE_COUNTS: [usize; 4] = [1, 100, 1_000, 10_000];

/// Events per case; event `j` of a case with `n` rules targets rule `j * n / EVENTS`, so
/// every event matches exactly one rule at every rule count.
const EVENTS: usize = 8;

pub const KINDS: [&str; 11] = [
    "exact",
    "prefix",
    "suffix",
    "equals-ignore-case",
    "numeric",
    "anything-but",
    "wildcard",
    "cidr",
    "exists",
    "$or",
    "same-array-element",
];

/// Rule `i` of `n` of an operator kind: all on the field `detail.f` (or, for `exists`,
/// one field per rule; for `$or`, two).
pub fn operator_rule(kind: &str, i: usize, n: usize) -> Value {
    let on_f = |condition: Value| json!({"detail": {"f": [condition]}});
    match kind {
        "exact" => on_f(json!(format!("v{i}"))),
        "prefix" => on_f(json!({"prefix": format!("p{i}-")})),
        "suffix" => on_f(json!({"suffix": format!("-s{i}")})),
        "equals-ignore-case" => on_f(json!({"equals-ignore-case": format!("Name{i}")})),
        "numeric" => on_f(json!({"numeric": [">=", 10 * i, "<", 10 * i + 5]})),
        "anything-but" => {
            // Every rule excludes the values of the events aimed at other rules.
            let mut excluded: Vec<String> = targets(n)
                .filter(|&t| t != i)
                .map(|t| format!("e{t}"))
                .collect();
            excluded.push(format!("r{i}"));
            on_f(json!({"anything-but": excluded}))
        }
        "wildcard" => on_f(json!({"wildcard": format!("w{i}-*-end")})),
        "cidr" => on_f(json!({"cidr": format!("10.{}.{}.0/24", i / 256, i % 256)})),
        "exists" => json!({"detail": {format!("x{i}"): [{"exists": true}]}}),
        "$or" => json!({"$or": [{"detail": {"f": [format!("o{i}")]}},
                                {"detail": {"g": [{"prefix": format!("q{i}-")}]}}]}),
        _ => {
            json!({"detail": {"items": {"sku": [format!("S{i}")], "qty": [{"numeric": [">", 0]}]}}})
        }
    }
}

pub fn targets(n: usize) -> impl Iterator<Item = usize> {
    (0..EVENTS).map(move |j| j * n / EVENTS)
}

/// An event matching rule `t` only (of any count of rules of that kind).
pub fn operator_event(kind: &str, t: usize) -> Value {
    let f = match kind {
        "exact" => json!(format!("v{t}")),
        "prefix" => json!(format!("p{t}-tail")),
        "suffix" => json!(format!("head-s{t}")),
        "equals-ignore-case" => json!(format!("NAME{t}")),
        "numeric" => json!(10 * t + 2),
        "anything-but" => json!(format!("e{t}")),
        "wildcard" => json!(format!("w{t}-middle-end")),
        "cidr" => json!(format!("10.{}.{}.7", t / 256, t % 256)),
        "$or" => json!(format!("o{t}")),
        _ => json!("unrelated"),
    };
    let mut detail = json!({"f": f, "g": "zzz", "note": "an order of 3 items",
                            "total": 1234, "country": "NL"});
    if kind == "exists" {
        detail[format!("x{t}")] = json!("here");
    }
    if kind == "same-array-element" {
        // The second element has a positive qty but another sku: it must not combine.
        detail["items"] = json!([{"sku": format!("S{t}"), "qty": 2},
                                 {"sku": "none", "qty": 3},
                                 {"sku": format!("S{}", t + 1), "qty": 0}]);
    }
    json!({"version": "0", "id": format!("ev-{t}"), "source": "bench.operators",
           "detail-type": "Bench", "time": "2026-11-27T10:00:00Z", "detail": detail})
}

/// One engine's figures for one case.
struct Timing {
    compile_ms: f64,
    ns_per_event: f64,
    matches_per_event: f64,
    /// eventrail only: from an already parsed `serde_json::Value` (matching alone).
    value_ns_per_event: Option<f64>,
}

fn time_eventrail(rules: &[Value], bodies: &[Vec<u8>]) -> Timing {
    let started = Instant::now();
    let mut machine = RuleMachine::new();
    for (i, rule) in rules.iter().enumerate() {
        machine.add_rule(
            i,
            &Pattern::from_value(rule).expect("benchmark rules are valid"),
        );
    }
    let count = |machine: &RuleMachine<usize>| -> usize {
        bodies
            .iter()
            .map(|b| machine.matching_rules_json(b).map_or(0, |m| m.len()))
            .sum()
    };
    // The first match builds the lazily built indexes: part of compiling.
    let matched = count(&machine);
    let compile_ms = started.elapsed().as_secs_f64() * 1e3;
    let values: Vec<Value> = bodies
        .iter()
        .filter_map(|b| serde_json::from_slice(b).ok())
        .collect();
    Timing {
        compile_ms,
        ns_per_event: direct_ns_per_event(|| count(&machine), bodies.len()),
        matches_per_event: matched as f64 / bodies.len() as f64,
        value_ns_per_event: Some(direct_ns_per_event(
            || values.iter().map(|v| machine.matching_rules(v).len()).sum(),
            values.len(),
        )),
    }
}

/// Why quamina has no figure: it refused a rule (an operator it does not support), or
/// it panicked (0.7.0 does when one automaton state has more than 255 transitions).
fn time_quamina(rules: &[Value], bodies: &[Vec<u8>]) -> Result<Timing, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(|| time_quamina_unguarded(rules, bodies));
    std::panic::set_hook(hook);
    outcome.unwrap_or_else(|_| Err("panicked".into()))
}

fn time_quamina_unguarded(rules: &[Value], bodies: &[Vec<u8>]) -> Result<Timing, String> {
    let started = Instant::now();
    let mut q: quamina::Quamina<usize> = quamina::Quamina::new();
    for (i, rule) in rules.iter().enumerate() {
        q.add_pattern(i, &rule.to_string()).map_err(|e| {
            format!("refused: {e:?}")
                .chars()
                .take(60)
                .collect::<String>()
        })?;
    }
    let count = |q: &quamina::Quamina<usize>| -> usize {
        bodies
            .iter()
            .map(|b| q.matches_for_event(b).map_or(0, |m| m.len()))
            .sum()
    };
    let matched = count(&q);
    let compile_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(Timing {
        compile_ms,
        ns_per_event: direct_ns_per_event(|| count(&q), bodies.len()),
        matches_per_event: matched as f64 / bodies.len() as f64,
        value_ns_per_event: None,
    })
}

/// The per-operator table: for each kind and rule count, ns per event for eventrail and
/// quamina (from JSON bytes, parsing included), and the 10,000 / 1 ratio.
pub fn operator_table() -> String {
    let mut text = String::from(
        "| operator | rules | matches/event (eventrail / quamina) | eventrail, JSON bytes | quamina, JSON bytes | quamina / eventrail | eventrail, parsed Value | eventrail compile | quamina compile |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut ratios = String::from(
        "\n| operator | eventrail 10,000 / 1 rules | quamina 10,000 / 1 rules |\n|---|---:|---:|\n",
    );
    // `EVENTRAIL_BENCH_OPERATORS=exact,prefix` (comma-separated) runs only those kinds.
    let chosen = std::env::var("EVENTRAIL_BENCH_OPERATORS").unwrap_or_default();
    let wanted = |kind: &str| chosen.is_empty() || chosen.split(',').any(|k| k.trim() == kind);
    for kind in KINDS.into_iter().filter(|kind| wanted(kind)) {
        let mut firsts: (Option<f64>, Option<f64>) = (None, None);
        let mut lasts: (Option<f64>, Option<f64>) = (None, None);
        for n in OPERATOR_RULE_COUNTS {
            let rules: Vec<Value> = (0..n).map(|i| operator_rule(kind, i, n)).collect();
            let bodies: Vec<Vec<u8>> = targets(n)
                .map(|t| serde_json::to_vec(&operator_event(kind, t)).expect("event serialises"))
                .collect();
            let ours = time_eventrail(&rules, &bodies);
            let outcome = time_quamina(&rules, &bodies);
            let why = outcome.as_ref().err().cloned().unwrap_or_default();
            let theirs = outcome.ok();
            println!(
                "{kind:>20} {n:>6} rules: eventrail {:>9} ({:.2} matches), quamina {}",
                format_ns(ours.ns_per_event),
                ours.matches_per_event,
                theirs.as_ref().map_or(why.clone(), |t| format!(
                    "{} ({:.2} matches)",
                    format_ns(t.ns_per_event),
                    t.matches_per_event
                )),
            );
            firsts.0.get_or_insert(ours.ns_per_event);
            lasts.0 = Some(ours.ns_per_event);
            if n == 1 {
                firsts.1 = theirs.as_ref().map(|t| t.ns_per_event);
            }
            lasts.1 = theirs.as_ref().map(|t| t.ns_per_event);
            let _ = writeln!(
                text,
                "| {kind} | {n} | {:.2} / {} | {} | {} | {} | {} | {:.1} ms | {} |",
                ours.matches_per_event,
                theirs
                    .as_ref()
                    .map_or("n/a".into(), |t| format!("{:.2}", t.matches_per_event)),
                format_ns(ours.ns_per_event),
                theirs
                    .as_ref()
                    .map_or(why.clone(), |t| format_ns(t.ns_per_event)),
                theirs.as_ref().map_or("n/a".into(), |t| format!(
                    "{:.1}x",
                    t.ns_per_event / ours.ns_per_event
                )),
                ours.value_ns_per_event.map_or("n/a".into(), format_ns),
                ours.compile_ms,
                theirs
                    .as_ref()
                    .map_or("n/a".into(), |t| format!("{:.1} ms", t.compile_ms)),
            );
        }
        let ratio = |(first, last): (Option<f64>, Option<f64>)| match (first, last) {
            (Some(a), Some(b)) => format!("{:.2}x", b / a),
            _ => "n/a".into(),
        };
        let _ = writeln!(
            ratios,
            "| {kind} | {} | {} |",
            ratio((firsts.0, lasts.0)),
            ratio((firsts.1, lasts.1))
        );
    }
    text + &ratios
}

/// Features in the generated citylots file (the published one holds 206,560).
const CITYLOTS_FEATURES: usize = 20_000;

/// The patterns quamina's (Go and Rust) citylots benchmark uses.
const CITYLOTS_PATTERNS: [&str; 4] = [
    r#"{"properties": {"STREET": ["CRANLEIGH"]}}"#,
    r#"{"properties": {"STREET": ["17TH"], "ODD_EVEN": ["E"]}}"#,
    r#"{"geometry": {"coordinates": [37.807807921694092]}}"#,
    r#"{"properties": {"MAPBLKLOT": ["0011008"], "BLKLOT": ["0011008"]}, "geometry": {"coordinates": [37.807807921694092]}}"#,
];

const STREETS: [(&str, &str); 16] = [
    ("UNKNOWN", ""),
    ("CRANLEIGH", "DR"),
    ("17TH", "ST"),
    ("MISSION", "ST"),
    ("VALENCIA", "ST"),
    ("GEARY", "BLVD"),
    ("LOMBARD", "ST"),
    ("DIVISADERO", "ST"),
    ("JUDAH", "ST"),
    ("TARAVAL", "ST"),
    ("24TH", "ST"),
    ("FOLSOM", "ST"),
    ("BAY SHORE", "BLVD"),
    ("CLEMENT", "ST"),
    ("NORIEGA", "ST"),
    ("SACRAMENTO", "ST"),
];

/// A deterministic stand-in for citylots2.json: one GeoJSON feature of a San Francisco
/// lot per line, with the published file's fields and shapes (polygons of 5 to 24
/// points written with 15 decimals, a third coordinate 0). A few features carry the
/// latitude `37.807807921694092` and the lot `0011008` the patterns look for.
pub fn citylots_lines() -> Vec<Vec<u8>> {
    let mut seed: u64 = 0x5eed_c17e_1075;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        seed >> 33
    };
    (0..CITYLOTS_FEATURES)
        .map(|k| {
            let block = 1 + k / 40;
            let lot = 1 + k % 40;
            let lot_id = if k == 7_777 {
                "0011008".to_owned()
            } else {
                format!("{block:04}{lot:03}")
            };
            let (street, st_type) = STREETS[(next() as usize) % STREETS.len()];
            let from = next() % 3000;
            let odd_even = if from % 2 == 0 { "E" } else { "O" };
            let st_type = if st_type.is_empty() {
                "null".to_owned()
            } else {
                format!("\"{st_type}\"")
            };
            let mut lon = -122.51 + (next() % 1_000_000) as f64 * 1.3e-7;
            let mut lat = 37.70 + (next() % 1_000_000) as f64 * 1.1e-7;
            let points = 5 + (next() % 20) as usize;
            let mut ring = Vec::with_capacity(points);
            for p in 0..points {
                let point = if p == 1 && k % 5_000 == 1_234 {
                    "[ -122.41, 37.807807921694092, 0.0 ]".to_owned()
                } else {
                    format!("[ {lon:.15}, {lat:.15}, 0.0 ]")
                };
                ring.push(point);
                lon += ((next() % 2001) as f64 - 1000.0) * 1e-8;
                lat += ((next() % 2001) as f64 - 1000.0) * 1e-8;
            }
            ring.push(ring[0].clone());
            format!(
                "{{ \"type\": \"Feature\", \"properties\": {{ \"MAPBLKLOT\": \"{lot_id}\", \"BLKLOT\": \"{lot_id}\", \"BLOCK_NUM\": \"{block:04}\", \"LOT_NUM\": \"{lot:03}\", \"FROM_ST\": \"{from}\", \"TO_ST\": \"{}\", \"STREET\": \"{street}\", \"ST_TYPE\": {st_type}, \"ODD_EVEN\": \"{odd_even}\" }}, \"geometry\": {{ \"type\": \"Polygon\", \"coordinates\": [ [ {} ] ] }} }}",
                from + 10,
                ring.join(", ")
            )
            .into_bytes()
        })
        .collect()
}

/// The citylots row: events/s for eventrail and quamina on the generated file.
pub fn citylots_table() -> String {
    let lines = citylots_lines();
    let bytes: usize = lines.iter().map(Vec::len).sum();
    let rules: Vec<Value> = CITYLOTS_PATTERNS
        .iter()
        .map(|p| serde_json::from_str(p).expect("citylots patterns are JSON"))
        .collect();
    // eventrail reads the pattern text itself (it keeps 37.807807921694092 as written).
    let mut machine = RuleMachine::new();
    for (i, p) in CITYLOTS_PATTERNS.iter().enumerate() {
        machine.add_rule(i, &Pattern::parse(p).expect("citylots patterns are valid"));
    }
    let count = |m: &RuleMachine<usize>| -> usize {
        lines
            .iter()
            .map(|l| m.matching_rules_json(l).map_or(0, |r| r.len()))
            .sum()
    };
    let ours_matches = count(&machine);
    let ours = direct_ns_per_event(|| count(&machine), lines.len());
    let theirs = time_quamina(&rules, &lines);
    let mut text = String::from(
        "| workload | events | bytes/event | engine | matches (total) | ns/event | events/s |\n|---|---:|---:|---|---:|---:|---:|\n",
    );
    let _ = writeln!(
        text,
        "| citylots (generated) | {} | {} | eventrail | {ours_matches} | {} | {:.0} |",
        lines.len(),
        bytes / lines.len(),
        format_ns(ours),
        1e9 / ours
    );
    if let Ok(t) = theirs {
        let _ = writeln!(
            text,
            "| citylots (generated) | {} | {} | quamina | {:.0} | {} | {:.0} |",
            lines.len(),
            bytes / lines.len(),
            t.matches_per_event * lines.len() as f64,
            format_ns(t.ns_per_event),
            1e9 / t.ns_per_event
        );
    }
    text
}
