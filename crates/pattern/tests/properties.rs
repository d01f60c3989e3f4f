//! Property tests: no panic and no hang on arbitrary input, and the compiled machine
//! agrees with a direct evaluator, with byte-level matching, with the explanation's
//! verdict, and with itself when many rules share one machine.

use eventrail_pattern::{Pattern, RuleMachine};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const KEYS: &[&str] = &["a", "b", "c", "a.b", "detail", "$or"];

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(KEYS).prop_map(str::to_owned)
}

/// Field names for generated patterns (`$or` is generated on its own).
fn field() -> impl Strategy<Value = String> {
    prop::sample::select(&KEYS[..KEYS.len() - 1]).prop_map(str::to_owned)
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(&["x", "X", "xy", "yx", "", "10.0.0.7", "2001:db8::1", "a*b"][..])
            .prop_map(Value::from),
        prop::sample::select(&[0.0, 1.0, 5.0, 100.5, -3.0, 1e9][..]).prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn event() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(key(), any_json(), 0..5)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// Match values built from every operator, sometimes malformed.
fn match_value() -> impl Strategy<Value = Value> {
    let text = prop::sample::select(
        &[
            "x",
            "X",
            "xy",
            "",
            "*",
            "x*",
            "*y",
            "10.0.0.0/24",
            "2001:db8::/32",
        ][..],
    );
    prop_oneof![
        scalar(),
        text.clone().prop_map(|t| json!({"prefix": t})),
        text.clone()
            .prop_map(|t| json!({"suffix": {"equals-ignore-case": t}})),
        text.clone().prop_map(|t| json!({"equals-ignore-case": t})),
        text.clone().prop_map(|t| json!({"wildcard": t})),
        prop::sample::select(&["10.0.0.0/24", "2001:db8::/32", "0.0.0.0/0"][..])
            .prop_map(|t| json!({"cidr": t})),
        text.clone().prop_map(|t| json!({"anything-but": t})),
        text.clone()
            .prop_map(|t| json!({"anything-but": {"prefix": t}})),
        text.prop_map(|t| json!({"anything-but": {"wildcard": [t, "q"]}})),
        scalar().prop_map(|v| json!({"anything-but": [v, 1]})),
        (0.0..10.0f64, 0.0..10.0f64).prop_map(|(a, b)| json!({"numeric": [">", a, "<=", b]})),
        any::<bool>().prop_map(|b| json!({"exists": b})),
    ]
}

fn pattern() -> impl Strategy<Value = Value> {
    let leaf = prop::collection::vec(match_value(), 1..4).prop_map(Value::Array);
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::btree_map(field(), inner.clone(), 1..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            prop::collection::vec(
                prop::collection::btree_map(field(), inner, 1..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                2..4
            )
            .prop_map(|branches| json!({"$or": branches})),
        ]
    })
    .prop_filter("pattern must be an object", Value::is_object)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_json_never_panics(pattern in any_json(), event in any_json()) {
        if let Ok(p) = Pattern::from_value(&pattern) {
            let _ = p.matches(&event);
            let _ = p.matches_json(event.to_string().as_bytes());
            let _ = p.explain(&event);
        }
        let _ = Pattern::parse(&pattern.to_string());
    }

    #[test]
    fn arbitrary_bytes_never_panic(pattern in ".{0,64}", event in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(p) = Pattern::parse(&pattern) {
            let _ = p.matches_json(&event);
        }
    }

    #[test]
    fn machine_agrees_with_reference_and_bytes(pattern in pattern(), event in event()) {
        if let Ok(p) = Pattern::from_value(&pattern) {
            let by_machine = p.matches(&event);
            prop_assert_eq!(by_machine, p.matches_reference(&event));
            prop_assert_eq!(by_machine, p.matches_json(event.to_string().as_bytes()).unwrap());
        }
    }

    #[test]
    fn explanation_agrees_with_the_machine(pattern in pattern(), event in event()) {
        if let Ok(p) = Pattern::from_value(&pattern) {
            prop_assert_eq!(p.explain(&event).unwrap().matched(), p.matches(&event));
            let text = event.to_string();
            prop_assert_eq!(
                p.explain_json(text.as_bytes()).unwrap().matched(),
                p.matches_json(text.as_bytes()).unwrap()
            );
        }
    }

    #[test]
    fn shared_machine_agrees_with_single_patterns(
        patterns in prop::collection::vec(pattern(), 1..12),
        events in prop::collection::vec(event(), 1..6),
    ) {
        let compiled: Vec<Pattern> = patterns.iter().filter_map(|p| Pattern::from_value(p).ok()).collect();
        let mut machine = RuleMachine::new();
        for (i, p) in compiled.iter().enumerate() {
            machine.add_rule(i, p);
        }
        for event in &events {
            let expected: Vec<usize> = (0..compiled.len()).filter(|&i| compiled[i].matches(event)).collect();
            let actual: Vec<usize> = machine.matching_rules(event).into_iter().copied().collect();
            prop_assert_eq!(actual, expected);
        }
    }
}

/// One condition of a single operator kind, with values close enough together that
/// rules overlap, exclude each other and share bounds.
fn one_kind_condition(kind: usize) -> BoxedStrategy<Value> {
    let number = prop::sample::select(&[-2.0, -1.0, -0.0, 0.0, 0.5, 1.0, 2.0, 3.0][..]);
    let text =
        prop::sample::select(&["a", "ab", "b", "ba", "", "A", "Ab", "ß", "SS", "ǅ", "10.0"][..]);
    match kind {
        0 => (
            prop::sample::select(&["=", ">", ">=", "<", "<="][..]),
            number.clone(),
            prop::option::of((prop::sample::select(&["<", "<="][..]), number)),
        )
            .prop_map(|(op, a, upper)| match upper {
                Some((op2, b)) if matches!(op, ">" | ">=") && b > a => {
                    json!({"numeric": [op, a, op2, b]})
                }
                _ => json!({"numeric": [op, a]}),
            })
            .boxed(),
        1 => prop_oneof![
            prop::collection::vec(text.clone(), 1..4).prop_map(|v| json!({"anything-but": v})),
            prop::collection::vec(number, 1..3).prop_map(|v| json!({"anything-but": v})),
            prop::collection::vec(text.clone(), 1..3)
                .prop_map(|v| json!({"anything-but": {"prefix": v[0]}})),
            text.clone()
                .prop_map(|t| json!({"anything-but": {"suffix": t}})),
            text.clone()
                .prop_map(|t| json!({"anything-but": {"equals-ignore-case": t}})),
        ]
        .boxed(),
        2 => prop::sample::select(
            &[
                "a*", "*b", "a*b", "*", "*a*", "ab", "", "a*a", "b*a*", "\\**",
            ][..],
        )
        .prop_map(|w| json!({"wildcard": w}))
        .boxed(),
        3 => prop::sample::select(
            &[
                "10.0.0.0/8",
                "10.0.0.0/24",
                "10.0.1.0/24",
                "0.0.0.0/0",
                "2001:db8::/32",
                "2001:db8::/64",
                "32.1.0.0/16",
                "10.0.0.1",
                "2001:DB8::1",
            ][..],
        )
        .prop_map(|c| {
            if c.contains('/') {
                json!({"cidr": c})
            } else {
                json!(c)
            }
        })
        .boxed(),
        _ => (0..3usize, text)
            .prop_map(|(form, t)| match form {
                0 => json!({"equals-ignore-case": t}),
                1 => json!({"prefix": {"equals-ignore-case": t}}),
                _ => json!({"suffix": {"equals-ignore-case": t}}),
            })
            .boxed(),
    }
}

/// A value of field `f` for [`one_kind_condition`]: a scalar or an array of them.
fn one_kind_value() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        prop::sample::select(
            &[
                "a",
                "ab",
                "aab",
                "b",
                "ba",
                "",
                "A",
                "AB",
                "aB",
                "SS",
                "ss",
                "ß",
                "ǆ",
                "Ǆ",
                "10.0.0.1",
                "10.0.1.7",
                "10.9.9.9",
                "2001:db8::1",
                "2001:db8:0:1::1",
                "2001:0db8::1",
                "*",
                "*b"
            ][..]
        )
        .prop_map(Value::from),
        prop::sample::select(&[-3.0, -2.0, -1.0, -0.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0][..])
            .prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
    ];
    prop_oneof![
        3 => scalar.clone(),
        1 => prop::collection::vec(scalar, 0..3).prop_map(Value::Array),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Many rules of one operator kind on one field (the case the value indexes serve):
    /// the shared machine finds exactly the rules each pattern's direct evaluator finds.
    #[test]
    fn many_rules_of_one_operator_agree_with_each_pattern(
        (kind, conditions) in (0..5usize).prop_flat_map(|kind| {
            (Just(kind), prop::collection::vec(
                prop::collection::vec(one_kind_condition(kind), 1..3), 1..40))
        }),
        values in prop::collection::vec(one_kind_value(), 1..8),
    ) {
        let _ = kind;
        let patterns: Vec<Pattern> = conditions
            .iter()
            .filter_map(|list| Pattern::from_value(&json!({"f": list})).ok())
            .collect();
        let mut machine = RuleMachine::new();
        for (i, p) in patterns.iter().enumerate() {
            machine.add_rule(i, p);
        }
        for value in &values {
            let event = json!({"f": value, "g": 1});
            let expected: Vec<usize> = (0..patterns.len())
                .filter(|&i| patterns[i].matches_reference(&event))
                .collect();
            let actual: Vec<usize> = machine.matching_rules(&event).into_iter().copied().collect();
            prop_assert_eq!(actual, expected, "event {}", event);
        }
    }
}
