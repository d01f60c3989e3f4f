//! Exact values: a string, number, boolean or null named in a match list (and the
//! `exactly` operator), how a leaf is compared with one, and their index (hash maps).

use serde_json::Value;

use crate::error::PatternError;
use crate::ids::StateId;
use crate::numbers::inexact_marker;
use crate::place::{Place, number, type_name};
use crate::value::{LeafValue, number_key};

type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

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

/// A scalar of a match list. A number the pattern's text wrote only inexactly is
/// compared by its text (see `numbers.rs`).
pub(crate) fn parse(value: &Value, place: &Place) -> Result<Literal, PatternError> {
    Ok(match value {
        Value::String(s) => Literal::Str(s.clone()),
        Value::Number(n) => {
            let value = number(n, place)?;
            Literal::Num(if place.wrote_only_inexactly(value.to_bits()) {
                inexact_marker(value)
            } else {
                value
            })
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

/// `{"exactly": "..."}`: the string itself, even one that reads as an IP address.
pub(crate) fn parse_exactly(operand: &Value, place: &Place) -> Result<Literal, PatternError> {
    match operand {
        Value::String(s) => Ok(Literal::Str(s.clone())),
        _ => Err(place.error("exactly expects a string")),
    }
}

/// Exact values out of one state on one field: a hash map per kind of value.
#[derive(Debug, Clone, Default)]
pub(crate) struct ExactIndex {
    strings: Map<Box<str>, Vec<StateId>>,
    numbers: Map<u64, Vec<StateId>>,
    booleans: [Vec<StateId>; 2],
    nulls: Vec<StateId>,
}

impl ExactIndex {
    pub(crate) fn insert(&mut self, literal: &Literal, next: StateId) {
        match literal {
            Literal::Str(s) => self
                .strings
                .entry(s.as_str().into())
                .or_default()
                .push(next),
            Literal::Num(n) => self.numbers.entry(number_key(*n)).or_default().push(next),
            Literal::Bool(b) => self.booleans[usize::from(*b)].push(next),
            Literal::Null => self.nulls.push(next),
        }
    }

    /// Next states of the string `s`.
    #[inline]
    pub(crate) fn string(&self, s: &str) -> Option<&[StateId]> {
        self.strings.get(s).map(Vec::as_slice)
    }

    /// Next states of the number `n`.
    #[inline]
    pub(crate) fn number(&self, n: f64) -> Option<&[StateId]> {
        self.numbers.get(&number_key(n)).map(Vec::as_slice)
    }

    /// Next states of the boolean `b`.
    #[inline]
    pub(crate) fn boolean(&self, b: bool) -> &[StateId] {
        &self.booleans[usize::from(b)]
    }

    /// Next states of `null`.
    #[inline]
    pub(crate) fn null(&self) -> &[StateId] {
        &self.nulls
    }
}
