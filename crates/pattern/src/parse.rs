//! Parsing and validation: pattern JSON to alternatives of field conditions.
//!
//! A pattern is an AND of fields; `$or` multiplies it into alternatives. Each
//! alternative ("sub-rule") is a list of [`FieldCondition`]s sorted by path, the form
//! the matching machine is built from.

use serde_json::{Map, Value};

use crate::cidr::Cidr;
use crate::error::PatternError;
use crate::matcher::{AffixSet, AnythingBut, LiteralSet, Matcher, NumericRange};
use crate::value::Literal;
use crate::wildcard::Wildcard;

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

/// Where the parser is: the event path and the path shown in errors.
#[derive(Clone)]
struct Place {
    /// The path of the object steps so far, every step after the first behind a dot
    /// (event-ruler's `Path.name()`: `{"": {"a": {...}}}` is `.a` inside).
    field: String,
    /// The path a match list here tests: `field` of the parent, a dot and the key, but
    /// without the dot when the parent's path is empty (event-ruler's
    /// `Path.extendedName()`): `{"": {"a": [...]}}` tests `a`, `{"": {"a": {"b": [...]}}}`
    /// tests `.a.b`. Events name their leaves the same way (`flatten.rs`).
    leaf: String,
    shown: String,
    at_root: bool,
    /// Objects and `$or` branches above this place.
    depth: usize,
    /// Bits of the doubles that the pattern's text wrote inexactly (see `numbers.rs`).
    inexact: std::rc::Rc<[u64]>,
    /// Bits of the doubles that the pattern's text (also) wrote exactly.
    exact: std::rc::Rc<[u64]>,
}

impl Place {
    fn root() -> Self {
        Self {
            field: String::new(),
            leaf: String::new(),
            shown: String::new(),
            at_root: true,
            depth: 0,
            inexact: std::rc::Rc::from(Vec::new()),
            exact: std::rc::Rc::from(Vec::new()),
        }
    }

    /// The place one key down.
    fn child(&self, key: &str) -> Self {
        Self {
            field: if self.at_root {
                key.to_owned()
            } else {
                format!("{}.{key}", self.field)
            },
            leaf: if self.field.is_empty() {
                key.to_owned()
            } else {
                format!("{}.{key}", self.field)
            },
            shown: join(&self.shown, key),
            at_root: false,
            depth: self.depth + 1,
            inexact: self.inexact.clone(),
            exact: self.exact.clone(),
        }
    }

    fn or_branch(&self, index: usize) -> Self {
        Self {
            field: self.field.clone(),
            leaf: self.leaf.clone(),
            shown: join(&self.shown, &format!("$or[{index}]")),
            at_root: self.at_root,
            depth: self.depth + 1,
            inexact: self.inexact.clone(),
            exact: self.exact.clone(),
        }
    }

    fn error(&self, reason: impl Into<String>) -> PatternError {
        PatternError::invalid(&self.shown, reason)
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

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
    let root = Place {
        inexact: std::rc::Rc::from(inexact),
        exact: std::rc::Rc::from(exact),
        ..Place::root()
    };
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
            matchers: parse_match_list(list, place)?,
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

fn parse_match_list(list: &[Value], place: &Place) -> Result<Vec<Matcher>, PatternError> {
    if list.is_empty() {
        return Err(place.error("empty arrays are not allowed; list at least one match value"));
    }
    list.iter()
        .map(|item| parse_match_value(item, place))
        .collect()
}

fn parse_match_value(item: &Value, place: &Place) -> Result<Matcher, PatternError> {
    match item {
        Value::Object(object) => {
            let mut entries = object.iter();
            match (entries.next(), entries.next()) {
                (Some((operator, operand)), None) => parse_operator(operator, operand, place),
                _ => Err(place.error(
                    "a match expression must be an object with exactly one operator",
                )),
            }
        }
        Value::Array(_) => Err(place.error(
            "match values must be a string, number, true, false, null or an operator object, not an array",
        )),
        Value::String(s) => Ok(match Cidr::single_address(s) {
            // EventBridge compares an exact value that reads as an IP address as an address.
            Some(address) => Matcher::Cidr(address),
            None => Matcher::Exact(Literal::Str(s.clone())),
        }),
        scalar => Ok(Matcher::Exact(literal(scalar, place)?)),
    }
}

fn literal(value: &Value, place: &Place) -> Result<Literal, PatternError> {
    Ok(match value {
        Value::String(s) => Literal::Str(s.clone()),
        Value::Number(n) => {
            let value = number(n, place)?;
            // Written only inexactly: compared by its text (a double written both ways is
            // taken as the exact one, as a parsed value cannot tell the two apart).
            let bits = value.to_bits();
            Literal::Num(
                if place.inexact.binary_search(&bits).is_ok()
                    && place.exact.binary_search(&bits).is_err()
                {
                    crate::numbers::inexact_marker(value)
                } else {
                    value
                },
            )
        }
        Value::Bool(b) => Literal::Bool(*b),
        Value::Null => Literal::Null,
        other => {
            return Err(place.error(format!(
                "expected a string, number, true, false or null, found {}",
                type_name(other)
            )));
        }
    })
}

fn number(n: &serde_json::Number, place: &Place) -> Result<f64, PatternError> {
    n.as_f64()
        .filter(|f| f.is_finite())
        .ok_or_else(|| place.error(format!("number {n} is out of range")))
}

/// A number EventBridge compares: exactly a double.
fn comparable_number(n: &serde_json::Number, place: &Place) -> Result<f64, PatternError> {
    let value = number(n, place)?;
    if place.inexact.binary_search(&value.to_bits()).is_ok() {
        return Err(place.error(format!(
            "number {n} is not exactly representable as a double; write it with at most 17 significant digits"
        )));
    }
    Ok(value)
}

fn parse_operator(operator: &str, operand: &Value, place: &Place) -> Result<Matcher, PatternError> {
    match operator {
        "prefix" => parse_affix(
            operand,
            place,
            "prefix",
            Matcher::Prefix,
            Matcher::PrefixIgnoreCase,
        ),
        "suffix" => parse_affix(
            operand,
            place,
            "suffix",
            Matcher::Suffix,
            Matcher::SuffixIgnoreCase,
        ),
        "equals-ignore-case" => match operand {
            Value::String(s) => Ok(Matcher::EqualsIgnoreCase(ignore_case_text(s))),
            _ => Err(place.error("equals-ignore-case expects a string")),
        },
        "wildcard" => match operand {
            Value::String(s) => Ok(Matcher::Wildcard(wildcard(s, place)?)),
            _ => Err(place.error("wildcard expects a string")),
        },
        "anything-but" => Ok(Matcher::AnythingBut(parse_anything_but(operand, place)?)),
        "numeric" => Ok(Matcher::Numeric(parse_numeric(operand, place)?)),
        "cidr" => match operand {
            Value::String(s) => Cidr::parse(s)
                .map(Matcher::Cidr)
                .map_err(|e| place.error(e)),
            _ => Err(place.error("cidr expects a string such as \"10.0.0.0/24\"")),
        },
        "exactly" => match operand {
            Value::String(s) => Ok(Matcher::Exact(Literal::Str(s.clone()))),
            _ => Err(place.error("exactly expects a string")),
        },
        "exists" => match operand {
            Value::Bool(b) => Ok(Matcher::Exists(*b)),
            _ => Err(place.error("exists expects true or false")),
        },
        unknown => Err(place.error(format!(
            "unknown operator \"{unknown}\"; operators are lower-case: prefix, suffix, \
             equals-ignore-case, wildcard, anything-but, numeric, cidr, exists, exactly"
        ))),
    }
}

/// The text an `equals-ignore-case` operand (also under `prefix`, `suffix` and
/// `anything-but`) stands for, as event-ruler v2.0.1 compiles it: one UTF-16 code unit at
/// a time, each unit encoded to UTF-8 alone, so a character beyond the Basic Multilingual
/// Plane (two units, two lone surrogates) becomes `??` (Java encodes a lone surrogate as
/// `?`). `{"equals-ignore-case": "😀"}` matches the event's `"??"`, not `"😀"`. No
/// AWS-recorded case shows EventBridge otherwise.
pub(crate) fn ignore_case_text(text: &str) -> String {
    if text.chars().all(|c| c.len_utf16() == 1) {
        return text.to_owned();
    }
    let mut compiled = String::with_capacity(text.len());
    for c in text.chars() {
        if c.len_utf16() == 1 {
            compiled.push(c);
        } else {
            compiled.push_str("??");
        }
    }
    compiled
}

fn parse_affix(
    operand: &Value,
    place: &Place,
    name: &str,
    exact: fn(String) -> Matcher,
    ignore_case: fn(String) -> Matcher,
) -> Result<Matcher, PatternError> {
    match operand {
        Value::String(s) => Ok(exact(s.clone())),
        Value::Object(object) => match (object.len(), object.get("equals-ignore-case")) {
            (1, Some(Value::String(s))) => Ok(ignore_case(ignore_case_text(s))),
            _ => Err(place.error(format!(
                "{name} expects a string or {{\"equals-ignore-case\": \"...\"}}"
            ))),
        },
        _ => Err(place.error(format!(
            "{name} expects a string or {{\"equals-ignore-case\": \"...\"}}"
        ))),
    }
}

fn wildcard(text: &str, place: &Place) -> Result<Wildcard, PatternError> {
    Wildcard::parse(text).map_err(|reason| place.error(reason))
}

fn parse_anything_but(operand: &Value, place: &Place) -> Result<AnythingBut, PatternError> {
    match operand {
        Value::String(_) | Value::Number(_) => Ok(AnythingBut::Values(LiteralSet::new(vec![
            anything_but_value(operand, place)?,
        ]))),
        Value::Array(items) if !items.is_empty() => {
            let values = items
                .iter()
                .map(|item| anything_but_value(item, place))
                .collect::<Result<Vec<_>, _>>()?;
            let strings = values
                .iter()
                .filter(|v| matches!(v, Literal::Str(_)))
                .count();
            if strings != 0 && strings != values.len() {
                return Err(place.error(
                    "an anything-but list must hold only strings or only numbers, not both",
                ));
            }
            Ok(AnythingBut::Values(LiteralSet::new(values)))
        }
        Value::Object(object) if object.len() == 1 => {
            let Some((operator, inner)) = object.iter().next() else {
                return Err(place.error("anything-but expects one operator"));
            };
            parse_anything_but_operator(operator, inner, place)
        }
        _ => Err(place.error(
            "anything-but expects a string, a number, a non-empty list of them, or one of \
             {\"prefix\"|\"suffix\"|\"equals-ignore-case\"|\"wildcard\": ...}",
        )),
    }
}

fn anything_but_value(item: &Value, place: &Place) -> Result<Literal, PatternError> {
    match item {
        Value::String(s) => Ok(Literal::Str(s.clone())),
        Value::Number(n) => Ok(Literal::Num(comparable_number(n, place)?)),
        other => Err(place.error(format!(
            "anything-but values must be strings or numbers, found {}",
            type_name(other)
        ))),
    }
}

fn parse_anything_but_operator(
    operator: &str,
    inner: &Value,
    place: &Place,
) -> Result<AnythingBut, PatternError> {
    let strings = || string_or_strings(inner, place, &format!("anything-but/{operator}"));
    match operator {
        "prefix" | "suffix" => {
            let values = strings()?;
            if values.iter().any(String::is_empty) {
                return Err(place.error(format!("anything-but/{operator} must not be empty")));
            }
            Ok(if operator == "prefix" {
                AnythingBut::Prefixes(AffixSet::new(values))
            } else {
                AnythingBut::Suffixes(AffixSet::new(values))
            })
        }
        "equals-ignore-case" => Ok(AnythingBut::IgnoreCase(
            strings()?.iter().map(|s| ignore_case_text(s)).collect(),
        )),
        "wildcard" => Ok(AnythingBut::Wildcards(
            strings()?
                .iter()
                .map(|s| wildcard(s, place))
                .collect::<Result<_, _>>()?,
        )),
        other => Err(place.error(format!(
            "anything-but does not support \"{other}\"; use prefix, suffix, equals-ignore-case or wildcard"
        ))),
    }
}

fn string_or_strings(
    value: &Value,
    place: &Place,
    what: &str,
) -> Result<Vec<String>, PatternError> {
    let error = || {
        place.error(format!(
            "{what} expects a string or a non-empty list of strings"
        ))
    };
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or_else(error))
            .collect(),
        _ => Err(error()),
    }
}

fn parse_numeric(operand: &Value, place: &Place) -> Result<NumericRange, PatternError> {
    const SHAPE: &str = "numeric expects an operator followed by a number";
    let Value::Array(terms) = operand else {
        return Err(place.error(format!("{SHAPE}, e.g. [\">\", 0, \"<=\", 5]")));
    };
    let pair = |index: usize| -> Result<(&str, f64), PatternError> {
        let operator = terms.get(index).and_then(Value::as_str);
        let value = terms.get(index + 1).and_then(Value::as_number);
        match (operator, value) {
            (Some(op), Some(n)) => Ok((op, comparable_number(n, place)?)),
            _ => Err(place.error(SHAPE)),
        }
    };
    let (first_op, first) = pair(0)?;
    let mut range = NumericRange {
        lower: None,
        upper: None,
    };
    match first_op {
        "=" => {
            range.lower = Some((first, true));
            range.upper = Some((first, true));
        }
        ">" | ">=" => range.lower = Some((first, first_op == ">=")),
        "<" | "<=" => range.upper = Some((first, first_op == "<=")),
        other => return Err(place.error(format!("numeric: unknown operator \"{other}\""))),
    }
    match terms.len() {
        2 => {
            // event-ruler cannot build a one-sided range that starts at the largest double
            // or ends at the lowest one (its rule compiler fails on them).
            if first_op != "="
                && (range.lower.is_some_and(|(n, _)| n == f64::MAX)
                    || range.upper.is_some_and(|(n, _)| n == -f64::MAX))
            {
                return Err(place.error(
                    "numeric: nothing lies beyond the largest double; compare with \"=\" instead",
                ));
            }
            Ok(range)
        }
        4 => {
            let (second_op, second) = pair(2)?;
            if range.upper.is_some() || !matches!(second_op, "<" | "<=") {
                return Err(place.error(
                    "numeric range must be a lower bound (> or >=) followed by an upper bound (< or <=)",
                ));
            }
            if second <= first {
                return Err(
                    place.error("numeric range: the lower bound must be below the upper bound")
                );
            }
            range.upper = Some((second, second_op == "<="));
            Ok(range)
        }
        _ => Err(place.error(format!("{SHAPE} (one bound) or two such pairs (a range)"))),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
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
