//! The crate's layout, read from its sources: the files of `src/` import each other
//! without a circle (`use crate::…` lines and `crate::` paths alike, tests left out), an
//! operator family's module knows nothing of events or of the machine, the event readers
//! know no operator, no file is over 800 lines outside its tests, and the crate depends
//! on no AWS SDK and no other eventrail crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One module per operator family: its operand, its comparison, its index.
const OPERATORS: &[&str] = &[
    "affix",
    "anything_but",
    "cidr",
    "exact",
    "exists",
    "ignore_case",
    "numeric",
    "wildcard",
];

/// What an operator's module may import besides other operators.
const OPERATOR_MAY_USE: &[&str] = &["affix_table", "error", "ids", "numbers", "place", "value"];

/// The event side: the path index and the readers of events.
const EVENT_READERS: &[&str] = &["paths", "trie", "flatten", "scan", "json_bytes", "scratch"];

/// Most lines of a source file outside its `#[cfg(test)]` module.
const MOST_LINES: usize = 800;

/// Each module's text without its test module (tests come last in every file).
fn sources() -> BTreeMap<String, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
        let path = entry.expect("an entry of src/").path();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        // A test module kept in a file of its own (`#[path = "scan_tests.rs"] mod tests`).
        if path.extension().is_none_or(|e| e != "rs") || name.ends_with("_tests") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a source file is readable");
        let code = match text
            .find("\n#[cfg(test)]\nmod tests")
            .or_else(|| text.find("\n#[cfg(test)]\n#[path"))
        {
            Some(at) => text[..at].to_owned(),
            None => text,
        };
        files.insert(name.to_owned(), code);
    }
    files
}

/// The modules of the crate a module's code names: `crate::x`, `crate::{x, y::z}`.
fn imports(code: &str, modules: &BTreeSet<String>, own: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            group
                .split(',')
                .filter_map(|item| item.trim().split("::").next())
                .collect()
        } else {
            rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()
                .into_iter()
                .collect()
        };
        for name in names {
            if name != own && modules.contains(name) {
                found.insert(name.to_owned());
            }
        }
    }
    found
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let files = sources();
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    files
        .iter()
        .filter(|(name, _)| name.as_str() != "lib")
        .map(|(name, code)| (name.clone(), imports(code, &modules, name)))
        .collect()
}

/// A circle of imports, if there is one (depth-first search).
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn files_import_each_other_without_a_circle() {
    let graph = graph();
    assert!(graph.contains_key("machine") && graph.contains_key("numeric"));
    if let Some(found) = circle(&graph) {
        panic!("import circle: {}", found.join(" -> "));
    }
}

#[test]
fn an_operator_knows_nothing_of_events_or_the_machine() {
    for (name, uses) in graph() {
        if !OPERATORS.contains(&name.as_str()) {
            continue;
        }
        for used in uses {
            assert!(
                OPERATORS.contains(&used.as_str()) || OPERATOR_MAY_USE.contains(&used.as_str()),
                "the operator module {name}.rs imports {used}.rs"
            );
        }
    }
}

#[test]
fn the_event_readers_know_no_operator() {
    for (name, uses) in graph() {
        if !EVENT_READERS.contains(&name.as_str()) {
            continue;
        }
        for used in uses {
            assert!(
                !OPERATORS.contains(&used.as_str())
                    && !["matcher", "parse", "machine", "transitions"].contains(&used.as_str()),
                "the event reader {name}.rs imports {used}.rs"
            );
        }
    }
}

#[test]
fn no_file_is_over_800_lines_outside_its_tests() {
    for (name, code) in sources() {
        let lines = code.lines().count();
        assert!(
            lines <= MOST_LINES,
            "src/{name}.rs has {lines} lines outside its tests"
        );
    }
}

#[test]
fn the_engine_depends_on_no_sdk_and_no_other_eventrail_crate() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .expect("Cargo.toml is readable");
    let mut section = "";
    let mut dependencies = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        if section == "[dependencies]"
            && let Some((name, _)) = line.split_once('=')
            && !line.starts_with('#')
        {
            dependencies.push(name.trim().to_owned());
        }
    }
    assert!(
        dependencies.iter().any(|d| d == "serde_json"),
        "{dependencies:?}"
    );
    for name in dependencies {
        assert!(
            !name.starts_with("aws") && !name.starts_with("eventrail"),
            "eventrail-pattern depends on {name}"
        );
    }
}
