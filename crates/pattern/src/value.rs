//! Values at the leaves of events and patterns.

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

/// An exact value named in a pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    /// Matches the identical string.
    Str(String),
    /// Matches a number of equal value.
    Num(f64),
    /// Matches the same boolean.
    Bool(bool),
    /// Matches a field whose value is `null`.
    Null,
}

impl Literal {
    /// Whether the leaf holds exactly this value.
    pub(crate) fn equals(&self, leaf: &LeafValue<'_>) -> bool {
        match (self, leaf) {
            (Literal::Str(a), LeafValue::Str(b)) => a == b,
            (Literal::Num(a), LeafValue::Num(b)) => number_key(*a) == number_key(*b),
            (Literal::Bool(a), LeafValue::Bool(b)) => a == b,
            (Literal::Null, LeafValue::Null) => true,
            _ => false,
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
