//! Behaviour of the operators and of the many-rules machine, beyond the shared corpus.

use eventrail_pattern::{Pattern, RuleMachine};
use serde_json::{Value, json};

fn matches(pattern: Value, event: Value) -> bool {
    Pattern::from_value(&pattern).unwrap().matches(&event)
}

#[test]
fn fields_inside_one_array_must_come_from_the_same_element() {
    let pattern = json!({"items": {"sku": ["A"], "quantity": [2]}});
    assert!(!matches(
        pattern.clone(),
        json!({"items": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 2}]})
    ));
    assert!(matches(
        pattern,
        json!({"items": [{"sku": "B", "quantity": 1}, {"sku": "A", "quantity": 2}]})
    ));
}

#[test]
fn array_values_match_when_any_element_matches() {
    assert!(matches(json!({"tags": ["b"]}), json!({"tags": ["a", "b"]})));
    assert!(matches(
        json!({"n": [{"numeric": [">", 5]}]}),
        json!({"n": [1, 9]})
    ));
    assert!(!matches(
        json!({"tags": ["c"]}),
        json!({"tags": ["a", "b"]})
    ));
}

#[test]
fn anything_but_never_matches_a_missing_field() {
    assert!(!matches(
        json!({"state": [{"anything-but": "x"}]}),
        json!({"other": 1})
    ));
    assert!(matches(
        json!({"state": [{"anything-but": "x"}]}),
        json!({"state": null})
    ));
    assert!(matches(
        json!({"state": [{"anything-but": "x"}]}),
        json!({"state": 3})
    ));
}

#[test]
fn exists_looks_at_leaves_only() {
    assert!(!matches(
        json!({"a": [{"exists": true}]}),
        json!({"a": {"b": 1}})
    ));
    assert!(matches(
        json!({"a": [{"exists": false}]}),
        json!({"a": {"b": 1}})
    ));
    assert!(matches(
        json!({"a": [{"exists": true}]}),
        json!({"a": null})
    ));
    assert!(!matches(json!({"a": [{"exists": true}]}), json!({"a": []})));
}

#[test]
fn numbers_compare_by_value_and_not_with_strings() {
    assert!(matches(json!({"n": [300]}), json!({"n": 300.0})));
    assert!(!matches(json!({"n": [300]}), json!({"n": "300"})));
    assert!(!matches(json!({"n": ["300"]}), json!({"n": 300})));
    assert!(matches(
        json!({"n": [{"numeric": ["=", 0]}]}),
        json!({"n": -0.0})
    ));
    assert!(matches(
        json!({"n": [{"numeric": [">=", 1, "<", 2]}]}),
        json!({"n": 1})
    ));
    assert!(!matches(
        json!({"n": [{"numeric": [">=", 1, "<", 2]}]}),
        json!({"n": 2})
    ));
}

#[test]
fn case_insensitive_operators() {
    assert!(matches(
        json!({"s": [{"equals-ignore-case": "HeLLo"}]}),
        json!({"s": "hello"})
    ));
    assert!(matches(
        json!({"s": [{"prefix": {"equals-ignore-case": "EVENTB"}}]}),
        json!({"s": "eventbridge"})
    ));
    assert!(matches(
        json!({"s": [{"suffix": {"equals-ignore-case": ".PNG"}}]}),
        json!({"s": "a.png"})
    ));
    assert!(!matches(
        json!({"s": [{"anything-but": {"equals-ignore-case": ["A", "b"]}}]}),
        json!({"s": "B"})
    ));
}

#[test]
fn fraud_rule_from_the_reference_app() {
    let fraud = json!({
        "source": ["eventrail.orders"], "detail-type": ["OrderPlaced"],
        "$or": [
            {"detail": {"data": {"order": {"total_cents": [{"numeric": [">", 100000]}]}}}},
            {"detail": {"data": {"order": {"shipping_address": {"country": [{"anything-but": ["US", "CA", "GB", "DE", "FR", "NL"]}]}}}}}
        ]
    });
    let order = |total: u64, country: &str| {
        json!({"source": "eventrail.orders", "detail-type": "OrderPlaced",
               "detail": {"data": {"order": {"total_cents": total, "shipping_address": {"country": country}}}}})
    };
    assert!(!matches(fraud.clone(), order(3399, "US")));
    assert!(matches(fraud.clone(), order(250_000, "US")));
    assert!(matches(fraud.clone(), order(3399, "BR")));
    assert!(matches(fraud, order(250_000, "BR")));
}

#[test]
fn machine_returns_matching_rule_ids_in_insertion_order() {
    let mut machine = RuleMachine::new();
    let rules = [
        ("analytics", json!({"source": [{"prefix": "eventrail."}]})),
        (
            "inventory",
            json!({"source": ["eventrail.orders"], "detail-type": ["OrderPlaced"]}),
        ),
        (
            "payments",
            json!({"source": ["eventrail.inventory"], "detail-type": ["StockReserved"]}),
        ),
        (
            "twin",
            json!({"detail-type": ["OrderPlaced"], "source": ["eventrail.orders"]}),
        ),
    ];
    for (name, pattern) in &rules {
        machine.add_rule(*name, &Pattern::from_value(pattern).unwrap());
    }
    let event = json!({"source": "eventrail.orders", "detail-type": "OrderPlaced"});
    assert_eq!(
        machine.matching_rules(&event),
        vec![&"analytics", &"inventory", &"twin"]
    );
    let bytes = serde_json::to_vec(&event).unwrap();
    assert_eq!(
        machine.matching_rules_json(&bytes).unwrap(),
        vec![&"analytics", &"inventory", &"twin"]
    );
    assert!(
        machine
            .matching_rules(&json!({"source": "other"}))
            .is_empty()
    );
    assert!(machine.matching_rules_json(b"not json").is_err());
}

#[test]
fn identical_conditions_share_states() {
    let mut machine = RuleMachine::new();
    for i in 0..100 {
        let pattern = json!({"source": ["eventrail.orders"], "detail-type": [format!("T{i}")]});
        machine.add_rule(i, &Pattern::from_value(&pattern).unwrap());
    }
    // One state after "detail-type" per rule, then one per rule for "source" since the
    // prefix differs; the start state is shared.
    assert!(machine.state_count() <= 201, "{}", machine.state_count());
    let event = json!({"source": "eventrail.orders", "detail-type": "T42"});
    assert_eq!(machine.matching_rules(&event), vec![&42]);
}

#[test]
fn invalid_patterns_are_rejected_with_their_path() {
    let cases = [
        (
            json!({"detail": {"total": [{"numeric": [">"]}]}}),
            "detail.total: numeric expects an operator followed by a number",
        ),
        (json!({"a": {}}), "a: an empty object"),
        (
            json!({"a": [{"prefix": "x", "suffix": "y"}]}),
            "a: a match expression must be an object with exactly one operator",
        ),
        (
            json!({"a": [{"wildcard": "a**"}]}),
            "a: wildcard must not contain consecutive",
        ),
        (json!({"a": [{"cidr": "10.0.0.0/40"}]}), "a: cidr"),
        (json!({"a": [[1]]}), "a: match values must be"),
        (json!({"$or": [{"a": ["x"]}]}), "$or: $or expects"),
    ];
    for (pattern, expected) in cases {
        let error = Pattern::from_value(&pattern).unwrap_err().to_string();
        assert!(error.starts_with(expected), "{pattern}: {error}");
    }
    assert!(
        Pattern::parse("{")
            .unwrap_err()
            .to_string()
            .starts_with("pattern is not valid JSON")
    );
}

/// A field named both outside an `$or` and inside one of its branches: the branch's list
/// replaces the outer one in that alternative (EventBridge's rule overriding, as in
/// event-ruler), instead of both having to hold.
#[test]
fn an_or_branch_overrides_the_same_field_outside_it() {
    let pattern =
        Pattern::parse(r#"{"k": ["outer"], "$or": [{"k": ["inner"]}, {"other": ["x"]}]}"#).unwrap();
    let event = |text: &str| serde_json::from_str::<Value>(text).unwrap();
    assert!(pattern.matches(&event(r#"{"k": "inner"}"#)));
    assert!(pattern.matches(&event(r#"{"k": "outer", "other": "x"}"#)));
    assert!(!pattern.matches(&event(r#"{"k": "outer"}"#)));
}

/// Empty keys are named as event-ruler names them: an event's empty key below the top is
/// seen only when a pattern path has an empty step that is not the last.
#[test]
fn empty_keys_follow_event_ruler() {
    let event = |text: &str| serde_json::from_str::<Value>(text).unwrap();
    let nested_last = Pattern::parse(r#"{"a": {"": ["x"]}}"#).unwrap();
    assert!(!nested_last.matches(&event(r#"{"a": {"": "x"}}"#)));
    assert!(nested_last.matches(&event(r#"{"a.": "x"}"#)));
    let top = Pattern::parse(r#"{"": ["x"]}"#).unwrap();
    assert!(top.matches(&event(r#"{"": "x"}"#)));
    let inner = Pattern::parse(r#"{"b": {"": {"c": ["x"]}}}"#).unwrap();
    assert!(inner.matches(&event(r#"{"b": {"": {"c": "x"}}}"#)));
}

/// event-ruler v2.0.1 compiles `equals-ignore-case` (and its prefix, suffix and
/// anything-but forms) one UTF-16 code unit at a time: a character beyond the Basic
/// Multilingual Plane stands for `??`, and matches the event's `??`, not itself.
#[test]
fn ignore_case_beyond_the_bmp_stands_for_question_marks() {
    let cases = [
        (
            r#"{"a":[{"equals-ignore-case":"😀"}]}"#,
            r#"{"a":"??"}"#,
            true,
        ),
        (
            r#"{"a":[{"equals-ignore-case":"😀"}]}"#,
            r#"{"a":"😀"}"#,
            false,
        ),
        (
            r#"{"a":[{"equals-ignore-case":"😀x"}]}"#,
            r#"{"a":"??X"}"#,
            true,
        ),
        (
            r#"{"a":[{"prefix":{"equals-ignore-case":"𝒜"}}]}"#,
            r#"{"a":"??zz"}"#,
            true,
        ),
        (
            r#"{"a":[{"prefix":{"equals-ignore-case":"𝒜"}}]}"#,
            r#"{"a":"𝒜zz"}"#,
            false,
        ),
        (
            r#"{"a":[{"suffix":{"equals-ignore-case":"x𝒜"}}]}"#,
            r#"{"a":"zzX??"}"#,
            true,
        ),
        (
            r#"{"a":[{"anything-but":{"equals-ignore-case":"😀"}}]}"#,
            r#"{"a":"??"}"#,
            false,
        ),
        (
            r#"{"a":[{"anything-but":{"equals-ignore-case":"😀"}}]}"#,
            r#"{"a":"😀"}"#,
            true,
        ),
        // Inside the Basic Multilingual Plane nothing changes.
        (
            r#"{"a":[{"equals-ignore-case":"é"}]}"#,
            r#"{"a":"É"}"#,
            true,
        ),
        // A character beyond it, outside equals-ignore-case, is itself.
        (r#"{"a":["😀"]}"#, r#"{"a":"😀"}"#, true),
    ];
    for (pattern, event, expected) in cases {
        let compiled = Pattern::parse(pattern).unwrap();
        assert_eq!(
            compiled.matches_json(event.as_bytes()).unwrap(),
            expected,
            "{pattern} on {event}"
        );
        let value: serde_json::Value = serde_json::from_str(event).unwrap();
        assert_eq!(
            compiled.matches(&value),
            expected,
            "{pattern} on parsed {event}"
        );
    }
}

/// Each number token of an event is exact or not on its own: two spellings of one
/// double in one array are two verdicts (the first case of issue 24).
#[test]
fn event_numbers_are_exact_token_by_token() {
    let pattern = Pattern::parse(r#"{"detail":[-5000000000]}"#).unwrap();
    for (event, expected) in [
        (
            r#"{"detail": [-4999999999.9999999990, -5000000000000e-3]}"#,
            true,
        ),
        (r#"{"detail": [-5e9, -4999999999.9999999990]}"#, true),
        (r#"{"detail": [-4999999999.9999999990, -5e9]}"#, true),
        (r#"{"detail": [-4999999999.9999999990]}"#, false),
        (r#"{"detail": -5000000000000e-3}"#, true),
        // Escapes send the event through the other reader path; same verdicts.
        (
            r#"{"x": "\u00e9", "detail": [-5e9, -4999999999.9999999990]}"#,
            true,
        ),
    ] {
        assert_eq!(
            pattern.matches_json(event.as_bytes()).unwrap(),
            expected,
            "{event}"
        );
    }
    // A parsed value keeps a big integer whole: not a double, so compared by its text,
    // as the byte reader compares `18446744073709551615`.
    let big = Pattern::parse(r#"{"n":[{"numeric":[">",0]}]}"#).unwrap();
    let text = r#"{"n": 18446744073709551615}"#;
    let value: serde_json::Value = serde_json::from_str(text).unwrap();
    assert!(!big.matches_json(text.as_bytes()).unwrap());
    assert!(!big.matches(&value));
    assert!(big.matches(&serde_json::json!({"n": 9007199254740992u64})));
}

/// Verdicts of event-ruler v2.0.1 (the oracle of crates/pattern/oracle) on the edge kinds
/// of issue 24 other than numbers and case: an empty array under `exists`, dotted keys in
/// the event, `$or` with `cidr`. Checked through the byte reader and a parsed value.
#[test]
fn empty_arrays_dotted_keys_and_or_with_cidr_as_ruler_decides() {
    let cases = [
        // An empty array is a missing field: `exists: false` holds, `exists: true` not.
        (
            r#"{"a":{"b":[{"exists":false}]}}"#,
            r#"{"a":{"b":[]}}"#,
            true,
        ),
        (
            r#"{"a":{"b":[{"exists":true}]}}"#,
            r#"{"a":{"b":[]}}"#,
            false,
        ),
        (
            r#"{"a":{"b":[{"exists":false}]}}"#,
            r#"{"a":{"b":[[]]}}"#,
            true,
        ),
        // So is an empty object.
        (
            r#"{"a":{"b":[{"exists":true}]}}"#,
            r#"{"a":{"b":{}}}"#,
            false,
        ),
        (
            r#"{"a":{"b":[{"exists":false}]}}"#,
            r#"{"a":{"b":{}}}"#,
            true,
        ),
        // A dotted key in the event is the nested path, and either can match.
        (r#"{"a":{"b":["x"]}}"#, r#"{"a.b":"x"}"#, true),
        (r#"{"a.b":["x"]}"#, r#"{"a":{"b":"x"}}"#, true),
        (r#"{"a":{"b":["x"]}}"#, r#"{"a":{"b":"y"},"a.b":"x"}"#, true),
        (r#"{"a":{"b":[{"exists":false}]}}"#, r#"{"a.b":"x"}"#, false),
        // `$or` with `cidr`: each branch on its own, addresses read as Java reads them.
        (
            r#"{"$or":[{"ip":[{"cidr":"10.0.0.0/24"}]},{"ip":["10.0.1.5"]}]}"#,
            r#"{"ip":"10.0.1.5"}"#,
            true,
        ),
        (
            r#"{"$or":[{"ip":[{"cidr":"10.0.0.0/24"}]},{"x":["y"]}]}"#,
            r#"{"ip":"010.0.0.5"}"#,
            true,
        ),
        (
            r#"{"$or":[{"ip":[{"cidr":"10.0.0.0/24"}]},{"ip":[{"cidr":"fe80::/16"}]}]}"#,
            r#"{"ip":"FE80::1"}"#,
            true,
        ),
        (
            r#"{"$or":[{"ip":[{"cidr":"10.0.0.0/24"}]},{"ip":[{"anything-but":"10.0.0.5"}]}]}"#,
            r#"{"ip":"10.0.0.5"}"#,
            true,
        ),
        (
            r#"{"$or":[{"ip":[{"cidr":"10.0.0.0/24"}]},{"ip":[{"exists":false}]}]}"#,
            r#"{"ip":["x","10.0.0.9"]}"#,
            true,
        ),
    ];
    for (pattern, event, expected) in cases {
        let compiled = Pattern::parse(pattern).unwrap();
        assert_eq!(
            compiled.matches_json(event.as_bytes()).unwrap(),
            expected,
            "{pattern} on {event}"
        );
        let value: Value = serde_json::from_str(event).unwrap();
        assert_eq!(
            compiled.matches(&value),
            expected,
            "{pattern} on parsed {event}"
        );
    }
}
