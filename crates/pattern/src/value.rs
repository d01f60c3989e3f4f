//! Values at the leaves of events, and the hash key of a number.

use std::borrow::Cow;

/// A scalar found at a leaf of an event (objects and arrays are never leaves).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LeafValue<'a> {
    /// A JSON string.
    Str(Cow<'a, str>),
    /// A JSON number, compared numerically (`300` equals `300.0`).
    Num(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `null`: a present field whose value is null.
    Null,
}

impl LeafValue<'_> {
    /// The string, if this leaf is one.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            LeafValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Hash key of a number: equal numbers (including `0.0` and `-0.0`) share one key.
pub(crate) fn number_key(n: f64) -> u64 {
    if n == 0.0 { 0 } else { n.to_bits() }
}

#[cfg(test)]
impl LeafValue<'_> {
    /// Detaches a non-string leaf from its input (test helper).
    pub(crate) fn into_owned_static(self) -> LeafValue<'static> {
        match self {
            LeafValue::Str(s) => LeafValue::Str(std::borrow::Cow::Owned(s.into_owned())),
            LeafValue::Num(n) => LeafValue::Num(n),
            LeafValue::Bool(b) => LeafValue::Bool(b),
            LeafValue::Null => LeafValue::Null,
        }
    }
}
