//! The byte reader against serde_json (the reference): random JSON texts (nesting,
//! escapes, Unicode, numbers of every form, duplicate keys, odd whitespace, broken
//! bytes) and random patterns over the fields they hold. Where the reader accepts an
//! event, its leaves must equal the reference's leaf for leaf; where the reference
//! refuses one, the reader must refuse it too; the matched rules must be the same, and
//! the same as from a parsed `Value` when that reads the event alike.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::scan;
use crate::flatten::flatten_bytes_serde;
use crate::paths::PathIndex;
use crate::{Pattern, RuleMachine};

/// A JSON tree kept as text pieces, so that keys and strings can be spelled with escapes.
#[derive(Debug, Clone)]
enum Doc {
    /// A string's raw text between the quotes.
    Str(String),
    /// A number token.
    Num(String),
    /// `true`, `false` or `null`.
    Lit(&'static str),
    Arr(Vec<Doc>),
    /// Raw keys (between the quotes) and values; keys may repeat.
    Obj(Vec<(String, Doc)>),
}

/// Keys as written in the text: plain, dotted, empty, escaped spellings of plain ones.
const KEYS: &[&str] = &[
    "a",
    "b",
    "c",
    "a.b",
    "b.c",
    "",
    "detail",
    "x",
    r"\u0061",
    r"a\u002eb",
    r"\u00e9",
    "\u{e9}",
    r"\/",
    r#"q\""#,
    ".a",
    "a.",
];

/// Pieces of string values: plain, Unicode, escapes, surrogate pairs, prefixes of others.
const PIECES: &[&str] = &[
    "x",
    "X",
    "ab",
    "10.0.0.7",
    "eventrail.",
    "\u{e9}",
    "\u{df}",
    "\u{1f600}",
    r"\n",
    r#"\""#,
    r"\\",
    r"\/",
    r"\u00e9",
    r"\u00E9",
    r"\ud83d\ude00",
    r"\u0041",
    " ",
    "*",
    ".",
];

/// Number tokens: integers, signs, fractions, exponents, -0, past u64, inexact ones,
/// underflow, and past the largest double (which serde_json refuses).
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "-0.0",
    "1",
    "-1",
    "5",
    "1.5",
    "100",
    "100.0",
    "1e2",
    "1E+2",
    "1e-2",
    "-2.5e-3",
    "0.1",
    "0.10000000000000001",
    "9007199254740993",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "-9223372036854775809",
    "123456789012345678901234567890",
    "1e308",
    "1.7976931348623157e308",
    "1e-400",
    "4.9e-324",
    "1e400",
    "-1e400",
    "0e99999999999999999999",
];

fn doc() -> impl Strategy<Value = Doc> {
    let scalar = prop_oneof![
        prop::collection::vec(prop::sample::select(PIECES), 0..4)
            .prop_map(|p| Doc::Str(p.concat())),
        prop::sample::select(NUMBERS).prop_map(|n| Doc::Num(n.to_owned())),
        any::<i64>().prop_map(|n| Doc::Num(n.to_string())),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| Doc::Num(format!("{f:e}"))),
        prop::sample::select(&["true", "false", "null"][..]).prop_map(Doc::Lit),
    ];
    scalar.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Doc::Arr),
            prop::collection::vec(
                (prop::sample::select(KEYS).prop_map(str::to_owned), inner),
                0..6
            )
            .prop_map(Doc::Obj),
        ]
    })
}

fn event_doc() -> impl Strategy<Value = Doc> {
    prop::collection::vec(
        (prop::sample::select(KEYS).prop_map(str::to_owned), doc()),
        0..7,
    )
    .prop_map(Doc::Obj)
}

/// Whitespace between tokens, chosen by a cycling seed.
struct Spacing {
    seed: u64,
}

impl Spacing {
    fn next(&mut self) -> &'static str {
        self.seed = self
            .seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        match self.seed >> 60 {
            0 => " ",
            1 => "\n\t",
            2 => "\r\n  ",
            _ => "",
        }
    }
}

fn render(doc: &Doc, out: &mut String, space: &mut Spacing) {
    out.push_str(space.next());
    match doc {
        Doc::Str(s) => {
            out.push('"');
            out.push_str(s);
            out.push('"');
        }
        Doc::Num(n) => out.push_str(n),
        Doc::Lit(l) => out.push_str(l),
        Doc::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                render(item, out, space);
            }
            out.push_str(space.next());
            out.push(']');
        }
        Doc::Obj(members) => {
            out.push('{');
            for (i, (key, value)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(space.next());
                out.push('"');
                out.push_str(key);
                out.push('"');
                out.push_str(space.next());
                out.push(':');
                render(value, out, space);
            }
            out.push_str(space.next());
            out.push('}');
        }
    }
    out.push_str(space.next());
}

/// The leaves of a parsed event with their dotted paths, as EventBridge names them (keys
/// joined with dots; `None` above the top-level keys).
fn leaves(value: &Value, path: Option<&str>, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = path.map_or_else(|| key.clone(), |p| format!("{p}.{key}"));
                leaves(child, Some(&path), out);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| leaves(item, path, out)),
        leaf => out.push((path.unwrap_or_default().to_owned(), leaf.clone())),
    }
}

/// A pattern on `path` (written dotted) built from a value the event holds there.
fn condition(value: &Value, op: u8) -> Value {
    match (value, op % 8) {
        (Value::String(s), 0) => json!([s]),
        (Value::String(s), 1) => json!([{"prefix": s.chars().take(2).collect::<String>()}]),
        (Value::String(s), 2) => {
            let tail: String = s
                .chars()
                .rev()
                .take(2)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            json!([{"suffix": tail}])
        }
        (Value::String(s), 3) => json!([{"equals-ignore-case": s.to_uppercase()}]),
        (Value::String(s), 4) => json!([{"anything-but": [s]}]),
        (Value::String(s), 5) => {
            json!([{"wildcard": format!("{}*", s.chars().take(1).collect::<String>().replace(['*', '\\'], ""))}])
        }
        (Value::Number(n), 0 | 1) => json!([n]),
        (Value::Number(n), 2 | 3) => {
            let f = n.as_f64().unwrap_or(0.0).clamp(-1e300, 1e300);
            json!([{"numeric": [">=", f - 1.0, "<", f + 1.0]}])
        }
        (Value::Number(_), 4) => json!([{"anything-but": [5, 100]}]),
        (_, 6) => json!([{"exists": true}]),
        (_, 7) => json!([{"exists": false}]),
        (other, _) => json!([other]),
    }
}

fn pattern_for(path: &str, condition: Value, nested: bool) -> Value {
    if nested && !path.is_empty() && !path.split('.').any(str::is_empty) {
        path.rsplit('.')
            .fold(condition, |inner, key| json!({ key: inner }))
    } else {
        json!({ path: condition })
    }
}

/// Rules built from the event's own leaves (so that some match), plus fixed ones on
/// keys of the generated texts.
fn machine_for(event: Option<&Value>, picks: &[(u16, u8, bool)]) -> RuleMachine<usize> {
    let mut machine = RuleMachine::new();
    let mut found = Vec::new();
    if let Some(event) = event {
        leaves(event, None, &mut found);
    }
    let fixed = [
        json!({"a": [{"exists": true}]}),
        json!({"a.b": [{"numeric": [">", 0]}]}),
        json!({"": [{"exists": true}]}),
        json!({"detail": {"x": [{"anything-but": "x"}]}}),
        json!({"b": {"c": [1]}, "a": [{"prefix": "x"}]}),
    ];
    for (i, pattern) in fixed.iter().enumerate() {
        if let Ok(pattern) = Pattern::from_value(pattern) {
            machine.add_rule(1000 + i, &pattern);
        }
    }
    let mut combined = serde_json::Map::new();
    for (n, &(pick, op, nested)) in picks.iter().enumerate() {
        let Some((path, value)) = found.get(usize::from(pick) % found.len().max(1)) else {
            continue;
        };
        let pattern = pattern_for(path, condition(value, op), nested);
        if let Ok(p) = Pattern::from_value(&pattern) {
            machine.add_rule(n, &p);
        }
        if let Value::Object(map) = pattern {
            combined.extend(map);
        }
    }
    // Several fields in one rule: same-array-element and exists-false interplay.
    if let Ok(p) = Pattern::from_value(&Value::Object(combined)) {
        machine.add_rule(999, &p);
    }
    machine
}

fn has_duplicate_keys(doc: &Doc) -> bool {
    match doc {
        Doc::Obj(members) => {
            let mut decoded: Vec<String> = members
                .iter()
                .map(|(k, _)| {
                    serde_json::from_str::<String>(&format!("\"{k}\"")).unwrap_or_default()
                })
                .collect();
            decoded.sort();
            decoded.windows(2).any(|w| w[0] == w[1])
                || members.iter().any(|(_, v)| has_duplicate_keys(v))
        }
        Doc::Arr(items) => items.iter().any(has_duplicate_keys),
        _ => false,
    }
}

/// The reader and the reference agree on `bytes`, leaf for leaf and rule for rule.
/// Whether the text writes some double both exactly and inexactly: there the reference
/// (serde_json, which sees doubles, not tokens) marks every spelling inexact, while the
/// byte reader decides token by token (`Walker::number_token_leaf`).
fn writes_a_double_both_ways(bytes: &[u8]) -> bool {
    let (inexact, exact) =
        crate::numbers::number_spellings(std::str::from_utf8(bytes).unwrap_or_default());
    inexact.iter().any(|bits| exact.contains(bits))
}

fn check(machine: &RuleMachine<usize>, bytes: &[u8]) -> Result<(), TestCaseError> {
    if writes_a_double_both_ways(bytes) {
        return Ok(());
    }
    let index: &PathIndex = machine.path_index();
    let reference = flatten_bytes_serde(index, bytes);
    let scanned = scan(index, bytes);
    match (&reference, &scanned) {
        (Err(_), Some(flat)) => {
            return Err(TestCaseError::fail(format!(
                "reader accepted what serde_json refuses ({reference:?}): {}",
                flat.dump()
            )));
        }
        (Ok(expected), Some(flat)) => prop_assert_eq!(expected.dump(), flat.dump()),
        _ => {}
    }
    let new = machine
        .matching_rules_json(bytes)
        .map_err(|e| e.to_string());
    let old = machine
        .matching_rules_json_serde(bytes)
        .map_err(|e| e.to_string());
    prop_assert_eq!(&new, &old);
    if let Some(result) = machine.matching_rules_scan(bytes) {
        prop_assert_eq!(result.map_err(|e| e.to_string()), old);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn reader_agrees_with_serde_json(
        doc in event_doc(),
        seed in any::<u64>(),
        picks in prop::collection::vec((any::<u16>(), any::<u8>(), any::<bool>()), 0..6),
    ) {
        let mut text = String::new();
        render(&doc, &mut text, &mut Spacing { seed });
        let bytes = text.as_bytes();
        let parsed: Option<Value> = serde_json::from_slice(bytes).ok();
        let machine = machine_for(parsed.as_ref(), &picks);
        check(&machine, bytes)?;
        // The reader takes every valid text it is given here except numbers past the
        // largest double (refused by serde_json too where it reads them).
        if parsed.is_some() && !text.contains("e400") {
            prop_assert!(scan(machine.path_index(), bytes).is_some(), "reader gave up on {}", text);
        }
        // The parsed-Value path reads the same leaves when no key repeats and no number
        // is written inexactly (a Value keeps only the last repeated key, and only the
        // double of a number).
        if let Some(value) = &parsed
            && !has_duplicate_keys(&doc)
            && crate::numbers::inexact_numbers(&text).is_empty()
        {
            let from_value = machine.try_matching_rules(value).map_err(|e| e.to_string());
            let from_bytes = machine.matching_rules_json(bytes).map_err(|e| e.to_string());
            prop_assert_eq!(from_value, from_bytes);
        }
    }

    #[test]
    fn reader_refuses_what_serde_json_refuses(
        doc in event_doc(),
        seed in any::<u64>(),
        picks in prop::collection::vec((any::<u16>(), any::<u8>(), any::<bool>()), 0..4),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..6, prop::sample::select(
            &[b',', b'}', b']', b'{', b'[', b'"', b'\\', b':', 0x01, 0x1f, 0x7f, 0xc3, 0xa9, 0xff, 0xed, b'0', b'-', b'e', b'.', b'u', b'd', b' '][..]
        )), 1..3),
    ) {
        let mut text = String::new();
        render(&doc, &mut text, &mut Spacing { seed });
        let parsed: Option<Value> = serde_json::from_str(&text).ok();
        let machine = machine_for(parsed.as_ref(), &picks);
        let mut bytes = text.into_bytes();
        for (at, kind, byte) in edits {
            let at = at.index(bytes.len() + 1);
            match kind {
                0 => bytes.insert(at, byte),
                // Next to structure: before a closing bracket, after an opening one or a
                // colon (trailing commas, missing values).
                3 | 4 => {
                    let wanted: &[u8] = if kind == 3 { b"}]" } else { b"{[:," };
                    if let Some(n) = bytes[at.min(bytes.len())..].iter().position(|b| wanted.contains(b)) {
                        let at = at + n + usize::from(kind == 4);
                        bytes.insert(at, byte);
                    }
                }
                1 if at < bytes.len() => { bytes.remove(at); }
                2 if at < bytes.len() => bytes[at] = byte,
                5 => bytes.truncate(at),
                _ => {}
            }
        }
        check(&machine, &bytes)?;
    }

    #[test]
    fn escapes_and_surrogates_agree(
        key in prop::sample::select(&["a", "b", "x"][..]),
        body in prop::collection::vec(prop::sample::select(&[
            r"\ud800", r"\udc00", r"\ud800\udc00", r"\udbff\udfff", r"\ud800\u0041", r"\ud800x",
            r"\u12", r"\u12g4", r"\x", r"\'", "\u{7f}", "\t", "a", r"\u0000", r"\uFFFF", r"\uFEFF",
        ][..]), 0..4),
        as_key in any::<bool>(),
    ) {
        let body = body.concat();
        let text = if as_key {
            format!(r#"{{"{body}": 1, "{key}": "v"}}"#)
        } else {
            format!(r#"{{"{key}": "{body}", "c": ["{body}"]}}"#)
        };
        let machine = machine_for(None, &[]);
        check(&machine, text.as_bytes())?;
        let mut named = RuleMachine::new();
        if let Ok(p) = Pattern::from_value(&json!({ key: [{"exists": true}] })) {
            named.add_rule(0, &p);
        }
        check(&named, text.as_bytes())?;
    }

    #[test]
    fn dotted_keys_agree_with_nested_ones(
        steps in prop::collection::vec(prop::sample::select(&["a", "b", ""][..]), 1..24),
        cuts in prop::collection::vec(any::<bool>(), 24),
        other in prop::collection::vec(prop::sample::select(&["a", "b", ""][..]), 1..24),
    ) {
        // The event spells the rule's path with its steps grouped into keys at `cuts`.
        let mut keys: Vec<String> = vec![steps[0].to_owned()];
        for (i, step) in steps.iter().enumerate().skip(1) {
            if cuts[i] {
                keys.push((*step).to_owned());
            } else if let Some(last) = keys.last_mut() {
                last.push('.');
                last.push_str(step);
            }
        }
        let event = keys.iter().rev().fold(json!("hit"), |inner, key| json!({ key: inner }));
        let text = event.to_string();
        let mut machine = RuleMachine::new();
        for (n, path) in [steps.join("."), other.join(".")].iter().enumerate() {
            if let Ok(p) = Pattern::from_value(&json!({ path: ["hit"] })) {
                machine.add_rule(n, &p);
            }
        }
        check(&machine, text.as_bytes())?;
        prop_assert!(scan(machine.path_index(), text.as_bytes()).is_some());
    }

    #[test]
    fn nesting_limits_agree(depth in 100usize..140, named in any::<bool>(), arrays in any::<bool>()) {
        let (open, close) = if arrays { ("[", "]") } else { (r#"{"a":"#, "}") };
        let text = format!(r#"{{"a": {}1{}}}"#, open.repeat(depth), close.repeat(depth));
        let mut machine = RuleMachine::new();
        let path = if named { "a".to_owned() } else { "z".to_owned() };
        if let Ok(p) = Pattern::from_value(&json!({ path: [{"exists": true}] })) {
            machine.add_rule(0, &p);
        }
        check(&machine, text.as_bytes())?;
    }
}

#[test]
fn invalid_utf8_in_a_skipped_string_is_left_to_serde_json() {
    let mut machine = RuleMachine::new();
    if let Ok(p) = Pattern::from_value(&json!({"a": ["x"]})) {
        machine.add_rule(0, &p);
    }
    let bytes = b"{\"a\": \"x\", \"b\": \"\xff\"}";
    assert!(scan(machine.path_index(), bytes).is_none());
    let expected = machine
        .matching_rules_json_serde(bytes)
        .map_err(|e| e.to_string());
    let got = machine
        .matching_rules_json(bytes)
        .map_err(|e| e.to_string());
    assert_eq!(got, expected);
}

#[test]
fn errors_are_serde_json_s() {
    let mut machine = RuleMachine::new();
    if let Ok(p) = Pattern::from_value(&json!({"a": [{"exists": true}]})) {
        machine.add_rule(0, &p);
    }
    for bad in [
        &b"[1]"[..],
        b"{\"a\": 1} x",
        b"{\"a\": ",
        b"",
        b"{\"a\": 01}",
        b"{\"a\": 1e999}",
    ] {
        let new = machine.matching_rules_json(bad).map_err(|e| e.to_string());
        let old = machine
            .matching_rules_json_serde(bad)
            .map_err(|e| e.to_string());
        assert!(new.is_err(), "{bad:?}");
        assert_eq!(new, old);
    }
}

#[test]
fn malformed_values_are_refused_where_read_and_where_skipped() {
    let mut machine = RuleMachine::new();
    if let Ok(p) = Pattern::from_value(&json!({"named": [{"exists": true}]})) {
        machine.add_rule(0, &p);
    }
    let values = [
        r#"{"a":1,}"#,
        "[1,]",
        "{,}",
        "[,1]",
        r#"{"a"}"#,
        r#"{"a":}"#,
        r#"{"a" 1}"#,
        "[1 2]",
        r#"{"a":1]"#,
        "[1}",
        "01",
        "-01",
        "1.",
        ".5",
        "-",
        "1e",
        "1e+",
        "+1",
        "tru",
        "nul",
        "NaN",
        "Infinity",
        "'s'",
        "\"\u{1}\"",
        r#""\q""#,
        r#""\u12""#,
        r#""\ud800""#,
        r#""\udc00""#,
        r#""abc"#,
        "1e400",
    ];
    for value in values {
        for text in [
            format!(r#"{{"named": {value}}}"#),
            format!(r#"{{"skipped": [{{"deep": {value}}}], "named": 1}}"#),
        ] {
            let bytes = text.as_bytes();
            let reference = flatten_bytes_serde(machine.path_index(), bytes);
            // serde_json checks neither the range of a number nor the surrogates of a
            // string it skips; the reader refuses them anyway and leaves them to it.
            let lenient = text.starts_with(r#"{"skipped"#)
                && ["1e400", r#""\ud800""#, r#""\udc00""#].contains(&value);
            assert_eq!(reference.is_err(), !lenient, "serde_json on {text}");
            assert!(scan(machine.path_index(), bytes).is_none(), "{text}");
            assert_eq!(
                machine.matching_rules_json(bytes).is_err(),
                !lenient,
                "{text}"
            );
        }
    }
}

/// The raw text of the top-level `"event"` member of a corpus line (its spelling kept:
/// repeated keys, number forms, escapes).
fn raw_event(line: &str) -> Option<&str> {
    let bytes = line.as_bytes();
    let (mut depth, mut at, mut in_string, mut key_start) = (0usize, 0usize, false, None);
    while at < bytes.len() {
        let b = bytes[at];
        if in_string {
            match b {
                b'\\' => at += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => {
                    in_string = true;
                    if depth == 1 {
                        key_start = Some(at);
                    }
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth = depth.saturating_sub(1),
                b':' if depth == 1 && key_start.map(|s| &line[s..at]) == Some("\"event\"") => {
                    let start = at + 1;
                    let (mut inner, mut quoted, mut end) = (0usize, false, start);
                    while end < bytes.len() {
                        let c = bytes[end];
                        if quoted {
                            match c {
                                b'\\' => end += 1,
                                b'"' => quoted = false,
                                _ => {}
                            }
                        } else {
                            match c {
                                b'"' => quoted = true,
                                b'{' | b'[' => inner += 1,
                                b'}' | b']' if inner == 0 => return line.get(start..end),
                                b'}' | b']' => inner -= 1,
                                b',' if inner == 0 => return line.get(start..end),
                                _ => {}
                            }
                        }
                        end += 1;
                    }
                    return None;
                }
                _ => {}
            }
        }
        at += 1;
    }
    None
}

/// Every case of the conformance corpora (event-ruler's labelled ones and EventBridge's)
/// gets the same answer from the reader as from serde_json, on the event's own text: so
/// `eventrail pattern conformance`, which matches those texts, scores as before.
#[test]
fn conformance_corpora_read_alike() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance");
    let mut compared = 0;
    for file in [
        "ruler-patterns.jsonl",
        "ruler-heldout.jsonl",
        "eventbridge-patterns.jsonl",
    ] {
        let text = std::fs::read_to_string(format!("{dir}/{file}")).unwrap_or_default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(case) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let (Some(pattern), Some(event)) = (case.get("pattern"), raw_event(line)) else {
                continue;
            };
            let Ok(pattern) = Pattern::from_value(pattern) else {
                continue;
            };
            let mut machine = RuleMachine::new();
            machine.add_rule(0, &pattern);
            let new = machine
                .matching_rules_json(event.as_bytes())
                .map_err(|e| e.to_string());
            let old = machine
                .matching_rules_json_serde(event.as_bytes())
                .map_err(|e| e.to_string());
            assert_eq!(new, old, "{file}: {line}");
            compared += 1;
        }
    }
    assert!(compared > 4000, "{compared} cases compared");
}

#[test]
fn integer_tokens_read_as_the_parser_reads_them() {
    for token in [
        "0",
        "-0",
        "7",
        "-12",
        "1234",
        "999999999999999",
        "-999999999999999",
        "9007199254740993",
        "12345678901234567890",
        "1.5",
        "-2e3",
    ] {
        let expected: f64 = token.parse().unwrap();
        let read = super::number_value(token.as_bytes()).ok().unwrap();
        assert_eq!(read.to_bits(), expected.to_bits(), "{token}");
    }
}

/// Faults after every field the rules name (so a reader that stopped there would miss
/// them) are errors, serde_json's, on plain inputs (compact ASCII without escapes, read
/// with the quote-only string scan) and on the others.
#[test]
fn faults_after_the_named_fields_are_errors() {
    let mut machine = RuleMachine::new();
    if let Ok(p) = Pattern::from_value(&json!({"detail": {"f": ["v1"]}})) {
        machine.add_rule(0, &p);
    }
    let good = r#"{"detail":{"f":"v1","g":"zzz"},"id":"ev-1","source":"s"}"#;
    assert!(super::is_plain(good.as_bytes()));
    assert_eq!(
        machine.matching_rules_json(good.as_bytes()).ok(),
        Some(vec![&0])
    );
    let faults: [&[u8]; 17] = [
        br#"{"detail":{"f":"v1","g":"zzz"},"id":"ev-1","source":"s""#,
        br#"{"detail":{"f":"v1","g":"zzz"},"id":"ev-1","source":"s"#,
        br#"{"detail":{"f":"v1","g":"zzz"},"id":"ev-1","source":"#,
        br#"{"detail":{"f":"v1","g":"zzz"},"id":"ev-1","source":"s"}x"#,
        br#"{"detail":{"f":"v1","g":"zzz"},"id":"ev-1","source":"s"}}"#,
        br#"{"detail":{"f":"v1","g":"zzz"},"id":"ev-1","source":"s",}"#,
        br#"{"detail":{"f":"v1","g":"zzz"},"id":"ev-1" "source":"s"}"#,
        br#"{"detail":{"f":"v1","g":"zzz"},"id":"ev-1","source":s}"#,
        br#"{"detail":{"f":"v1","g":"zzz"},"id":01,"source":"s"}"#,
        br#"{"detail":{"f":"v1","g":"zzz"},"id":12.,"source":"s"}"#,
        br#"{"detail":{"f":"v1","g":"zzz"},"id":12x,"source":"s"}"#,
        br#"{"detail":{"f":"v1","g":"zzz"},"id":12e,"source":"s"}"#,
        br#"{"detail":{"f":"v1","g":"z\qz"},"id":"ev-1","source":"s"}"#,
        br#"{"detail":{"f":"v1","g":"z\u12g4z"},"id":"ev-1","source":"s"}"#,
        b"{\"detail\":{\"f\":\"v1\",\"g\":\"z\x01z\"},\"id\":\"ev-1\",\"source\":\"s\"}",
        br#"{"detail":{"f":"v1","g":["zzz"},"id":"ev-1","source":"s"}"#,
        br#"{"detail":{"f":"v1","g":{"h":1e}},"id":"ev-1","source":"s"}"#,
    ];
    for bad in faults {
        let new = machine.matching_rules_json(bad).map_err(|e| e.to_string());
        let old = machine
            .matching_rules_json_serde(bad)
            .map_err(|e| e.to_string());
        let text = String::from_utf8_lossy(bad);
        assert!(old.is_err(), "serde_json accepts {text}");
        assert!(new.is_err(), "{text}");
        assert_eq!(new, old, "{text}");
        assert!(scan(machine.path_index(), bad).is_none(), "{text}");
    }
    // Numbers skipped in the plain members' loop, of every length and form.
    for number in [
        "7",
        "123456789012345",
        "1234567890123456",
        "12.5",
        "1e3",
        "-3",
        "0",
    ] {
        let text = format!(r#"{{"detail":{{"f":"v1","n":{number}}},"id":{number},"s":"x"}}"#);
        let bytes = text.as_bytes();
        assert!(super::is_plain(bytes));
        let expected = flatten_bytes_serde(machine.path_index(), bytes).map(|f| f.dump());
        let got = scan(machine.path_index(), bytes).map(|f| f.dump());
        assert_eq!(got, expected.ok(), "{text}");
        assert_eq!(
            machine.matching_rules_json(bytes).ok(),
            Some(vec![&0]),
            "{text}"
        );
    }
    // Invalid UTF-8 in a skipped key or string: the reader gives up and the event reads
    // as serde_json reads it (it lets a skipped string's bytes through), as before.
    for odd in [
        &b"{\"detail\":{\"f\":\"v1\",\"g\":\"zzz\"},\"id\":\"ev-1\",\"so\xffurce\":\"s\"}"[..],
        b"{\"detail\":{\"f\":\"v1\",\"g\":\"zzz\"},\"id\":\"ev-1\",\"source\":\"s\xc3\"}",
    ] {
        let new = machine.matching_rules_json(odd).map_err(|e| e.to_string());
        let old = machine
            .matching_rules_json_serde(odd)
            .map_err(|e| e.to_string());
        assert_eq!(new, old, "{}", String::from_utf8_lossy(odd));
        assert!(scan(machine.path_index(), odd).is_none());
    }
}

#[test]
fn plain_inputs_are_told_apart() {
    use super::is_plain;
    assert!(is_plain(br#"{"a":"b c","d":[1,true,null]}"#));
    assert!(is_plain(b""));
    for byte in [b'\\', b'\n', b'\t', b'\r', 0x00, 0x1f, 0x80, 0xc3, 0xff] {
        for at in [0, 7, 8, 15, 16, 31, 32, 40] {
            let mut text = vec![b'a'; 41];
            text[at] = byte;
            assert!(!is_plain(&text), "{byte:#x} at {at}");
        }
    }
    assert!(is_plain(&[0x7f, 0x20, b'~']));
}
