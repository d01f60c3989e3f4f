use super::*;
use serde_json::json;

/// The explanation of `pattern` on `event`, read as text (as the CLI reads it).
fn explain(pattern: Value, event: &str) -> Explanation {
    let pattern = Pattern::from_value(&pattern).unwrap();
    let explanation = pattern.explain_json(event.as_bytes()).unwrap();
    assert_eq!(
        explanation.matched(),
        pattern.matches_json(event.as_bytes()).unwrap(),
        "explain and the engine disagree on {event}"
    );
    explanation
}

/// The one failure of a one-alternative pattern, as text.
fn why_not(pattern: Value, event: &str) -> String {
    let explanation = explain(pattern, event);
    assert!(!explanation.matched(), "{explanation}");
    let failures: Vec<String> = explanation.failures().map(ToString::to_string).collect();
    assert_eq!(failures.len(), 1, "{explanation}");
    failures[0].clone()
}

#[test]
fn numeric() {
    assert_eq!(
        why_not(
            json!({"detail": {"total_cents": [{"numeric": [">", 100000]}]}}),
            r#"{"detail": {"total_cents": 4000}}"#
        ),
        "detail.total_cents: 4000 is not > 100000"
    );
    assert_eq!(
        why_not(
            json!({"n": [{"numeric": [">=", 0, "<", 10.5]}]}),
            r#"{"n": 10.5}"#
        ),
        "n: 10.5 is not >= 0 and < 10.5"
    );
    assert_eq!(
        why_not(json!({"n": [{"numeric": ["=", 5]}]}), r#"{"n": "5"}"#),
        "n: \"5\" is not = 5, as a string is not a number (numeric compares numbers only)"
    );
    assert_eq!(
        why_not(
            json!({"n": [{"numeric": ["<", 1e20]}]}),
            r#"{"n": 18446744073709551615}"#
        ),
        "n: about 1.84467440737e19 (written more precisely than a double) is not < 1e20: \
         a number written more precisely than a double is compared by its text only"
    );
}

#[test]
fn exact_values() {
    assert_eq!(
        why_not(
            json!({"detail-type": ["TicketClosed", "TicketMerged"]}),
            r#"{"detail-type": "TicketOpened"}"#
        ),
        r#"detail-type: "TicketOpened" is not one of ["TicketClosed", "TicketMerged"]"#
    );
    assert_eq!(
        why_not(json!({"a": ["x"]}), r#"{"a": "y"}"#),
        r#"a: "y" is not "x""#
    );
    assert_eq!(
        why_not(json!({"a": [250]}), r#"{"a": "250"}"#),
        "a: \"250\" is not 250 (a string never equals a number)"
    );
    assert_eq!(
        why_not(json!({"a": [true, null]}), r#"{"a": false}"#),
        "a: false is not one of [true, null]"
    );
    assert_eq!(
        why_not(json!({"a": ["10.0.0.1"]}), r#"{"a": "10.0.0.2"}"#),
        "a: \"10.0.0.2\" is not the address 10.0.0.1"
    );
}

#[test]
fn exists() {
    assert_eq!(
        why_not(
            json!({"detail": {"country": [{"exists": true}]}}),
            r#"{"detail": {"city": "Oslo"}}"#
        ),
        "detail.country: field is absent but the pattern requires it"
    );
    assert_eq!(
        why_not(json!({"a": [{"exists": true}]}), r#"{"a": []}"#),
        "a: field is absent but the pattern requires it"
    );
    assert_eq!(
        why_not(json!({"a": [{"exists": false}]}), r#"{"a": [1, "x"]}"#),
        r#"a: field is present ([1, "x"]) but the pattern requires it to be absent"#
    );
    assert_eq!(
        why_not(json!({"a": [{"numeric": [">", 1]}]}), r#"{"b": 2}"#),
        "a: field is absent but the pattern requires a value that is > 1"
    );
}

#[test]
fn prefix_suffix_and_ignore_case() {
    assert_eq!(
        why_not(json!({"a": [{"prefix": "eu-"}]}), r#"{"a": "us-east-1"}"#),
        r#"a: "us-east-1" does not start with "eu-""#
    );
    assert_eq!(
        why_not(json!({"a": [{"prefix": "4"}]}), r#"{"a": 4000}"#),
        r#"a: 4000 does not start with "4", as a number is not a string (prefix compares strings only)"#
    );
    assert_eq!(
        why_not(
            json!({"a": [{"prefix": {"equals-ignore-case": "EU-"}}]}),
            r#"{"a": "us-1"}"#
        ),
        r#"a: "us-1" does not start with "EU-" ignoring case"#
    );
    assert_eq!(
        why_not(json!({"a": [{"suffix": ".png"}]}), r#"{"a": "x.jpg"}"#),
        r#"a: "x.jpg" does not end with ".png""#
    );
    assert_eq!(
        why_not(
            json!({"a": [{"suffix": {"equals-ignore-case": ".PNG"}}]}),
            r#"{"a": "x.jpg"}"#
        ),
        r#"a: "x.jpg" does not end with ".PNG" ignoring case"#
    );
    assert_eq!(
        why_not(
            json!({"a": [{"equals-ignore-case": "ABC"}]}),
            r#"{"a": "abd"}"#
        ),
        r#"a: "abd" is not "ABC" ignoring case"#
    );
}

#[test]
fn wildcard_and_cidr() {
    assert_eq!(
        why_not(
            json!({"a": [{"wildcard": "img-*.png"}]}),
            r#"{"a": "img-1.jpg"}"#
        ),
        r#"a: "img-1.jpg" does not match the wildcard "img-*.png""#
    );
    assert_eq!(
        why_not(
            json!({"ip": [{"cidr": "10.0.0.0/8"}]}),
            r#"{"ip": "192.168.1.1"}"#
        ),
        r#"ip: "192.168.1.1" is not in 10.0.0.0/8"#
    );
    assert_eq!(
        why_not(
            json!({"ip": [{"cidr": "10.0.0.0/8"}]}),
            r#"{"ip": "localhost"}"#
        ),
        r#"ip: "localhost" is not in 10.0.0.0/8, as it is not an IP address"#
    );
}

#[test]
fn anything_but() {
    assert_eq!(
        why_not(
            json!({"country": [{"anything-but": ["US", "CA"]}]}),
            r#"{"country": "US"}"#
        ),
        r#"country: "US" is one of the excluded values ["US", "CA"]"#
    );
    assert_eq!(
        why_not(json!({"n": [{"anything-but": 5}]}), r#"{"n": 5.0}"#),
        "n: 5 is excluded (anything-but 5)"
    );
    assert_eq!(
        why_not(
            json!({"a": [{"anything-but": {"prefix": "test-"}}]}),
            r#"{"a": "test-1"}"#
        ),
        r#"a: "test-1" starts with the excluded prefix "test-""#
    );
    assert_eq!(
        why_not(
            json!({"a": [{"anything-but": {"suffix": ["-dev", "-qa"]}}]}),
            r#"{"a": "x-qa"}"#
        ),
        r#"a: "x-qa" ends with the excluded suffix "-qa""#
    );
    assert_eq!(
        why_not(
            json!({"a": [{"anything-but": {"equals-ignore-case": ["ok", "Fine"]}}]}),
            r#"{"a": "FINE"}"#
        ),
        r#"a: "FINE" is the excluded value "Fine" ignoring case"#
    );
    assert_eq!(
        why_not(
            json!({"a": [{"anything-but": {"wildcard": "*.tmp"}}]}),
            r#"{"a": "x.tmp"}"#
        ),
        r#"a: "x.tmp" matches the excluded wildcard "*.tmp""#
    );
    assert_eq!(
        why_not(json!({"a": [{"anything-but": "x"}]}), r#"{"b": 1}"#),
        r#"a: field is absent but the pattern requires a value that is not "x""#
    );
}

#[test]
fn a_mixed_list_says_why_each_entry_fails() {
    assert_eq!(
        why_not(
            json!({"a": ["x", "y", {"prefix": "z"}, {"numeric": [">", 3]}]}),
            r#"{"a": "w"}"#
        ),
        "a: \"w\" is not one of [\"x\", \"y\"], and does not start with \"z\", and is not > 3, \
         as a string is not a number (numeric compares numbers only)"
    );
}

#[test]
fn arrays_in_the_event() {
    // Any element may match; when none does, every element is shown.
    assert_eq!(
        why_not(json!({"tags": ["red"]}), r#"{"tags": ["blue", "green"]}"#),
        r#"tags: none of ["blue", "green"] is "red""#
    );
    let explanation = explain(json!({"tags": ["red"]}), r#"{"tags": ["blue", "red"]}"#);
    assert_eq!(
        explanation.to_string(),
        "match\n  tags: \"red\" is \"red\"\n"
    );
    // Each field holds in some element, never both in the same one.
    let pattern = json!({"items": {"sku": ["a"], "qty": [{"numeric": [">", 1]}]}});
    let event = r#"{"items": [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}]}"#;
    let explanation = explain(pattern, event);
    let failure = explanation.failures().next().unwrap();
    assert_eq!(failure.path(), "items.sku");
    assert_eq!(
        failure.reason,
        FailureReason::NotInSameElement {
            values: vec![EventValue::String("a".into())],
            with: vec![FieldTest {
                path: "items.qty".into(),
                conditions: vec![Condition(Matcher::Numeric(crate::numeric::NumericRange {
                    lower: Some((1.0, false)),
                    upper: None
                }))],
            }],
        }
    );
    assert_eq!(
        failure.to_string(),
        r#"items.sku: "a" is "a", but not in the same array element where items.qty is > 1"#
    );
}

#[test]
fn matched_fields_say_what_held() {
    let explanation = explain(
        json!({
            "source": ["shop"],
            "detail": {"total": [{"numeric": [">", 100]}], "coupon": [{"exists": false}]}
        }),
        r#"{"source": "shop", "detail": {"total": 250}}"#,
    );
    assert_eq!(
        explanation.to_string(),
        "match\n  detail.coupon: field is absent, as the pattern requires\n  \
         detail.total: 250 is > 100\n  source: \"shop\" is \"shop\"\n"
    );
    let Some((0, matched)) = explanation.matching() else {
        panic!("{explanation}");
    };
    let AlternativeOutcome::Matched(fields) = &matched.outcome else {
        panic!("{explanation}");
    };
    assert_eq!(fields[1].value, Some(EventValue::Number(250.0)));
    assert!(fields[0].value.is_none() && fields[0].condition.is_absence());
}

#[test]
fn or_explains_each_alternative() {
    let pattern = json!({"detail": {"$or": [
        {"total": [{"numeric": [">", 1000]}]},
        {"country": [{"anything-but": ["US", "CA"]}]}
    ]}});
    let explanation = explain(
        pattern.clone(),
        r#"{"detail": {"total": 5, "country": "US"}}"#,
    );
    assert_eq!(
        explanation.to_string(),
        "no match (none of the 2 alternatives)\n  \
         alternative 1: detail.total > 1000\n    detail.total: 5 is not > 1000\n  \
         alternative 2: detail.country not in [US, CA]\n    \
         detail.country: \"US\" is one of the excluded values [\"US\", \"CA\"]\n"
    );
    let explanation = explain(pattern, r#"{"detail": {"total": 5, "country": "NO"}}"#);
    assert_eq!(
        explanation.to_string(),
        "match (alternative 2 of 2: detail.country not in [US, CA])\n  \
         detail.country: \"NO\" is not one of [\"US\", \"CA\"]\n"
    );
}

#[test]
fn the_first_failing_field_in_path_order_is_named() {
    let failure = why_not(
        json!({"b": ["x"], "a": ["y"], "c": [1]}),
        r#"{"a": "no", "b": "no", "c": 1}"#,
    );
    assert_eq!(failure, r#"a: "no" is not "y""#);
}

#[test]
fn long_lists_are_cut_with_a_count() {
    let values: Vec<String> = (0..12).map(|i| format!("v{i}")).collect();
    let failure = why_not(json!({ "a": values }), r#"{"a": "w"}"#);
    assert_eq!(
        failure,
        r#"a: "w" is not one of ["v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", … 2 more]"#
    );
}

#[test]
fn a_parsed_event_is_explained_as_the_engine_matches_it() {
    let pattern = Pattern::from_value(&json!({"a": {"b": [{"prefix": "x"}]}})).unwrap();
    for event in [
        json!({"a": {"b": "xy"}}),
        json!({"a": [{"b": "y"}]}),
        json!({}),
    ] {
        let explanation = pattern.explain(&event).unwrap();
        assert_eq!(explanation.matched(), pattern.matches(&event), "{event}");
    }
    assert!(matches!(
        pattern.explain_json(b"[1]"),
        Err(EventError::Json(_))
    ));
}

#[test]
fn an_inexact_number_keeps_about_twelve_digits() {
    let near =
        crate::explain_words::near_double(crate::numbers::inexact_marker(18446744073709551615.0));
    assert!(
        (near - 18446744073709551615.0).abs() / near < 1e-11,
        "{near}"
    );
}
