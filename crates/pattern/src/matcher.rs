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
    /// Any value not equal, ignoring case, to one of these (see [`IgnoreCase`]).
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
                .is_some_and(|s| ps.iter().any(|p| IgnoreCase::Equals.matches(p, s))),
            AnythingBut::Wildcards(ws) => leaf
                .as_str()
                .is_some_and(|s| ws.iter().any(|w| w.matches(s))),
        }
    }
}

/// How `equals-ignore-case` compares, as EventBridge (event-ruler) does: each character
/// of the pattern stands for its lower-case or its upper-case form, with Unicode's full
/// mappings (`ß` is `ß` or `SS`, `ﬀ` is `ﬀ` or `FF`, `µ` is `µ` or `Μ`); the event's text
/// must spell one of those forms character run by character run. A title-case letter
/// (`ǅ`) is thus only its lower (`ǆ`) or upper (`Ǆ`) form.
#[derive(Debug, Clone, Copy)]
pub(crate) enum IgnoreCase {
    /// The whole value.
    Equals,
    /// The start of the value.
    Prefix,
    /// The end of the value.
    Suffix,
}

impl IgnoreCase {
    /// Whether `value` (or its start or end) spells `pattern` ignoring case.
    pub(crate) fn matches(self, pattern: &str, value: &str) -> bool {
        let forms: Vec<[String; 2]> = pattern
            .chars()
            .map(|c| [c.to_lowercase().collect(), c.to_uppercase().collect()])
            .collect();
        match self {
            IgnoreCase::Equals => spell_forward(&forms, value, true),
            IgnoreCase::Prefix => spell_forward(&forms, value, false),
            IgnoreCase::Suffix => spell_backward(&forms, value),
        }
    }
}

fn spell_forward(forms: &[[String; 2]], value: &str, whole: bool) -> bool {
    let Some((first, rest)) = forms.split_first() else {
        return !whole || value.is_empty();
    };
    first.iter().enumerate().any(|(i, form)| {
        (i == 0 || *form != first[0])
            && value
                .strip_prefix(form.as_str())
                .is_some_and(|tail| spell_forward(rest, tail, whole))
    })
}

fn spell_backward(forms: &[[String; 2]], value: &str) -> bool {
    let Some((last, rest)) = forms.split_last() else {
        return true;
    };
    last.iter().enumerate().any(|(i, form)| {
        (i == 0 || *form != last[0])
            && value
                .strip_suffix(form.as_str())
                .is_some_and(|head| spell_backward(rest, head))
    })
}

#[cfg(test)]
mod tests {
    use super::IgnoreCase;

    #[test]
    fn ignore_case_uses_each_characters_lower_and_upper_forms() {
        let equals = |p, v| IgnoreCase::Equals.matches(p, v);
        assert!(equals("EventB", "eventb"));
        assert!(equals("ß", "SS"));
        assert!(equals("ß", "ß"));
        assert!(!equals("SS", "ß"));
        assert!(equals("µ", "Μ"));
        assert!(equals("ﬀ", "FF"));
        assert!(!equals("ǅ", "ǅ"));
        assert!(equals("😀", "😀"));
        assert!(IgnoreCase::Prefix.matches("ab", "ABc"));
        assert!(IgnoreCase::Suffix.matches("ß", "xSS"));
        assert!(!IgnoreCase::Suffix.matches("ß", "xS"));
    }
}
