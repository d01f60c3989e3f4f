//! One condition on one leaf value: the operators of the pattern language.

use crate::cidr::Cidr;
use crate::value::{LeafValue, Literal};
use crate::wildcard::Wildcard;

/// One entry of a field's match list; the list matches when any entry does.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Matcher {
    /// An exact string, number, boolean or null.
    Exact(Literal),
    /// `{"prefix": "..."}`.
    Prefix(String),
    /// `{"prefix": {"equals-ignore-case": "..."}}`, stored lower-cased.
    PrefixIgnoreCase(String),
    /// `{"suffix": "..."}`.
    Suffix(String),
    /// `{"suffix": {"equals-ignore-case": "..."}}`, stored lower-cased.
    SuffixIgnoreCase(String),
    /// `{"equals-ignore-case": "..."}`, stored lower-cased.
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

/// The forms of `anything-but`: a leaf matches when it is present and none of the
/// listed alternatives hold for it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AnythingBut {
    /// Any value except these strings and numbers.
    Values(Vec<Literal>),
    /// Any value not starting with one of these.
    Prefixes(Vec<String>),
    /// Any value not ending with one of these.
    Suffixes(Vec<String>),
    /// Any value not equal, ignoring case, to one of these (stored lower-cased).
    IgnoreCase(Vec<String>),
    /// Any value not matching one of these wildcards.
    Wildcards(Vec<Wildcard>),
}

/// A numeric interval; `=` is a closed interval of one point.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NumericRange {
    /// Lower bound and whether it is inclusive.
    pub(crate) lower: Option<(f64, bool)>,
    /// Upper bound and whether it is inclusive.
    pub(crate) upper: Option<(f64, bool)>,
}

impl NumericRange {
    fn contains(&self, n: f64) -> bool {
        let above = match self.lower {
            Some((low, true)) => n >= low,
            Some((low, false)) => n > low,
            None => true,
        };
        let below = match self.upper {
            Some((high, true)) => n <= high,
            Some((high, false)) => n < high,
            None => true,
        };
        above && below
    }
}

impl Matcher {
    /// Whether a present leaf satisfies this matcher. `Exists(false)` never does: it is
    /// satisfied only by the absence of the field, which the caller checks.
    pub(crate) fn matches(&self, leaf: &LeafValue<'_>) -> bool {
        match self {
            Matcher::Exact(literal) => literal.equals(leaf),
            Matcher::Prefix(p) => leaf.as_str().is_some_and(|s| s.starts_with(p.as_str())),
            Matcher::Suffix(p) => leaf.as_str().is_some_and(|s| s.ends_with(p.as_str())),
            Matcher::PrefixIgnoreCase(p) => leaf
                .as_str()
                .is_some_and(|s| s.to_lowercase().starts_with(p.as_str())),
            Matcher::SuffixIgnoreCase(p) => leaf
                .as_str()
                .is_some_and(|s| s.to_lowercase().ends_with(p.as_str())),
            Matcher::EqualsIgnoreCase(p) => leaf.as_str().is_some_and(|s| s.to_lowercase() == *p),
            Matcher::Wildcard(w) => leaf.as_str().is_some_and(|s| w.matches(s)),
            Matcher::AnythingBut(not) => !not.excludes(leaf),
            Matcher::Numeric(range) => matches!(leaf, LeafValue::Num(n) if range.contains(*n)),
            Matcher::Cidr(cidr) => leaf.as_str().is_some_and(|s| cidr.contains(s)),
            Matcher::Exists(must_exist) => *must_exist,
        }
    }
}

impl AnythingBut {
    /// Whether the leaf is one of the excluded values.
    fn excludes(&self, leaf: &LeafValue<'_>) -> bool {
        match self {
            AnythingBut::Values(values) => values.iter().any(|v| v.equals(leaf)),
            AnythingBut::Prefixes(ps) => leaf
                .as_str()
                .is_some_and(|s| ps.iter().any(|p| s.starts_with(p.as_str()))),
            AnythingBut::Suffixes(ps) => leaf
                .as_str()
                .is_some_and(|s| ps.iter().any(|p| s.ends_with(p.as_str()))),
            AnythingBut::IgnoreCase(ps) => leaf
                .as_str()
                .is_some_and(|s| ps.contains(&s.to_lowercase())),
            AnythingBut::Wildcards(ws) => leaf
                .as_str()
                .is_some_and(|s| ws.iter().any(|w| w.matches(s))),
        }
    }
}
