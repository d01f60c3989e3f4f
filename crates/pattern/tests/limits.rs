//! Adversarial patterns and events: every case ends with an answer or a typed error that
//! names the limit, never a panic, a stack overflow or unbounded work. Work is bounded by
//! giving machines a step limit and asserting the match still completes under it (a
//! count, not a timing).

use eventrail_pattern::{DEFAULT_STEP_LIMIT, EventError, Pattern, PatternError, RuleMachine};
use proptest::prelude::*;
use serde_json::{Value, json};

fn machine(pattern: &Value, step_limit: u64) -> RuleMachine<&'static str> {
    let mut machine = RuleMachine::new();
    machine.set_step_limit(step_limit);
    let pattern = Pattern::from_value(pattern).unwrap();
    machine.add_rule("rule", &pattern);
    machine
}

/// `{"<key>": [{"<field>": 0}, {"<field>": 1}, ...]}` entries.
fn objects(field: &str, n: usize) -> Value {
    Value::Array((0..n).map(|i| json!({ field: i })).collect())
}

#[test]
fn fields_in_two_large_arrays_cost_their_sum_not_their_product() {
    // Two 3,000-element arrays: enumerating element pairs is 9,000,000 states.
    let event = json!({"a": objects("x", 3000), "b": objects("y", 3000)});
    let bytes = event.to_string();
    for pattern in [
        json!({"a": {"x": [2999]}, "b": {"y": [2999]}}),
        json!({"a": {"x": [{"numeric": [">=", 0]}]}, "b": {"y": [{"exists": true}]}}),
        json!({"a": {"x": [{"anything-but": -1}]}, "b": {"y": [{"anything-but": -1}]}}),
    ] {
        // Each array's leaves are tried a bounded number of times: well under 9M steps.
        let machine = machine(&pattern, 50_000);
        assert_eq!(machine.try_matching_rules(&event).unwrap(), vec![&"rule"]);
        assert_eq!(
            machine.matching_rules_json(bytes.as_bytes()).unwrap(),
            vec![&"rule"]
        );
    }
    let miss = machine(&json!({"a": {"x": [2999]}, "b": {"y": [3000]}}), 50_000);
    assert!(miss.try_matching_rules(&event).unwrap().is_empty());
}

#[test]
fn fields_of_one_element_still_must_come_from_the_same_element() {
    let event = json!({
        "a": [{"x": 1, "y": 2}, {"x": 2, "y": 1}],
        "b": objects("z", 1000),
    });
    let same = machine(
        &json!({"a": {"x": [1], "y": [2]}, "b": {"z": [999]}}),
        50_000,
    );
    assert_eq!(same.try_matching_rules(&event).unwrap(), vec![&"rule"]);
    let crossed = machine(
        &json!({"a": {"x": [1], "y": [1]}, "b": {"z": [999]}}),
        50_000,
    );
    assert!(crossed.try_matching_rules(&event).unwrap().is_empty());
}

/// One rule's fields interleaved across two arrays at the same path (a dotted key names
/// the same path as nesting): the element chosen in each array must be remembered, so
/// the combinations are real; the step limit bounds them.
#[test]
fn interleaved_arrays_at_one_path_stop_at_the_step_limit() {
    let n = 1000;
    let a: Vec<Value> = (0..n).map(|i| json!({"a": i, "c": i})).collect();
    let b: Vec<Value> = (0..n).map(|i| json!({"b": i, "d": i})).collect();
    let event = json!({"x": {"y": a}, "x.y": b});
    let pattern = json!({"x": {"y": {
        "a": [{"exists": true}], "b": [{"exists": true}],
        "c": [{"exists": true}], "d": [{"exists": true}]
    }}});
    let limited = machine(&pattern, 100_000);
    let error = limited.try_matching_rules(&event).unwrap_err();
    assert!(matches!(error, EventError::TooComplex { limit: 100_000 }));
    let message = error.to_string();
    assert!(message.contains("100000 steps"), "{message}");
    assert!(message.contains("set_step_limit"), "{message}");
    assert!(limited.matching_rules(&event).is_empty());
    assert!(matches!(
        limited.matching_rules_json(event.to_string().as_bytes()),
        Err(EventError::TooComplex { .. })
    ));
    // Small enough, the same shape matches (and agrees with the reference evaluator).
    let small = json!({"x": {"y": [{"a": 1, "c": 1}]}, "x.y": [{"b": 1, "d": 1}]});
    let p = Pattern::from_value(&pattern).unwrap();
    assert!(p.try_matches(&small).unwrap());
    assert!(p.matches_reference(&small));
}

#[test]
fn repeated_keys_in_raw_events_are_bounded_too() {
    // JSON text may repeat a key; both arrays are read at the same path.
    let n = 1000;
    let a: Vec<String> = (0..n).map(|i| format!(r#"{{"a":{i},"c":{i}}}"#)).collect();
    let b: Vec<String> = (0..n).map(|i| format!(r#"{{"b":{i},"d":{i}}}"#)).collect();
    let text = format!(r#"{{"x":[{}],"x":[{}]}}"#, a.join(","), b.join(","));
    let pattern = json!({"x": {"a": [0], "b": [{"exists": true}], "c": [{"exists": true}], "d": [{"exists": true}]}});
    let limited = machine(&pattern, 100_000);
    // Only a's element 0 is chosen (exact value), so this is linear and matches.
    assert_eq!(
        limited.matching_rules_json(text.as_bytes()).unwrap(),
        vec![&"rule"]
    );
    let all = json!({"x": {"a": [{"exists": true}], "b": [{"exists": true}], "c": [{"exists": true}], "d": [{"exists": true}]}});
    assert!(matches!(
        machine(&all, 100_000).matching_rules_json(text.as_bytes()),
        Err(EventError::TooComplex { .. })
    ));
}

fn nested_objects(depth: usize, leaf: Value) -> Value {
    (0..depth).fold(leaf, |inner, _| json!({ "a": inner }))
}

fn nested_arrays(depth: usize) -> Value {
    (0..depth).fold(json!(1), |inner, _| Value::Array(vec![inner]))
}

#[test]
fn deep_events_are_errors() {
    let pattern = Pattern::parse(r#"{"a": [1]}"#).unwrap();
    // A parsed value: arrays nested 500 deep at a path the rule reads.
    let deep = json!({ "a": nested_arrays(500) });
    let error = pattern.try_matches(&deep).unwrap_err();
    assert!(matches!(error, EventError::TooDeep { limit: 128 }));
    assert!(error.to_string().contains("128 levels"));
    assert!(!pattern.matches(&deep));
    // Nested within the limit, it matches.
    assert!(
        pattern
            .try_matches(&json!({ "a": nested_arrays(100) }))
            .unwrap()
    );
    // Raw bytes: the JSON reader stops at 128 levels.
    let text = format!("{{\"a\": {}1{}}}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(matches!(
        pattern.matches_json(text.as_bytes()),
        Err(EventError::Json(_))
    ));
    // Deep objects the rule never names are skipped, not read.
    let unrelated = json!({"a": 1, "b": nested_objects(500, json!(1))});
    assert!(pattern.try_matches(&unrelated).unwrap());
}

#[test]
fn deep_patterns_are_errors() {
    let shallow = nested_objects(50, json!([1]));
    assert!(Pattern::from_value(&shallow).is_ok());
    let deep = nested_objects(150, json!([1]));
    let error = Pattern::from_value(&deep).unwrap_err();
    assert!(matches!(error, PatternError::Invalid { .. }));
    assert!(error.to_string().contains("100 levels"), "{error}");
    assert!(matches!(
        Pattern::parse(&deep.to_string()),
        Err(PatternError::Json(_))
    ));
    // `$or` nested in `$or`: each branch is a level.
    let mut or = json!({"a": [1]});
    for _ in 0..150 {
        or = json!({"$or": [or, {"b": [2]}]});
    }
    let error = Pattern::from_value(&or).unwrap_err();
    assert!(error.to_string().contains("rule is too complex"), "{error}");
}

#[test]
fn huge_arrays_are_linear() {
    let n = 100_000;
    let event = json!({"detail": {"ids": (0..n).collect::<Vec<_>>(), "tags": (0..n).map(|i| format!("t{i}")).collect::<Vec<_>>()}});
    let pattern =
        json!({"detail": {"ids": [{"numeric": [">=", 99_999]}], "tags": [{"prefix": "t9999"}]}});
    // Each leaf once, plus a few states: far below n * n.
    let machine = machine(&pattern, 3 * n);
    assert_eq!(machine.try_matching_rules(&event).unwrap(), vec![&"rule"]);
    assert_eq!(
        machine
            .matching_rules_json(event.to_string().as_bytes())
            .unwrap(),
        vec![&"rule"]
    );
    // A huge match list in the pattern.
    let values: Vec<Value> = (0..100_000).map(|i| json!(format!("v{i}"))).collect();
    let big = Pattern::from_value(&json!({ "k": values })).unwrap();
    assert!(big.matches(&json!({"k": "v99999"})));
    assert!(!big.matches(&json!({"k": "v100000"})));
}

#[test]
fn many_star_wildcards_are_refused_or_linear() {
    let six = Pattern::parse(r#"{"k": [{"wildcard": "a*a*a*a*a*a*b"}]}"#).unwrap_err();
    assert!(six.to_string().contains("at most 5 '*'"), "{six}");
    let five = Pattern::parse(r#"{"k": [{"wildcard": "*a*a*a*a*b"}]}"#).unwrap();
    let value = "a".repeat(200_000);
    assert!(!five.matches(&json!({ "k": value })));
    let hit = format!("{value}b");
    assert!(five.matches(&json!({ "k": hit })));
    let but =
        Pattern::parse(r#"{"k": [{"anything-but": {"wildcard": ["*a*a*a*a*b", "x*"]}}]}"#).unwrap();
    assert!(but.matches(&json!({ "k": value })));
}

#[test]
fn anything_but_with_100k_values() {
    let strings: Vec<String> = (0..100_000).map(|i| format!("s{i}")).collect();
    let p = Pattern::from_value(&json!({"k": [{"anything-but": strings}]})).unwrap();
    assert!(!p.matches(&json!({"k": "s0"})));
    assert!(!p.matches(&json!({"k": "s99999"})));
    assert!(p.matches(&json!({"k": "s100000"})));
    // Many leaves against the big list: one lookup each.
    let leaves: Vec<String> = (0..10_000).map(|i| format!("s{i}")).collect();
    assert!(!p.matches(&json!({ "k": leaves })));
    let numbers: Vec<f64> = (0..100_000).map(|i| f64::from(i) / 10.0).collect();
    let text = json!({"k": [{"anything-but": numbers}]}).to_string();
    let p = Pattern::parse(&text).unwrap();
    assert!(!p.matches(&json!({"k": 9999.9})));
    assert!(!p.matches(&json!({"k": 0})));
    assert!(p.matches(&json!({"k": 10000.0})));
    let event =
        json!({ "k": (0..20_000).map(|i| f64::from(i) / 10.0 + 20_000.0).collect::<Vec<_>>() });
    assert!(p.matches_json(event.to_string().as_bytes()).unwrap());
}

#[test]
fn anything_but_with_100k_prefixes_and_suffixes() {
    let texts: Vec<String> = (0..100_000).map(|i| format!("p{i}-")).collect();
    let p = Pattern::from_value(&json!({"k": [{"anything-but": {"prefix": texts}}]})).unwrap();
    assert!(!p.matches(&json!({"k": "p99999-x"})));
    assert!(p.matches(&json!({"k": "p100000-x"})));
    let leaves: Vec<String> = (0..10_000).map(|i| format!("p{i}-tail")).collect();
    assert!(!p.matches(&json!({ "k": leaves })));
    let texts: Vec<String> = (0..100_000).map(|i| format!("-s{i}")).collect();
    let p = Pattern::from_value(&json!({"k": [{"anything-but": {"suffix": texts}}]})).unwrap();
    assert!(!p.matches(&json!({"k": "x-s99999"})));
    assert!(p.matches(&json!({"k": "x-s100000"})));
    // A multi-byte value: lengths that cut a character are skipped, not a panic.
    let p =
        Pattern::from_value(&json!({"k": [{"anything-but": {"prefix": ["é", "ab"]}}]})).unwrap();
    assert!(p.matches(&json!({"k": "aé"})));
    assert!(!p.matches(&json!({"k": "éa"})));
}

#[test]
fn or_expansion_is_capped() {
    // Eleven `$or`s of two branches, ANDed: 2^11 = 2048 alternatives.
    let mut pattern = serde_json::Map::new();
    for i in 0..11 {
        pattern.insert(format!("f{i}"), json!({"$or": [{"x": [1]}, {"y": [2]}]}));
    }
    let error = Pattern::from_value(&Value::Object(pattern)).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("more than 1024 alternatives"), "{message}");
    assert!(message.contains("split it into several rules"), "{message}");
    // 1,025 branches in one `$or`.
    let branches: Vec<Value> = (0..1025).map(|i| json!({ "k": [i] })).collect();
    assert!(Pattern::from_value(&json!({ "$or": branches })).is_err());
    // 1,024 is allowed and matches any branch.
    let branches: Vec<Value> = (0..1024).map(|i| json!({ "k": [i] })).collect();
    let p = Pattern::from_value(&json!({ "$or": branches })).unwrap();
    assert_eq!(p.alternative_count(), 1024);
    assert!(p.matches(&json!({"k": 1023})));
}

#[test]
fn long_ignore_case_strings_do_not_recurse() {
    let long = "x".repeat(200_000);
    let upper = long.to_uppercase();
    let p = Pattern::from_value(&json!({"k": [{"equals-ignore-case": long}]})).unwrap();
    assert!(p.matches(&json!({ "k": upper })));
    let p = Pattern::from_value(&json!({"k": [{"suffix": {"equals-ignore-case": long}}]})).unwrap();
    assert!(p.matches(&json!({ "k": format!("a{upper}") })));
}

#[test]
fn default_step_limit_is_documented_value() {
    assert_eq!(DEFAULT_STEP_LIMIT, 1_000_000);
}

// Large, adversarial shapes at random: arrays of up to 400 objects under the same path
// through nesting and dotted keys, rules with up to six fields across them. The outcome
// is always an answer or `TooComplex`, never a panic; under the limit the answer agrees
// with raw-byte matching; and with the fields in one array (no interleaving) the match
// always completes within a step budget linear in the event's size.

fn big_event() -> impl Strategy<Value = (Value, usize)> {
    (1usize..400, 1usize..400, 0u8..4).prop_map(|(n, m, shape)| {
        let a: Vec<Value> = (0..n)
            .map(|i| json!({"a": i % 7, "c": format!("c{}", i % 5)}))
            .collect();
        let b: Vec<Value> = (0..m)
            .map(|i| json!({"b": i % 3, "d": [i, i + 1]}))
            .collect();
        let event = match shape {
            0 => json!({"x": {"y": a}, "x.y": b}),
            1 => json!({"x": {"y": a}, "z": b}),
            2 => json!({"x": {"y": [a, b]}}),
            _ => json!({"x": {"y": a.into_iter().zip(b).map(|(l, r)| json!([l, r])).collect::<Vec<_>>()}}),
        };
        (event, n + 2 * m)
    })
}

fn big_pattern() -> impl Strategy<Value = Value> {
    let condition = prop_oneof![
        Just(json!([{"exists": true}])),
        Just(json!([{"anything-but": 1}])),
        Just(json!([0, 1, 2])),
        Just(json!([{"numeric": [">", 1]}])),
        Just(json!([{"prefix": "c"}])),
        Just(json!([{"exists": false}])),
    ];
    let field = prop::sample::select(&["x.y.a", "x.y.b", "x.y.c", "x.y.d", "z.b", "z.d"][..]);
    prop::collection::btree_map(field, condition, 1..6)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn large_adversarial_inputs_end_in_an_answer_or_a_limit(
        (event, _size) in big_event(),
        pattern in big_pattern(),
        limit in prop::sample::select(&[1_000u64, 20_000, 200_000][..]),
    ) {
        let machine = machine(&pattern, limit);
        let by_value = machine.try_matching_rules(&event);
        let by_bytes = machine.matching_rules_json(event.to_string().as_bytes());
        match (by_value, by_bytes) {
            (Ok(v), Ok(b)) => prop_assert_eq!(v, b),
            (Err(EventError::TooComplex { limit: l }), _) | (_, Err(EventError::TooComplex { limit: l })) => {
                prop_assert_eq!(l, limit);
            }
            (v, b) => prop_assert!(false, "unexpected outcome {:?} / {:?}", v, b),
        }
    }

    #[test]
    fn one_array_per_rule_completes_in_linear_steps(
        (event, size) in big_event(),
        pattern in big_pattern(),
    ) {
        // Fields of only one of the two arrays: nothing to interleave.
        let Value::Object(fields) = &pattern else { unreachable!() };
        let one: serde_json::Map<String, Value> = fields
            .iter()
            .filter(|(k, _)| k.ends_with('a') || k.ends_with('c'))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        prop_assume!(!one.is_empty());
        let pattern = Value::Object(one);
        let limit = 20 * (size as u64 + 10);
        let machine = machine(&pattern, limit);
        let answer = machine.try_matching_rules(&event);
        prop_assert!(answer.is_ok(), "{:?}", answer.err());
        let small = Pattern::from_value(&pattern).unwrap();
        prop_assert_eq!(answer.unwrap().is_empty(), !small.matches_reference(&event));
    }
}
