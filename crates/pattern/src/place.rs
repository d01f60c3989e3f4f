//! Where the pattern parser stands: the event path a match list tests, the path shown in
//! errors, and what the pattern's text told about its numbers. Each operator's parser
//! reports its errors through it.

use std::rc::Rc;

use serde_json::Value;

use crate::error::PatternError;

/// Where the parser is: the event path and the path shown in errors.
#[derive(Clone)]
pub(crate) struct Place {
    /// The path of the object steps so far, every step after the first behind a dot
    /// (event-ruler's `Path.name()`: `{"": {"a": {...}}}` is `.a` inside).
    pub(crate) field: String,
    /// The path a match list here tests: `field` of the parent, a dot and the key, but
    /// without the dot when the parent's path is empty (event-ruler's
    /// `Path.extendedName()`): `{"": {"a": [...]}}` tests `a`, `{"": {"a": {"b": [...]}}}`
    /// tests `.a.b`. Events name their leaves the same way (`flatten.rs`).
    pub(crate) leaf: String,
    shown: String,
    pub(crate) at_root: bool,
    /// Objects and `$or` branches above this place.
    pub(crate) depth: usize,
    /// Bits of the doubles that the pattern's text wrote inexactly (see `numbers.rs`).
    inexact: Rc<[u64]>,
    /// Bits of the doubles that the pattern's text (also) wrote exactly.
    exact: Rc<[u64]>,
}

impl Place {
    /// The top of a pattern whose text wrote the doubles `inexact` inexactly and the
    /// doubles `exact` exactly (their bits, each list sorted).
    pub(crate) fn root(inexact: Vec<u64>, exact: Vec<u64>) -> Self {
        Self {
            field: String::new(),
            leaf: String::new(),
            shown: String::new(),
            at_root: true,
            depth: 0,
            inexact: Rc::from(inexact),
            exact: Rc::from(exact),
        }
    }

    /// The place one key down.
    pub(crate) fn child(&self, key: &str) -> Self {
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

    pub(crate) fn or_branch(&self, index: usize) -> Self {
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

    pub(crate) fn error(&self, reason: impl Into<String>) -> PatternError {
        PatternError::invalid(&self.shown, reason)
    }

    /// Whether the pattern's text wrote the double with these bits only inexactly (a
    /// double written both ways is taken as the exact one, as a parsed value cannot
    /// tell the two apart).
    pub(crate) fn wrote_only_inexactly(&self, bits: u64) -> bool {
        self.inexact.binary_search(&bits).is_ok() && self.exact.binary_search(&bits).is_err()
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

pub(crate) fn number(n: &serde_json::Number, place: &Place) -> Result<f64, PatternError> {
    n.as_f64()
        .filter(|f| f.is_finite())
        .ok_or_else(|| place.error(format!("number {n} is out of range")))
}

/// A number EventBridge compares: exactly a double.
pub(crate) fn comparable_number(
    n: &serde_json::Number,
    place: &Place,
) -> Result<f64, PatternError> {
    let value = number(n, place)?;
    if place.inexact.binary_search(&value.to_bits()).is_ok() {
        return Err(place.error(format!(
            "number {n} is not exactly representable as a double; write it with at most 17 significant digits"
        )));
    }
    Ok(value)
}

pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
