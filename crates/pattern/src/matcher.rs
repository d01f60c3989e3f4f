//! One condition on one leaf value: the union of the operator families, each of which
//! lives in its own module (`exact`, `affix`, `ignore_case`, `wildcard`, `numeric`,
//! `anything_but`, `cidr`, `exists`). Here a match list entry is sent to its family's
//! parser, and a leaf to its family's comparison.

use serde_json::Value;

use crate::affix::{self, Affix, AffixText};
use crate::anything_but::{self, AnythingBut};
use crate::cidr::{self, Cidr};
use crate::error::PatternError;
use crate::exact::{self, Literal};
use crate::exists;
use crate::ignore_case::{self, IgnoreCase};
use crate::numeric::{self, NumericRange};
use crate::place::Place;
use crate::value::LeafValue;
use crate::wildcard::{self, Wildcard};

/// One entry of a field's match list; the list matches when any entry does.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Matcher {
    /// An exact string, number, boolean or null.
    Exact(Literal),
    /// `{"prefix": "..."}`.
    Prefix(String),
    /// `{"prefix": {"equals-ignore-case": "..."}}` (see [`IgnoreCase`]).
    PrefixIgnoreCase(String),
    /// `{"suffix": "..."}`.
    Suffix(String),
    /// `{"suffix": {"equals-ignore-case": "..."}}` (see [`IgnoreCase`]).
    SuffixIgnoreCase(String),
    /// `{"equals-ignore-case": "..."}` (see [`IgnoreCase`]).
    EqualsIgnoreCase(String),
    /// `{"wildcard": "..."}`.
    Wildcard(Wildcard),
    /// `{"anything-but": ...}`.
    AnythingBut(AnythingBut),
    /// `{"numeric": [...]}`.
    Numeric(NumericRange),
    /// `{"cidr": "..."}`.
    Cidr(Cidr),
    /// `{"exists": true|false}`.
    Exists(bool),
}

impl Matcher {
    /// Whether a present leaf satisfies this matcher. `Exists(false)` never does: it is
    /// satisfied only by the absence of the field, which the caller checks.
    pub(crate) fn matches(&self, leaf: &LeafValue<'_>) -> bool {
        match self {
            Matcher::Exact(literal) => literal.equals(leaf),
            Matcher::Prefix(p) => leaf.as_str().is_some_and(|s| Affix::Prefix.matches(p, s)),
            Matcher::Suffix(p) => leaf.as_str().is_some_and(|s| Affix::Suffix.matches(p, s)),
            Matcher::PrefixIgnoreCase(p) => leaf
                .as_str()
                .is_some_and(|s| IgnoreCase::Prefix.matches(p, s)),
            Matcher::SuffixIgnoreCase(p) => leaf
                .as_str()
                .is_some_and(|s| IgnoreCase::Suffix.matches(p, s)),
            Matcher::EqualsIgnoreCase(p) => leaf
                .as_str()
                .is_some_and(|s| IgnoreCase::Equals.matches(p, s)),
            Matcher::Wildcard(w) => leaf.as_str().is_some_and(|s| w.matches(s)),
            Matcher::AnythingBut(not) => !not.excludes(leaf),
            Matcher::Numeric(range) => matches!(leaf, LeafValue::Num(n) if range.contains(*n)),
            Matcher::Cidr(cidr) => leaf.as_str().is_some_and(|s| cidr.contains(s)),
            Matcher::Exists(must_exist) => *must_exist,
        }
    }
}

/// A field's match list: at least one entry.
pub(crate) fn parse_list(list: &[Value], place: &Place) -> Result<Vec<Matcher>, PatternError> {
    if list.is_empty() {
        return Err(place.error("empty arrays are not allowed; list at least one match value"));
    }
    list.iter().map(|item| parse_entry(item, place)).collect()
}

/// One entry of a match list: an exact value, or an object with one operator.
fn parse_entry(item: &Value, place: &Place) -> Result<Matcher, PatternError> {
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
        scalar => Ok(Matcher::Exact(exact::parse(scalar, place)?)),
    }
}

/// An operator object's entry, sent to the parser of its family.
fn parse_operator(operator: &str, operand: &Value, place: &Place) -> Result<Matcher, PatternError> {
    match operator {
        "prefix" => Ok(match affix::parse(operand, place, Affix::Prefix)? {
            AffixText::Exact(text) => Matcher::Prefix(text),
            AffixText::IgnoreCase(text) => Matcher::PrefixIgnoreCase(text),
        }),
        "suffix" => Ok(match affix::parse(operand, place, Affix::Suffix)? {
            AffixText::Exact(text) => Matcher::Suffix(text),
            AffixText::IgnoreCase(text) => Matcher::SuffixIgnoreCase(text),
        }),
        "equals-ignore-case" => ignore_case::parse(operand, place).map(Matcher::EqualsIgnoreCase),
        "wildcard" => wildcard::parse(operand, place).map(Matcher::Wildcard),
        "anything-but" => anything_but::parse(operand, place).map(Matcher::AnythingBut),
        "numeric" => numeric::parse(operand, place).map(Matcher::Numeric),
        "cidr" => cidr::parse(operand, place).map(Matcher::Cidr),
        "exactly" => exact::parse_exactly(operand, place).map(Matcher::Exact),
        "exists" => exists::parse(operand, place).map(Matcher::Exists),
        unknown => Err(place.error(format!(
            "unknown operator \"{unknown}\"; operators are lower-case: prefix, suffix, \
             equals-ignore-case, wildcard, anything-but, numeric, cidr, exists, exactly"
        ))),
    }
}
