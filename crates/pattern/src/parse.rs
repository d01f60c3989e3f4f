//! The structure of a pattern: objects, dotted keys and `$or`, to alternatives of field
//! conditions, within the limits on nesting and `$or` growth. What a match list holds
//! is read by the operator families (`matcher.rs` sends each entry to its own).
//!
//! A pattern is an AND of fields; `$or` multiplies it into alternatives. Each
//! alternative ("sub-rule") is a list of [`FieldCondition`]s sorted by path, the form
//! the matching machine is built from.

use serde_json::{Map, Value};

use crate::error::PatternError;
use crate::matcher::{self, Matcher};
use crate::place::{Place, type_name};

/// Most alternatives one pattern may expand to through `$or`.
pub(crate) const MAX_ALTERNATIVES: usize = 1024;

/// Deepest nesting of objects and `$or` branches a pattern may have. `Pattern::parse`
/// stops earlier (the JSON reader refuses more than 128 levels); this bounds the
/// recursion for patterns built as values.
pub(crate) const MAX_PATTERN_DEPTH: usize = 100;

/// The match list of one field: the field matches when any matcher does.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldCondition {
    /// Dotted path of the field in the event (`detail.data.task.priority`).
    pub(crate) path: String,
    /// Alternatives for the field's value.
    pub(crate) matchers: Vec<Matcher>,
}

/// One conjunction of field conditions, sorted by path.
pub(crate) type SubRule = Vec<FieldCondition>;

/// Validates a pattern and expands it into sorted sub-rules.
pub(crate) fn parse_pattern(pattern: &Value) -> Result<Vec<SubRule>, PatternError> {
    parse_pattern_with(pattern, (Vec::new(), Vec::new()))
}

/// [`parse_pattern`], knowing which doubles the pattern's text wrote inexactly.
pub(crate) fn parse_pattern_with(
    pattern: &Value,
    (mut inexact, mut exact): (Vec<u64>, Vec<u64>),
) -> Result<Vec<SubRule>, PatternError> {
    // Sorted for binary search: a pattern with 100,000 numbers looks each one up in log time.
    inexact.sort_unstable();
    exact.sort_unstable();
    let root = Place::root(inexact, exact);
    let Value::Object(object) = pattern else {
        return Err(root.error(format!(
            "a pattern must be a JSON object, found {}",
            type_name(pattern)
        )));
    };
    let mut alternatives = parse_object(object, &root)?;
    for sub_rule in &mut alternatives {
        sub_rule.sort_by(|a, b| a.path.cmp(&b.path));
    }
    Ok(alternatives)
}

fn parse_object(object: &Map<String, Value>, place: &Place) -> Result<Vec<SubRule>, PatternError> {
    if object.is_empty() {
        return Err(place.error("an empty object matches nothing; name at least one field"));
    }
    if place.depth > MAX_PATTERN_DEPTH {
        return Err(place.error(format!(
            "rule is too complex: objects and $or branches nest more than {MAX_PATTERN_DEPTH} levels deep; flatten the pattern (dotted keys name nested fields)"
        )));
    }
    let mut alternatives: Vec<SubRule> = vec![Vec::new()];
    // The fields first, then `$or`, whose branches override them.
    let fields = object.iter().filter(|(key, _)| *key != "$or");
    for (key, value) in fields.chain(object.get_key_value("$or")) {
        let branch = if key == "$or" {
            parse_or(value, place)?
        } else {
            parse_field(value, &place.child(key))?
        };
        alternatives = cross(alternatives, &branch, place)?;
    }
    Ok(alternatives)
}

fn parse_field(value: &Value, place: &Place) -> Result<Vec<SubRule>, PatternError> {
    match value {
        Value::Object(object) => parse_object(object, place),
        Value::Array(list) => Ok(vec![vec![FieldCondition {
            path: place.leaf.clone(),
            matchers: matcher::parse_list(list, place)?,
        }]]),
        other => Err(place.error(format!(
            "expected an array of match values or a nested object, found {}; wrap the value in [ ]",
            type_name(other)
        ))),
    }
}

fn parse_or(value: &Value, place: &Place) -> Result<Vec<SubRule>, PatternError> {
    let shown = place.child("$or");
    let Value::Array(branches) = value else {
        return Err(shown.error("$or expects an array of at least two pattern objects"));
    };
    if branches.len() < 2 {
        return Err(shown.error("$or expects an array of at least two pattern objects"));
    }
    let mut alternatives = Vec::new();
    for (index, branch) in branches.iter().enumerate() {
        let branch_place = place.or_branch(index);
        let Value::Object(object) = branch else {
            return Err(branch_place.error(format!(
                "each $or entry must be a pattern object, found {}",
                type_name(branch)
            )));
        };
        alternatives.extend(parse_object(object, &branch_place)?);
        check_alternative_count(alternatives.len(), place)?;
    }
    Ok(alternatives)
}

/// Every combination of one left alternative with one right alternative.
fn cross(
    left: Vec<SubRule>,
    right: &[SubRule],
    place: &Place,
) -> Result<Vec<SubRule>, PatternError> {
    check_alternative_count(left.len().saturating_mul(right.len()), place)?;
    let mut out = Vec::with_capacity(left.len() * right.len());
    for l in &left {
        for r in right {
            // A field named again replaces the earlier list, as EventBridge (event-ruler's
            // rule overriding) does: a field of an `$or` branch overrides the same field
            // outside the `$or`, and `{"a.b": ...}` beside `{"a": {"b": ...}}` keeps one.
            let mut combined: SubRule = l
                .iter()
                .filter(|c| r.iter().all(|o| o.path != c.path))
                .cloned()
                .collect();
            combined.extend(r.iter().cloned());
            out.push(combined);
        }
    }
    Ok(out)
}

fn check_alternative_count(count: usize, place: &Place) -> Result<(), PatternError> {
    if count > MAX_ALTERNATIVES {
        return Err(place.error(format!(
            "rule is too complex: $or expands to more than {MAX_ALTERNATIVES} alternatives (each $or multiplies the alternatives of the others); split it into several rules"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn error_of(pattern: Value) -> String {
        parse_pattern(&pattern).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_path() {
        assert_eq!(
            error_of(json!({"detail": {"total": [{"numeric": [">"]}]}})),
            "detail.total: numeric expects an operator followed by a number"
        );
        assert!(
            error_of(json!({"detail": {"total": 5}}))
                .starts_with("detail.total: expected an array")
        );
        assert!(
            error_of(json!({"a": [{"EXISTS": true}]}))
                .starts_with("a: unknown operator \"EXISTS\"")
        );
        assert!(
            error_of(json!({"$or": [{"a": ["x"]}, {"b": []}]}))
                .starts_with("$or[1].b: empty arrays")
        );
        assert!(error_of(json!([1])).starts_with("<root>: a pattern must be a JSON object"));
    }

    #[test]
    fn or_expands_into_sorted_alternatives() {
        let rules = parse_pattern(&json!({
            "z": ["1"],
            "$or": [{"a": ["2"]}, {"m": {"n": ["3"]}}]
        }))
        .unwrap();
        let paths: Vec<Vec<&str>> = rules
            .iter()
            .map(|r| r.iter().map(|c| c.path.as_str()).collect())
            .collect();
        assert_eq!(paths, vec![vec!["a", "z"], vec!["m.n", "z"]]);
    }

    #[test]
    fn or_explosion_is_rejected() {
        let branch = json!({"$or": [{"a": ["1"]}, {"b": ["2"]}, {"c": ["3"]}, {"d": ["4"]}]});
        let mut pattern = serde_json::Map::new();
        for i in 0..6 {
            pattern.insert(format!("k{i}"), branch.clone());
        }
        assert!(error_of(Value::Object(pattern)).contains("too complex"));
    }

    #[test]
    fn numeric_shapes() {
        assert!(parse_pattern(&json!({"n": [{"numeric": [">", 0, "<=", 5]}]})).is_ok());
        assert!(parse_pattern(&json!({"n": [{"numeric": ["=", 5, "<", 9]}]})).is_err());
        assert!(parse_pattern(&json!({"n": [{"numeric": [">", 5, "<", 5]}]})).is_err());
        assert!(parse_pattern(&json!({"n": [{"numeric": [">", 0, "<", 5, "<", 6]}]})).is_err());
        assert!(parse_pattern(&json!({"n": [{"numeric": ["!=", 5]}]})).is_err());
    }
}
