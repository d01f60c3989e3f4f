//! `eventrail pattern explain`, run as a built binary: the explanation on stdout, and the
//! exit codes of `pattern test` (0 match, 1 no match, 2 invalid input).

use std::process::{Command, Output};

fn explain(pattern: &str, event: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eventrail"))
        .args(["pattern", "explain", "--pattern", pattern, "--event", event])
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

const PATTERN: &str =
    r#"{"source": ["shop"], "detail": {"total_cents": [{"numeric": [">", 100000]}]}}"#;

#[test]
fn no_match_names_the_field_and_operator_and_exits_1() {
    let out = explain(
        PATTERN,
        r#"{"source": "shop", "detail": {"total_cents": 4000}}"#,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "no match\n  detail.total_cents: 4000 is not > 100000\n"
    );
}

#[test]
fn match_says_what_each_field_met_and_exits_0() {
    let out = explain(
        PATTERN,
        r#"{"source": "shop", "detail": {"total_cents": 250000}}"#,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "match\n  detail.total_cents: 250000 is > 100000\n  source: \"shop\" is \"shop\"\n"
    );
}

#[test]
fn each_alternative_of_or_is_explained_from_files() {
    let dir = std::env::temp_dir();
    let pattern = dir.join(format!(
        "eventrail-explain-{}-pattern.json",
        std::process::id()
    ));
    let event = dir.join(format!(
        "eventrail-explain-{}-event.json",
        std::process::id()
    ));
    std::fs::write(
        &pattern,
        r#"{"$or": [{"a": [{"prefix": "x"}]}, {"b": [{"exists": true}]}]}"#,
    )
    .unwrap();
    std::fs::write(&event, r#"{"a": "yz"}"#).unwrap();
    let out = explain(
        &format!("@{}", pattern.display()),
        &format!("@{}", event.display()),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "no match (none of the 2 alternatives)\n  alternative 1: a starts with x\n    \
         a: \"yz\" does not start with \"x\"\n  alternative 2: b exists\n    \
         b: field is absent but the pattern requires it\n"
    );
}

#[test]
fn invalid_input_exits_2_with_the_reason() {
    let out = explain(r#"{"detail": {"total": [{"numeric": [">"]}]}}"#, "{}");
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty());
    assert!(
        stderr(&out).contains("detail.total: numeric expects an operator followed by a number"),
        "{}",
        stderr(&out)
    );
    for event in ["{not json", "[1]"] {
        let out = explain(PATTERN, event);
        assert_eq!(out.status.code(), Some(2), "{event}");
        assert!(stderr(&out).contains("--event"), "{}", stderr(&out));
    }
    let out = explain("@/no/such/pattern.json", "{}");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/no/such/pattern.json"));
}
