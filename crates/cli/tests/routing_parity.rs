//! Routing parity: `eventrail pattern test`, `eventrail routes` and `eventrail pattern
//! conformance` give the same verdict on every case of the recorded corpora (the
//! AWS-recorded one and the two labelled by event-ruler), run as a user runs them: the
//! built binary, the case's pattern and event as text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use serde_json::value::RawValue;

/// The corpora every entry point is checked on.
const CORPORA: [&str; 3] = [
    "crates/pattern/tests/conformance/eventbridge-patterns.jsonl",
    "crates/pattern/tests/conformance/ruler-patterns.jsonl",
    "crates/pattern/tests/conformance/ruler-heldout.jsonl",
];

/// Rules per template given to one `eventrail routes` run.
const RULES_PER_TEMPLATE: usize = 250;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn eventrail(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eventrail"))
        .args(args)
        .output()
        .expect("the eventrail binary runs")
}

/// A folder under the system temp dir, unique to this test process and `name`.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eventrail-parity-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[derive(serde::Deserialize)]
struct Case<'a> {
    name: String,
    expect: String,
    #[serde(borrow)]
    pattern: &'a RawValue,
    #[serde(borrow)]
    event: &'a RawValue,
}

/// A verdict as the three commands print it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Match,
    NoMatch,
    Invalid,
}

fn verdict_of_label(label: &str) -> Verdict {
    match label {
        "match" => Verdict::Match,
        "no_match" => Verdict::NoMatch,
        "invalid" => Verdict::Invalid,
        other => panic!("unknown label {other:?}"),
    }
}

/// `eventrail pattern conformance FILE`: every case's verdict (the label where it passes,
/// the outcome printed on its FAIL line otherwise).
fn conformance_verdicts(corpus: &Path, cases: &[Case<'_>]) -> HashMap<String, Verdict> {
    let out = eventrail(&[
        "pattern",
        "conformance",
        corpus.to_str().expect("UTF-8 path"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let mut verdicts: HashMap<String, Verdict> = cases
        .iter()
        .map(|c| (c.name.clone(), verdict_of_label(&c.expect)))
        .collect();
    for line in text.lines().filter(|l| l.starts_with("FAIL ")) {
        let (name, rest) = line["FAIL ".len()..]
            .split_once(": expected ")
            .unwrap_or_else(|| panic!("unexpected FAIL line: {line}"));
        let got = rest
            .split_once(", got ")
            .map(|(_, got)| got.split([' ', '(']).next().unwrap_or(got))
            .unwrap_or_else(|| panic!("unexpected FAIL line: {line}"));
        verdicts.insert(name.to_owned(), verdict_of_label(got));
    }
    verdicts
}

/// `eventrail pattern test --pattern P --event E`: by its exit code (0 match, 1 no
/// match, 2 invalid).
fn pattern_test_verdict(case: &Case<'_>) -> Verdict {
    let out = eventrail(&[
        "pattern",
        "test",
        "--pattern",
        case.pattern.get(),
        "--event",
        case.event.get(),
    ]);
    match out.status.code() {
        Some(0) => Verdict::Match,
        Some(1) => Verdict::NoMatch,
        Some(2) => Verdict::Invalid,
        other => panic!(
            "{}: pattern test exited {other:?}: {}",
            case.name,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// Whether a template can carry the pattern as written: a template is YAML, read into a
/// value that keeps only the double of each number, so a pattern that writes a number
/// with more significant digits than a double's shortest form is left out (the engine
/// compares such a number by its text, which only the pattern's own text keeps).
fn template_keeps_numbers(pattern: &str) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    let mut digits = 0usize;
    let mut significant_started = false;
    for c in pattern.chars() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                digits = 0;
                significant_started = false;
            }
            '0'..='9' => {
                if c != '0' || significant_started {
                    significant_started = true;
                    digits += 1;
                }
                if digits > 15 {
                    return false;
                }
            }
            '.' | '-' | '+' => {}
            'e' | 'E' => significant_started = true,
            _ => {
                digits = 0;
                significant_started = false;
            }
        }
    }
    // The smallest double: Java writes it 4.9E-324, a value reads back as 5e-324.
    !pattern.contains("e-324") && !pattern.contains("E-324")
}

/// `eventrail routes --template T EVENT...`, for the valid cases whose pattern a
/// template can carry: one rule per case, named after it, all targeting one function.
/// The verdict is whether the event's block names its own case's rule.
fn routes_verdicts(cases: &[&Case<'_>], dir: &Path) -> HashMap<String, Verdict> {
    let mut verdicts = HashMap::new();
    for (chunk_index, chunk) in cases.chunks(RULES_PER_TEMPLATE).enumerate() {
        let mut resources = serde_json::Map::new();
        resources.insert(
            "Receiver".into(),
            serde_json::json!({
                "Type": "AWS::Serverless::Function",
                "Properties": {"CodeUri": "receiver", "Handler": "bootstrap", "Runtime": "provided.al2023"}
            }),
        );
        let mut event_files = Vec::new();
        for (i, case) in chunk.iter().enumerate() {
            let pattern: Value = serde_json::from_str(case.pattern.get()).expect("pattern JSON");
            resources.insert(
                format!("Rule{i}"),
                serde_json::json!({
                    "Type": "AWS::Events::Rule",
                    "Properties": {
                        "EventPattern": pattern,
                        "Targets": [{"Id": "receiver", "Arn": {"Fn::GetAtt": ["Receiver", "Arn"]}}]
                    }
                }),
            );
            let file = dir.join(format!("c{chunk_index}-e{i}.json"));
            std::fs::write(&file, case.event.get()).expect("event file");
            event_files.push(file);
        }
        let template = serde_json::json!({
            "AWSTemplateFormatVersion": "2010-09-09",
            "Transform": "AWS::Serverless-2016-10-31",
            "Resources": resources,
        });
        let template_file = dir.join(format!("template-{chunk_index}.yaml"));
        std::fs::write(&template_file, template.to_string()).expect("template file");
        let mut args = vec![
            "routes".to_owned(),
            "--template".to_owned(),
            template_file.display().to_string(),
        ];
        args.extend(event_files.iter().map(|f| f.display().to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = eventrail(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "routes failed on chunk {chunk_index}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // One block per event, in the order given, separated by a blank line.
        let blocks: Vec<&str> = text.split("\n\n").collect();
        assert_eq!(blocks.len(), chunk.len(), "one block per event: {text}");
        for (i, (case, block)) in chunk.iter().zip(blocks).enumerate() {
            let own_rule = format!("via rule Rule{i}\n");
            let verdict = if block.contains(&own_rule) || block.ends_with(own_rule.trim_end()) {
                Verdict::Match
            } else {
                Verdict::NoMatch
            };
            verdicts.insert(case.name.clone(), verdict);
        }
    }
    verdicts
}

#[test]
fn pattern_test_routes_and_conformance_agree_on_every_recorded_case() {
    let mut disagreements = Vec::new();
    let mut routed = 0usize;
    let mut tested = 0usize;
    for corpus in CORPORA {
        let path = repo().join(corpus);
        let text = std::fs::read_to_string(&path).expect("corpus");
        let cases: Vec<Case<'_>> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("corpus line"))
            .collect();
        let conformance = conformance_verdicts(&path, &cases);
        let mut routable = Vec::new();
        for case in &cases {
            let by_test = pattern_test_verdict(case);
            tested += 1;
            let by_conformance = conformance[&case.name];
            if by_test != by_conformance {
                disagreements.push(format!(
                    "{}: pattern test {by_test:?}, conformance {by_conformance:?}",
                    case.name
                ));
            }
            if by_test != Verdict::Invalid && template_keeps_numbers(case.pattern.get()) {
                routable.push(case);
            }
        }
        let dir = temp_dir(
            path.file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("corpus"),
        );
        // A rule that names an empty key makes one machine look into the event's empty
        // keys for all its rules (see the notes of issue 24): such cases are routed one
        // rule per template, so that each case's verdict is its own rule's.
        let (alone, together): (Vec<&Case<'_>>, Vec<&Case<'_>>) =
            routable.iter().partition(|case| {
                case.pattern.get().contains(r#""""#) || case.event.get().contains(r#""""#)
            });
        let mut by_routes = routes_verdicts(&together, &dir);
        for case in alone {
            by_routes.extend(routes_verdicts(&[case], &dir));
        }
        std::fs::remove_dir_all(&dir).ok();
        for case in &routable {
            routed += 1;
            let by_conformance = conformance[&case.name];
            if by_routes[&case.name] != by_conformance {
                disagreements.push(format!(
                    "{}: routes {:?}, conformance {by_conformance:?}",
                    case.name, by_routes[&case.name]
                ));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    // The check covers the corpora, not a handful of cases.
    assert!(
        tested > 6_900,
        "only {tested} cases run through pattern test"
    );
    assert!(routed > 3_500, "only {routed} cases run through routes");
}

/// The case of issue 24: a number written more precisely than a double next to one in
/// exponent form. Every entry point reads the event's text the same way.
#[test]
fn every_entry_point_reads_an_array_of_edge_numbers_alike() {
    let pattern = r#"{"detail":[-5000000000]}"#;
    for (event, expected) in [
        (
            r#"{"detail": [-4999999999.9999999990, -5000000000000e-3]}"#,
            Verdict::Match,
        ),
        (
            r#"{"detail": [-5e9, -4999999999.9999999990]}"#,
            Verdict::Match,
        ),
        (r#"{"detail": [-4999999999.9999999990]}"#, Verdict::NoMatch),
        (r#"{"detail": -5000000000000e-3}"#, Verdict::Match),
    ] {
        let line =
            format!(r#"{{"name":"edge","expect":"match","pattern":{pattern},"event":{event}}}"#);
        let cases: Vec<Case<'_>> = vec![serde_json::from_str(&line).expect("case")];
        let dir = temp_dir("edge");
        let corpus = dir.join("edge.jsonl");
        std::fs::write(&corpus, &line).expect("corpus");
        let by_conformance = conformance_verdicts(&corpus, &cases)["edge"];
        let by_test = pattern_test_verdict(&cases[0]);
        let by_routes = routes_verdicts(&[&cases[0]], &dir)["edge"];
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(
            (by_test, by_routes, by_conformance),
            (expected, expected, expected),
            "{event}"
        );
    }
}
