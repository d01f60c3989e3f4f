//! `Pattern::explain_json` on every case of the conformance corpora (the 155 cases
//! recorded against Amazon EventBridge and the three corpora labelled by event-ruler):
//!
//! - its verdict is the engine's (`matches_json` on the same text, as every CLI entry
//!   point decides), and so is `Pattern::explain`'s on the parsed event against
//!   `try_matches`;
//! - on every no-match, the field each alternative is said to fail on really fails: the
//!   part of the pattern that tests it (the same keys down to it, just that field's match
//!   list, as the pattern's text writes it) tried alone against the event does not match.
//!   When the field is said to fail only together with other fields of the same array
//!   elements, those fields' parts tried together do not match, and each alone does.

use eventrail_pattern::{Explanation, FailureReason, FieldFailure, FieldTest, Pattern};
use serde_json::Value;

const CORPORA: &[(&str, usize)] = &[
    ("eventbridge-patterns.jsonl", 117),
    ("ruler-patterns.jsonl", 2000),
    ("ruler-heldout.jsonl", 2000),
    ("ruler-edges.jsonl", 2500),
];

/// A JSON value as its text says it: objects keep every key in order (repeats too),
/// arrays their items, and each value the text it was written with.
#[derive(Debug)]
enum Raw<'a> {
    Object(Vec<(String, Raw<'a>)>, &'a str),
    Array(Vec<Raw<'a>>, &'a str),
    Scalar(&'a str),
}

impl<'a> Raw<'a> {
    fn text(&self) -> &'a str {
        match self {
            Raw::Object(_, text) | Raw::Array(_, text) | Raw::Scalar(text) => text,
        }
    }
}

/// Reads one JSON value from `text` at `*at` (the text is known to be valid JSON).
fn read<'a>(text: &'a str, at: &mut usize) -> Raw<'a> {
    let bytes = text.as_bytes();
    let skip = |at: &mut usize| {
        while *at < bytes.len() && bytes[*at].is_ascii_whitespace() {
            *at += 1;
        }
    };
    skip(at);
    let start = *at;
    match bytes[*at] {
        b'{' => {
            *at += 1;
            let mut members = Vec::new();
            loop {
                skip(at);
                if bytes[*at] == b'}' {
                    *at += 1;
                    break;
                }
                let Raw::Scalar(key) = read(text, at) else {
                    panic!("a key is a string");
                };
                let key: String = serde_json::from_str(key).unwrap();
                skip(at);
                assert_eq!(bytes[*at], b':');
                *at += 1;
                members.push((key, read(text, at)));
                skip(at);
                if bytes[*at] == b',' {
                    *at += 1;
                }
            }
            Raw::Object(members, &text[start..*at])
        }
        b'[' => {
            *at += 1;
            let mut items = Vec::new();
            loop {
                skip(at);
                if bytes[*at] == b']' {
                    *at += 1;
                    break;
                }
                items.push(read(text, at));
                skip(at);
                if bytes[*at] == b',' {
                    *at += 1;
                }
            }
            Raw::Array(items, &text[start..*at])
        }
        b'"' => {
            *at += 1;
            while bytes[*at] != b'"' {
                *at += if bytes[*at] == b'\\' { 2 } else { 1 };
            }
            *at += 1;
            Raw::Scalar(&text[start..*at])
        }
        _ => {
            while *at < bytes.len() && !b",]} \t\r\n".contains(&bytes[*at]) {
                *at += 1;
            }
            Raw::Scalar(&text[start..*at])
        }
    }
}

/// A part of a pattern that tests one field: the keys down to it and its match list's text.
#[derive(Debug, Clone)]
struct Part<'a> {
    keys: Vec<String>,
    path: String,
    list: &'a str,
}

/// Every match list of a pattern (in `$or` branches too), with the event path it tests
/// (a dot between the keys, none after an empty first step: `{"": {"a": [...]}}` tests
/// `a`, as EventBridge names it).
fn parts<'a>(
    object: &[(String, Raw<'a>)],
    keys: &[String],
    field: &str,
    root: bool,
) -> Vec<Part<'a>> {
    let mut found = Vec::new();
    for (key, value) in object {
        if key == "$or" {
            if let Raw::Array(branches, _) = value {
                for branch in branches {
                    if let Raw::Object(members, _) = branch {
                        found.extend(parts(members, keys, field, root));
                    }
                }
            }
            continue;
        }
        let mut down = keys.to_vec();
        down.push(key.clone());
        let path = if field.is_empty() {
            key.clone()
        } else {
            format!("{field}.{key}")
        };
        match value {
            Raw::Array(..) => found.push(Part {
                keys: down,
                path,
                list: value.text(),
            }),
            Raw::Object(members, _) => {
                let below = if root {
                    key.clone()
                } else {
                    format!("{field}.{key}")
                };
                found.extend(parts(members, &down, &below, false));
            }
            Raw::Scalar(_) => {}
        }
    }
    found
}

/// The pattern made of these parts alone, keys nested as in the original.
fn pattern_of(parts: &[&Part<'_>]) -> String {
    fn nest(parts: &[(&[String], &str)]) -> String {
        let mut members: Vec<String> = Vec::new();
        let mut done: Vec<&String> = Vec::new();
        for (keys, list) in parts {
            let key = &keys[0];
            if done.contains(&key) {
                continue;
            }
            done.push(key);
            let name = serde_json::to_string(key).unwrap();
            if keys.len() == 1 {
                members.push(format!("{name}: {list}"));
            } else {
                let below: Vec<(&[String], &str)> = parts
                    .iter()
                    .filter(|(k, _)| k.len() > 1 && &k[0] == key)
                    .map(|(k, l)| (&k[1..], *l))
                    .collect();
                members.push(format!("{name}: {}", nest(&below)));
            }
        }
        format!("{{{}}}", members.join(", "))
    }
    let flat: Vec<(&[String], &str)> = parts.iter().map(|p| (p.keys.as_slice(), p.list)).collect();
    nest(&flat)
}

/// The part of the pattern that gives this field test (its path and its match list;
/// compared by their debug form, as a number written more precisely than a double is a
/// NaN, equal to nothing).
fn part_for<'p, 'a>(all: &'p [Part<'a>], test: &FieldTest) -> &'p Part<'a> {
    let wanted = format!("{test:?}");
    all.iter()
        .filter(|p| p.path == test.path)
        .find(|p| {
            Pattern::parse(&pattern_of(&[p])).is_ok_and(|alone| {
                alone.alternatives()[0]
                    .fields
                    .first()
                    .is_some_and(|field| format!("{field:?}") == wanted)
            })
        })
        .unwrap_or_else(|| panic!("no part of the pattern tests {test}"))
}

fn matches(parts: &[&Part<'_>], event: &str) -> bool {
    let text = pattern_of(parts);
    let pattern = Pattern::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
    pattern.matches_json(event.as_bytes()).unwrap()
}

/// Whether the failure's field really fails on the event: `None` when it does, else what
/// went wrong.
fn check_failure(all: &[Part<'_>], failure: &FieldFailure, event: &str) -> Option<String> {
    let field = part_for(all, &failure.test);
    match &failure.reason {
        FailureReason::NotInSameElement { with, .. } => {
            let mut together = vec![field];
            together.extend(with.iter().map(|test| part_for(all, test)));
            if matches(&together, event) {
                return Some(format!("{} matches", pattern_of(&together)));
            }
            together
                .iter()
                .find(|part| !matches(&[part], event))
                .map(|part| format!("{} alone does not match", pattern_of(&[part])))
        }
        _ => matches(&[field], event).then(|| format!("{} matches", pattern_of(&[field]))),
    }
}

/// The pattern's and the event's text of a corpus line.
fn texts(line: &str) -> (&str, &str) {
    let Raw::Object(members, _) = read(line, &mut 0) else {
        panic!("a case is an object");
    };
    let text = |name: &str| {
        members
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.text())
            .unwrap()
    };
    (text("pattern"), text("event"))
}

#[derive(Default, Debug)]
struct Tally {
    cases: usize,
    no_match: usize,
    failures_checked: usize,
    together: usize,
    wrong: Vec<String>,
}

fn run(corpus: &str, tally: &mut Tally) {
    let path = format!("{}/tests/conformance/{corpus}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (pattern_text, event) = texts(line);
        let Ok(pattern) = Pattern::parse(pattern_text) else {
            continue;
        };
        tally.cases += 1;
        let case: Value = serde_json::from_str(line).unwrap();
        let name = format!("{corpus}: {}", case["name"]);
        let engine = pattern.matches_json(event.as_bytes()).unwrap();
        let explanation: Explanation = pattern.explain_json(event.as_bytes()).unwrap();
        if explanation.matched() != engine {
            tally.wrong.push(format!(
                "{name}: engine {engine}, explanation:\n{explanation}"
            ));
            continue;
        }
        let parsed: Value = serde_json::from_str(event).unwrap();
        let by_value = pattern.explain(&parsed).unwrap().matched();
        if by_value != pattern.try_matches(&parsed).unwrap() {
            tally
                .wrong
                .push(format!("{name}: explain on the parsed event disagrees"));
        }
        if engine {
            continue;
        }
        tally.no_match += 1;
        let Raw::Object(members, _) = read(pattern_text, &mut 0) else {
            panic!("{name}: a valid pattern is an object");
        };
        let all = parts(&members, &[], "", true);
        for failure in explanation.failures() {
            tally.failures_checked += 1;
            if matches!(failure.reason, FailureReason::NotInSameElement { .. }) {
                tally.together += 1;
            }
            if let Some(wrong) = check_failure(&all, failure, event) {
                tally
                    .wrong
                    .push(format!("{name}: named `{failure}`, but {wrong}"));
            }
        }
    }
}

#[test]
fn explain_agrees_with_the_engine_and_names_a_field_that_fails_on_every_corpus_case() {
    for (corpus, least) in CORPORA {
        let mut tally = Tally::default();
        run(corpus, &mut tally);
        assert!(tally.cases >= *least, "{corpus}: {} cases", tally.cases);
        assert!(tally.no_match > 0 && tally.failures_checked >= tally.no_match);
        assert!(
            tally.wrong.is_empty(),
            "{corpus}: {} wrong of {} cases:\n{}",
            tally.wrong.len(),
            tally.cases,
            tally.wrong[..tally.wrong.len().min(10)].join("\n")
        );
        eprintln!(
            "{corpus}: {} valid cases, {} no-match, {} failures checked ({} of fields in one array element)",
            tally.cases, tally.no_match, tally.failures_checked, tally.together
        );
    }
}
