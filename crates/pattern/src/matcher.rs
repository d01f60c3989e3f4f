//! One condition on one leaf value: the operators of the pattern language.

use crate::cidr::Cidr;
use crate::value::{LeafValue, Literal, number_key};
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
    /// Any value except these strings and numbers (hashed: a 100,000-value list costs
    /// one lookup per leaf, not 100,000 comparisons).
    Values(LiteralSet),
    /// Any value not starting with one of these.
    Prefixes(AffixSet),
    /// Any value not ending with one of these.
    Suffixes(AffixSet),
    /// Any value not equal, ignoring case, to one of these (see [`IgnoreCase`]).
    IgnoreCase(Vec<String>),
    /// Any value not matching one of these wildcards.
    Wildcards(Vec<Wildcard>),
}

/// The values of an `anything-but` list, in pattern order, with hash lookups beside them.
#[derive(Clone)]
pub(crate) struct LiteralSet {
    list: Vec<Literal>,
    strings: std::collections::HashSet<String, foldhash::fast::FixedState>,
    numbers: std::collections::HashSet<u64, foldhash::fast::FixedState>,
}

impl LiteralSet {
    pub(crate) fn new(list: Vec<Literal>) -> Self {
        let mut strings = std::collections::HashSet::default();
        let mut numbers = std::collections::HashSet::default();
        for literal in &list {
            match literal {
                Literal::Str(s) => {
                    strings.insert(s.clone());
                }
                Literal::Num(n) => {
                    numbers.insert(number_key(*n));
                }
                Literal::Bool(_) | Literal::Null => {}
            }
        }
        Self {
            list,
            strings,
            numbers,
        }
    }

    /// Whether the leaf equals one of the values.
    fn contains(&self, leaf: &LeafValue<'_>) -> bool {
        match leaf {
            LeafValue::Str(s) => self.strings.contains(s.as_ref()),
            LeafValue::Num(n) => self.numbers.contains(&number_key(*n)),
            other => self.list.iter().any(|v| v.equals(other)),
        }
    }
}

/// The list only: the machine shares states by the debug form of their conditions.
impl std::fmt::Debug for LiteralSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.list.fmt(f)
    }
}

impl PartialEq for LiteralSet {
    fn eq(&self, other: &Self) -> bool {
        self.list == other.list
    }
}

impl std::ops::Deref for LiteralSet {
    type Target = [Literal];

    fn deref(&self) -> &[Literal] {
        &self.list
    }
}

/// The texts of an `anything-but` prefix or suffix list, in pattern order, hashed and
/// grouped by length: a value is checked with one lookup per distinct length.
#[derive(Clone)]
pub(crate) struct AffixSet {
    list: Vec<String>,
    set: std::collections::HashSet<String, foldhash::fast::FixedState>,
    lengths: Vec<usize>,
}

impl AffixSet {
    pub(crate) fn new(list: Vec<String>) -> Self {
        let set: std::collections::HashSet<String, foldhash::fast::FixedState> =
            list.iter().cloned().collect();
        let mut lengths: Vec<usize> = list.iter().map(String::len).collect();
        lengths.sort_unstable();
        lengths.dedup();
        Self { list, set, lengths }
    }

    fn has_prefix_of(&self, value: &str) -> bool {
        self.lengths
            .iter()
            .take_while(|&&len| len <= value.len())
            .any(|&len| value.get(..len).is_some_and(|head| self.set.contains(head)))
    }

    fn has_suffix_of(&self, value: &str) -> bool {
        self.lengths
            .iter()
            .take_while(|&&len| len <= value.len())
            .any(|&len| {
                value
                    .get(value.len() - len..)
                    .is_some_and(|tail| self.set.contains(tail))
            })
    }
}

/// The list only: the machine shares states by the debug form of their conditions.
impl std::fmt::Debug for AffixSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.list.fmt(f)
    }
}

impl PartialEq for AffixSet {
    fn eq(&self, other: &Self) -> bool {
        self.list == other.list
    }
}

impl std::ops::Deref for AffixSet {
    type Target = [String];

    fn deref(&self) -> &[String] {
        &self.list
    }
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
    pub(crate) fn contains(&self, n: f64) -> bool {
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
            AnythingBut::Values(values) => values.contains(leaf),
            AnythingBut::Prefixes(ps) => leaf.as_str().is_some_and(|s| ps.has_prefix_of(s)),
            AnythingBut::Suffixes(ps) => leaf.as_str().is_some_and(|s| ps.has_suffix_of(s)),
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
        if pattern.is_ascii() {
            // Each ASCII character's forms are itself in either case, one byte each, so
            // the value must hold those bytes (a non-ASCII byte equals none of them).
            let (p, v) = (pattern.as_bytes(), value.as_bytes());
            return match self {
                IgnoreCase::Equals => v.eq_ignore_ascii_case(p),
                IgnoreCase::Prefix => v.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p)),
                IgnoreCase::Suffix => v
                    .len()
                    .checked_sub(p.len())
                    .and_then(|at| v.get(at..))
                    .is_some_and(|t| t.eq_ignore_ascii_case(p)),
            };
        }
        self.matches_by_forms(pattern, value)
    }

    /// [`IgnoreCase::matches`] character by character, through each one's case forms.
    fn matches_by_forms(self, pattern: &str, value: &str) -> bool {
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

/// Whether `value` spells the forms from its start: all of it when `whole`. Tracks the
/// set of byte offsets reachable after each pattern character, so a pattern of 100,000
/// characters costs no recursion and at most (characters x offsets) steps.
fn spell_forward(forms: &[[String; 2]], value: &str, whole: bool) -> bool {
    let mut reached = vec![0usize];
    for form_pair in forms {
        let mut next = Vec::new();
        for &at in &reached {
            let rest = value.get(at..).unwrap_or_default();
            for form in form_pair {
                if rest.starts_with(form.as_str()) {
                    next.push(at + form.len());
                }
            }
        }
        next.sort_unstable();
        next.dedup();
        if next.is_empty() {
            return false;
        }
        reached = next;
    }
    !whole || reached.contains(&value.len())
}

/// Whether `value` ends with a spelling of the forms (walking back from its end).
fn spell_backward(forms: &[[String; 2]], value: &str) -> bool {
    let mut reached = vec![value.len()];
    for form_pair in forms.iter().rev() {
        let mut next = Vec::new();
        for &end in &reached {
            let head = value.get(..end).unwrap_or_default();
            for form in form_pair {
                if head.ends_with(form.as_str()) {
                    next.push(end - form.len());
                }
            }
        }
        next.sort_unstable();
        next.dedup();
        if next.is_empty() {
            return false;
        }
        reached = next;
    }
    true
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

    proptest::proptest! {
        #[test]
        fn ascii_patterns_match_as_by_their_case_forms(
            pattern in "[a-zA-Z0-9 .*-]{0,4}",
            value in "[a-zA-Z0-9 .*\u{e9}\u{212a}\u{17f}-]{0,6}",
        ) {
            for mode in [IgnoreCase::Equals, IgnoreCase::Prefix, IgnoreCase::Suffix] {
                proptest::prop_assert_eq!(
                    mode.matches(&pattern, &value),
                    mode.matches_by_forms(&pattern, &value),
                    "{:?} {:?} {:?}", mode, pattern, value
                );
            }
        }
    }
}
