//! The `prefix` and `suffix` operators (their `equals-ignore-case` forms are compared
//! and indexed by `ignore_case.rs`): how the operand is read, how a value is compared,
//! and their index (texts by length, see `affix_table.rs`).

use serde_json::Value;

use crate::affix_table::AffixTable;
use crate::error::PatternError;
use crate::ids::StateId;
use crate::ignore_case::ignore_case_text;
use crate::place::Place;

/// Which end of the value an affix is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Affix {
    /// `prefix`: the start of the value.
    Prefix,
    /// `suffix`: the end of the value.
    Suffix,
}

impl Affix {
    /// The operator's name in a pattern.
    fn name(self) -> &'static str {
        match self {
            Affix::Prefix => "prefix",
            Affix::Suffix => "suffix",
        }
    }

    /// Whether `value` starts (ends) with `text`.
    #[inline]
    pub(crate) fn matches(self, text: &str, value: &str) -> bool {
        match self {
            Affix::Prefix => value.starts_with(text),
            Affix::Suffix => value.ends_with(text),
        }
    }
}

/// What a `prefix` or `suffix` operand asks for.
pub(crate) enum AffixText {
    /// A text compared byte for byte.
    Exact(String),
    /// `{"equals-ignore-case": "..."}`: a text compared ignoring case.
    IgnoreCase(String),
}

/// The operand of `prefix` or `suffix` (`affix`): a string, or
/// `{"equals-ignore-case": "..."}`.
pub(crate) fn parse(
    operand: &Value,
    place: &Place,
    affix: Affix,
) -> Result<AffixText, PatternError> {
    let name = affix.name();
    match operand {
        Value::String(s) => Ok(AffixText::Exact(s.clone())),
        Value::Object(object) => match (object.len(), object.get("equals-ignore-case")) {
            (1, Some(Value::String(s))) => Ok(AffixText::IgnoreCase(ignore_case_text(s))),
            _ => Err(place.error(format!(
                "{name} expects a string or {{\"equals-ignore-case\": \"...\"}}"
            ))),
        },
        _ => Err(place.error(format!(
            "{name} expects a string or {{\"equals-ignore-case\": \"...\"}}"
        ))),
    }
}

/// Prefixes and suffixes out of one state on one field, each in a table by length.
#[derive(Debug, Clone, Default)]
pub(crate) struct AffixIndex {
    prefixes: AffixTable<StateId>,
    suffixes: AffixTable<StateId>,
}

impl AffixIndex {
    pub(crate) fn insert(&mut self, affix: Affix, text: &str, next: StateId) {
        match affix {
            Affix::Prefix => self.prefixes.insert(text, next),
            Affix::Suffix => self.suffixes.insert(text, next),
        }
    }

    /// Appends the next states of the prefixes `value` starts with.
    #[inline]
    pub(crate) fn collect_prefixes(&self, value: &str, out: &mut Vec<StateId>) {
        self.prefixes
            .for_each_prefix_of(value, |&next| out.push(next));
    }

    /// Appends the next states of the suffixes `value` ends with.
    #[inline]
    pub(crate) fn collect_suffixes(&self, value: &str, out: &mut Vec<StateId>) {
        self.suffixes
            .for_each_suffix_of(value, |&next| out.push(next));
    }
}
