//! A direct, unoptimised evaluator used to cross-check the machine in tests.

use std::borrow::Cow;

use serde_json::Value;

use crate::ids::Membership;
use crate::matcher::Matcher;
use crate::parse::{FieldCondition, SubRule};
use crate::paths::names_empty_step;
use crate::value::LeafValue;

struct Leaf<'a> {
    path: String,
    value: LeafValue<'a>,
    arrays: Vec<Membership>,
}

/// Whether any alternative matches the event.
pub(crate) fn matches(alternatives: &[SubRule], event: &Value) -> bool {
    if !event.is_object() {
        return false;
    }
    let mut leaves = Vec::new();
    let mut next_array = 0;
    let empty_step = alternatives
        .iter()
        .flatten()
        .any(|condition| names_empty_step(&condition.path));
    collect(
        event,
        "",
        0,
        empty_step,
        &mut Vec::new(),
        &mut next_array,
        &mut leaves,
    );
    alternatives.iter().any(|rule| search(rule, &leaves, &[]))
}

fn collect<'a>(
    value: &'a Value,
    path: &str,
    depth: usize,
    empty_step: bool,
    arrays: &mut Vec<Membership>,
    next_array: &mut u32,
    out: &mut Vec<Leaf<'a>>,
) {
    let leaf = |value| Leaf {
        path: path.to_owned(),
        value,
        arrays: arrays.clone(),
    };
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key.is_empty() && !empty_step {
                    continue;
                }
                let child_path = if depth == 0 {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                collect(
                    child,
                    &child_path,
                    depth + 1,
                    empty_step,
                    arrays,
                    next_array,
                    out,
                );
            }
        }
        Value::Array(items) => {
            *next_array += 1;
            let id = *next_array;
            for (i, item) in items.iter().enumerate() {
                arrays.push((id, i as u32));
                collect(item, path, depth, empty_step, arrays, next_array, out);
                arrays.pop();
            }
        }
        Value::String(s) => out.push(leaf(LeafValue::Str(Cow::Borrowed(s)))),
        Value::Number(n) => out.push(leaf(LeafValue::Num(n.as_f64().unwrap_or(f64::NAN)))),
        Value::Bool(b) => out.push(leaf(LeafValue::Bool(*b))),
        Value::Null => out.push(leaf(LeafValue::Null)),
    }
}

fn search(rule: &[FieldCondition], leaves: &[Leaf<'_>], chosen: &[Membership]) -> bool {
    let Some((condition, rest)) = rule.split_first() else {
        return true;
    };
    let mut at_path = leaves
        .iter()
        .filter(|l| l.path == condition.path)
        .peekable();
    if at_path.peek().is_none() {
        return condition.matchers.contains(&Matcher::Exists(false))
            && search(rest, leaves, chosen);
    }
    at_path.any(|leaf| {
        let consistent = leaf
            .arrays
            .iter()
            .all(|(a, i)| chosen.iter().all(|(b, j)| a != b || i == j));
        consistent && condition.matchers.iter().any(|m| m.matches(&leaf.value)) && {
            let mut merged = chosen.to_vec();
            merged.extend(leaf.arrays.iter().filter(|m| !chosen.contains(m)));
            search(rest, leaves, &merged)
        }
    })
}
