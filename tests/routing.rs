//! Offline routing checks: the rules of infra/template.yaml against events/samples.
//!
//! - every sample reaches exactly the functions events/consumers.json documents for it;
//! - every rule with a pattern matches at least one sample (a rule that can never fire
//!   fails the test with its name).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use eventrail_template::{Router, Template};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

fn template() -> Template {
    Template::load(repo().join("infra/template.yaml")).expect("infra/template.yaml loads")
}

fn router() -> Router {
    Router::from_template(&template()).expect("every rule's pattern is valid")
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

fn receivers(router: &Router, event: &Value) -> BTreeSet<String> {
    router.functions_for(event).into_iter().collect()
}

#[test]
fn every_sample_reaches_exactly_its_documented_consumers() {
    let router = router();
    let samples = samples();
    let documented = documented_consumers();
    assert!(!samples.is_empty(), "events/samples holds no samples");
    let mut problems = Vec::new();
    for (name, event) in &samples {
        let actual = receivers(&router, event);
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
    let template = template();
    let with_pattern: BTreeSet<String> = template
        .rules()
        .iter()
        .filter(|rule| rule.pattern.is_some())
        .map(|rule| rule.logical_id.clone())
        .collect();
    assert!(
        !with_pattern.is_empty(),
        "infra/template.yaml has no rule with a pattern"
    );
    let router = Router::from_template(&template).expect("every rule's pattern is valid");
    let fired: BTreeSet<String> = samples()
        .values()
        .flat_map(|event| {
            router
                .routes(event)
                .into_iter()
                .map(|route| route.rule.clone())
        })
        .collect();
    let dead: Vec<&String> = with_pattern.difference(&fired).collect();
    assert!(
        dead.is_empty(),
        "rules that match no sample in events/samples: {dead:?}"
    );
}
