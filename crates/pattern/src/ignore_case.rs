//! The `equals-ignore-case` operator, also under `prefix`, `suffix` and `anything-but`:
//! how its operand is read, how a value is compared with it, and its index (values
//! hashed by their case fold).

use serde_json::Value;

use crate::affix_table::AffixTable;
use crate::error::PatternError;
use crate::ids::StateId;
use crate::place::Place;

type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// `{"equals-ignore-case": "..."}`: the text the operand stands for.
pub(crate) fn parse(operand: &Value, place: &Place) -> Result<String, PatternError> {
    match operand {
        Value::String(s) => Ok(ignore_case_text(s)),
        _ => Err(place.error("equals-ignore-case expects a string")),
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

/// `equals-ignore-case` and its `prefix`/`suffix` forms, hashed by case-folded text.
///
/// A value spelling a pattern ignoring case (see [`IgnoreCase`]) is a run of each pattern
/// character's lower or upper form; folding maps each character on its own, so the
/// value's fold equals (starts, ends with) the pattern's fold whenever every pattern
/// character's two forms fold like the character itself. Patterns with a character for
/// which that does not hold are refused by [`IgnoreCaseIndex::insert`] (the caller checks
/// them one by one); every candidate is then checked exactly.
#[derive(Debug, Clone, Default)]
pub(crate) struct IgnoreCaseIndex {
    equals: Map<Box<[u8]>, Vec<Folded>>,
    prefixes: AffixTable<Folded>,
    suffixes: AffixTable<Folded>,
}

/// A pattern of [`IgnoreCaseIndex`], under its fold.
#[derive(Debug, Clone)]
struct Folded {
    pattern: Box<str>,
    /// The pattern is ASCII: then an ASCII value whose fold equals (starts, ends with)
    /// the pattern's fold spells the pattern ignoring case, with no further check.
    ascii: bool,
    next: StateId,
}

impl IgnoreCaseIndex {
    /// Indexes `pattern`; `false` when its fold cannot serve as a key (see above).
    pub(crate) fn insert(&mut self, form: IgnoreCase, pattern: &str, next: StateId) -> bool {
        let Some(key) = pattern_fold(pattern) else {
            return false;
        };
        let item = Folded {
            pattern: Box::from(pattern),
            ascii: pattern.is_ascii(),
            next,
        };
        match form {
            IgnoreCase::Equals => self
                .equals
                .entry(key.as_bytes().into())
                .or_default()
                .push(item),
            IgnoreCase::Prefix => self.prefixes.insert(&key, item),
            IgnoreCase::Suffix => self.suffixes.insert(&key, item),
        }
        true
    }

    pub(crate) fn collect(&self, value: &str, out: &mut Vec<StateId>) {
        if self.equals.is_empty() && self.prefixes.is_empty() && self.suffixes.is_empty() {
            return;
        }
        // An ASCII value folds to its lower case (a short one in a buffer on the stack).
        // The fold of an ASCII pattern is its lower case too, so for an ASCII value and
        // pattern equal folds are the match itself; other pairs are checked exactly (a
        // non-ASCII value can fold to ASCII: the Kelvin sign folds to `k`).
        let ascii = value.is_ascii();
        let mut buffer = [0u8; 64];
        let owned: Vec<u8>;
        let folded: &[u8] = match buffer.get_mut(..value.len()) {
            Some(lower) if ascii => {
                lower.copy_from_slice(value.as_bytes());
                lower.make_ascii_lowercase();
                lower
            }
            _ if ascii => {
                owned = value.as_bytes().to_ascii_lowercase();
                &owned
            }
            _ => {
                owned = fold(value).into_bytes();
                &owned
            }
        };
        let check = |form: IgnoreCase, item: &Folded, out: &mut Vec<StateId>| {
            if (ascii && item.ascii) || form.matches(&item.pattern, value) {
                out.push(item.next);
            }
        };
        if !self.equals.is_empty()
            && let Some(items) = self.equals.get(folded)
        {
            for item in items {
                check(IgnoreCase::Equals, item, out);
            }
        }
        self.prefixes
            .for_each_prefix_of_bytes(folded, |item| check(IgnoreCase::Prefix, item, out));
        self.suffixes
            .for_each_suffix_of_bytes(folded, |item| check(IgnoreCase::Suffix, item, out));
    }
}

/// Each character's upper-case form, lower-cased, character by character.
fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_uppercase)
        .flat_map(char::to_lowercase)
        .collect()
}

/// The fold of a pattern, when each of its characters' lower and upper forms fold like
/// the character (true of every cased letter tried; checked, not assumed).
fn pattern_fold(pattern: &str) -> Option<String> {
    let mut buffer = [0u8; 4];
    for c in pattern.chars() {
        let own = fold(c.encode_utf8(&mut buffer));
        let lower: String = c.to_lowercase().collect();
        let upper: String = c.to_uppercase().collect();
        if fold(&lower) != own || fold(&upper) != own {
            return None;
        }
    }
    Some(fold(pattern))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn folded_keys_refuse_characters_whose_forms_fold_apart() {
        assert_eq!(pattern_fold("EventB").as_deref(), Some("eventb"));
        assert_eq!(pattern_fold("ß"), Some(fold("SS")));
        let mut index = IgnoreCaseIndex::default();
        assert!(index.insert(IgnoreCase::Equals, "ß", 1));
        assert!(index.insert(IgnoreCase::Equals, "SS", 2));
        let mut out = Vec::new();
        index.collect("SS", &mut out);
        assert_eq!(out, vec![1, 2]);
        out.clear();
        index.collect("ss", &mut out);
        assert_eq!(out, vec![2]);
        out.clear();
        index.collect("ß", &mut out);
        assert_eq!(out, vec![1]);
    }

    #[test]
    fn ascii_values_fold_to_their_lower_case() {
        for text in ["", "EventB", "a-Z_09 ~", "ALL CAPS", &"Xy".repeat(40)] {
            assert_eq!(fold(text), text.to_ascii_lowercase());
        }
        for (value, pattern) in [("NAME7", "Name7"), (&*"Ab".repeat(40), &*"aB".repeat(40))] {
            let mut index = IgnoreCaseIndex::default();
            assert!(index.insert(IgnoreCase::Equals, pattern, 3));
            let mut out = Vec::new();
            index.collect(value, &mut out);
            assert_eq!(out, vec![3], "{value}");
        }
    }
}
