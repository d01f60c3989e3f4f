//! The transitions out of one machine state on one field path, indexed by operator
//! family: each family's index (in its own module) selects the next states a leaf's
//! value reaches, so a leaf never tries the conditions one by one. A bit per family says
//! which indexes hold something, and a leaf looks only into those.

use crate::affix::{Affix, AffixIndex};
use crate::anything_but::AnythingButIndex;
use crate::cidr::CidrIndex;
use crate::exact::{ExactIndex, Literal};
use crate::ids::StateId;
use crate::ignore_case::{IgnoreCase, IgnoreCaseIndex};
use crate::matcher::Matcher;
use crate::numeric::NumericIndex;
use crate::value::LeafValue;
use crate::wildcard::WildcardIndex;

/// All value transitions out of one state on one path, indexed by operator family, so a
/// leaf's value selects its next states without trying each condition.
#[derive(Debug, Clone, Default)]
pub(crate) struct Transitions {
    exact: ExactIndex,
    affixes: AffixIndex,
    ignore_case: IgnoreCaseIndex,
    numeric: NumericIndex,
    anything_but: AnythingButIndex,
    wildcards: WildcardIndex,
    cidrs: CidrIndex,
    /// `exists: true`: any leaf at the path.
    any: Vec<StateId>,
    /// Conditions checked one by one: `anything-but` ignore-case and wildcard lists, and
    /// ignore-case texts with a character whose case forms fold apart (see `ignore_case.rs`).
    scanned: Vec<(Matcher, StateId)>,
    /// Which of the indexes above hold something (the `KIND_` bits): a leaf looks only
    /// into those.
    kinds: u16,
}

const KIND_STRINGS: u16 = 1;
const KIND_NUMBERS: u16 = 1 << 1;
const KIND_BOOLEANS: u16 = 1 << 2;
const KIND_NULLS: u16 = 1 << 3;
const KIND_PREFIXES: u16 = 1 << 4;
const KIND_SUFFIXES: u16 = 1 << 5;
const KIND_IGNORE_CASE: u16 = 1 << 6;
const KIND_NUMERIC: u16 = 1 << 7;
const KIND_ANYTHING_BUT: u16 = 1 << 8;
const KIND_WILDCARDS: u16 = 1 << 9;
const KIND_CIDRS: u16 = 1 << 10;
const KIND_ANY: u16 = 1 << 11;
const KIND_SCANNED: u16 = 1 << 12;
/// The indexes a string leaf looks into besides exact strings.
const KIND_STRING_INDEXES: u16 =
    KIND_PREFIXES | KIND_SUFFIXES | KIND_IGNORE_CASE | KIND_WILDCARDS | KIND_CIDRS;

impl Transitions {
    pub(crate) fn insert(&mut self, matcher: &Matcher, next: StateId) {
        self.kinds |= match matcher {
            Matcher::Exact(Literal::Str(_)) => KIND_STRINGS,
            Matcher::Exact(Literal::Num(_)) => KIND_NUMBERS,
            Matcher::Exact(Literal::Bool(_)) => KIND_BOOLEANS,
            Matcher::Exact(Literal::Null) => KIND_NULLS,
            Matcher::Prefix(_) => KIND_PREFIXES,
            Matcher::Suffix(_) => KIND_SUFFIXES,
            Matcher::EqualsIgnoreCase(_)
            | Matcher::PrefixIgnoreCase(_)
            | Matcher::SuffixIgnoreCase(_) => KIND_IGNORE_CASE,
            Matcher::Numeric(_) => KIND_NUMERIC,
            Matcher::AnythingBut(_) => KIND_ANYTHING_BUT,
            Matcher::Wildcard(_) => KIND_WILDCARDS,
            Matcher::Cidr(_) => KIND_CIDRS,
            Matcher::Exists(_) => KIND_ANY,
        };
        let indexed = match matcher {
            Matcher::Exact(literal) => {
                self.exact.insert(literal, next);
                true
            }
            Matcher::Prefix(p) => {
                self.affixes.insert(Affix::Prefix, p, next);
                true
            }
            Matcher::Suffix(s) => {
                self.affixes.insert(Affix::Suffix, s, next);
                true
            }
            Matcher::EqualsIgnoreCase(p) => self.ignore_case.insert(IgnoreCase::Equals, p, next),
            Matcher::PrefixIgnoreCase(p) => self.ignore_case.insert(IgnoreCase::Prefix, p, next),
            Matcher::SuffixIgnoreCase(p) => self.ignore_case.insert(IgnoreCase::Suffix, p, next),
            Matcher::Numeric(range) => {
                self.numeric.insert(range, next);
                true
            }
            Matcher::AnythingBut(not) => self.anything_but.insert(not, next),
            Matcher::Wildcard(w) => {
                self.wildcards.insert(w, next);
                true
            }
            Matcher::Cidr(c) => {
                self.cidrs.insert(c, next);
                true
            }
            Matcher::Exists(_) => {
                self.any.push(next);
                true
            }
        };
        if !indexed {
            self.scanned.push((matcher.clone(), next));
            self.kinds |= KIND_SCANNED;
        }
    }

    /// Appends every next state the leaf's value selects (possibly repeated) to `out`.
    #[inline]
    pub(crate) fn collect_matches(&self, value: &LeafValue<'_>, out: &mut Vec<StateId>) {
        let kinds = self.kinds;
        match value {
            LeafValue::Str(s) => {
                if kinds & KIND_STRINGS != 0
                    && let Some(states) = self.exact.string(s)
                {
                    extend(out, states);
                }
                if kinds & KIND_STRING_INDEXES != 0 {
                    self.collect_string_matches(s, out);
                }
            }
            LeafValue::Num(n) => {
                if kinds & KIND_NUMBERS != 0
                    && let Some(states) = self.exact.number(*n)
                {
                    extend(out, states);
                }
                if kinds & KIND_NUMERIC != 0 {
                    self.numeric.collect(*n, out);
                }
            }
            LeafValue::Bool(b) => extend(out, self.exact.boolean(*b)),
            LeafValue::Null => extend(out, self.exact.null()),
        }
        if kinds & (KIND_ANYTHING_BUT | KIND_ANY | KIND_SCANNED) != 0 {
            self.collect_other_matches(value, out);
        }
    }

    fn collect_other_matches(&self, value: &LeafValue<'_>, out: &mut Vec<StateId>) {
        if self.kinds & KIND_ANYTHING_BUT != 0 {
            self.anything_but.collect(value, out);
        }
        extend(out, &self.any);
        if self.kinds & KIND_SCANNED != 0 {
            for (matcher, next) in &self.scanned {
                if matcher.matches(value) {
                    out.push(*next);
                }
            }
        }
    }

    fn collect_string_matches(&self, s: &str, out: &mut Vec<StateId>) {
        let kinds = self.kinds;
        if kinds & KIND_PREFIXES != 0 {
            self.affixes.collect_prefixes(s, out);
        }
        if kinds & KIND_SUFFIXES != 0 {
            self.affixes.collect_suffixes(s, out);
        }
        if kinds & KIND_IGNORE_CASE != 0 {
            self.ignore_case.collect(s, out);
        }
        if kinds & KIND_WILDCARDS != 0 {
            self.wildcards.collect(s, out);
        }
        if kinds & KIND_CIDRS != 0 {
            self.cidrs.collect(s, out);
        }
    }
}

/// Appends `states` to `out`; most lists hold one state or none, pushed without a copy
/// call.
#[inline(always)]
fn extend(out: &mut Vec<StateId>, states: &[StateId]) {
    match states {
        [] => {}
        [one] => out.push(*one),
        more => out.extend_from_slice(more),
    }
}
