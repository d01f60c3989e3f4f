//! Offline routing checks: the rules of infra/template.yaml against events/samples.
//!
//! - every sample reaches exactly the functions events/consumers.json documents for it;
//! - every rule with a pattern matches at least one sample (a rule that can never fire
//!   fails the test with its name).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use eventrail_pattern::Pattern;
use eventrail_template::Template;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

/// A rule of the template: logical id, target function names, compiled pattern.
struct CompiledRule {
    id: String,
    functions: Vec<String>,
    pattern: Pattern,
}

fn rules() -> Vec<CompiledRule> {
    let template = Template::load(repo().join("infra/template.yaml")).unwrap();
    template
        .rules()
        .iter()
        .filter_map(|rule| {
            let pattern = rule.pattern.as_ref()?;
            let pattern = Pattern::from_value(pattern)
                .unwrap_or_else(|e| panic!("rule {} has an invalid pattern: {e}", rule.logical_id));
            let functions = rule
                .target_functions()
                .map(|id| {
                    template
                        .function(id)
                        .map_or(id, |f| f.display_name())
                        .to_owned()
                })
                .collect();
            Some(CompiledRule {
                id: rule.logical_id.clone(),
                functions,
                pattern,
            })
        })
        .collect()
}

/// `events/samples/*.json` (not the commands/ or poison/ folders), by file name.
fn samples() -> BTreeMap<String, Value> {
    let dir = repo().join("events/samples");
    std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let event = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (name, event)
        })
        .collect()
}

/// The documented consumers: events/consumers.json (or events/samples/consumers.json).
fn documented_consumers() -> BTreeMap<String, BTreeSet<String>> {
    let candidates = [
        repo().join("events/consumers.json"),
        repo().join("events/samples/consumers.json"),
    ];
    let path = candidates
        .iter()
        .find(|p| p.exists())
        .expect("events/consumers.json lists each sample's consumers");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn receivers(rules: &[CompiledRule], event: &Value) -> BTreeSet<String> {
    rules
        .iter()
        .filter(|rule| rule.pattern.matches(event))
        .flat_map(|rule| rule.functions.iter().cloned())
        .collect()
}

#[test]
fn every_sample_reaches_exactly_its_documented_consumers() {
    let rules = rules();
    let samples = samples();
    let documented = documented_consumers();
    assert!(!samples.is_empty(), "events/samples holds no samples");
    let mut problems = Vec::new();
    for (name, event) in &samples {
        let actual = receivers(&rules, event);
        match documented.get(name) {
            None => problems.push(format!(
                "{name}: not listed in consumers.json (reaches {actual:?})"
            )),
            Some(expected) if *expected != actual => problems.push(format!(
                "{name}: documented {expected:?}, template routes it to {actual:?}"
            )),
            Some(_) => {}
        }
    }
    for name in documented.keys().filter(|n| !samples.contains_key(*n)) {
        problems.push(format!(
            "{name}: listed in consumers.json but no such sample"
        ));
    }
    assert!(
        problems.is_empty(),
        "routing differs from the documentation:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_rule_matches_at_least_one_sample() {
    let rules = rules();
    assert!(
        !rules.is_empty(),
        "infra/template.yaml has no rule with a pattern"
    );
    let samples = samples();
    let dead: Vec<&str> = rules
        .iter()
        .filter(|rule| !samples.values().any(|event| rule.pattern.matches(event)))
        .map(|rule| rule.id.as_str())
        .collect();
    assert!(
        dead.is_empty(),
        "rules that match no sample in events/samples: {dead:?}"
    );
}
