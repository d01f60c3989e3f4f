//! The `anything-but` operator (values, `prefix`, `suffix`, `equals-ignore-case`,
//! `wildcard`): how its operand is read, which leaves it excludes, and its index (the
//! excluded values subtracted from all the field's `anything-but` transitions).

use std::sync::OnceLock;

use serde_json::Value;

use crate::affix_table::AffixTable;
use crate::error::PatternError;
use crate::exact::Literal;
use crate::ids::StateId;
use crate::ignore_case::{IgnoreCase, ignore_case_text};
use crate::place::{Place, comparable_number, type_name};
use crate::value::{LeafValue, number_key};
use crate::wildcard::{self, Wildcard};

type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;
type Set<K> = std::collections::HashSet<K, foldhash::fast::FixedState>;

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
    strings: Set<String>,
    numbers: Set<u64>,
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
    set: Set<String>,
    lengths: Vec<usize>,
}

impl AffixSet {
    pub(crate) fn new(list: Vec<String>) -> Self {
        let set: Set<String> = list.iter().cloned().collect();
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

impl AnythingBut {
    /// Whether the leaf is one of the excluded values.
    pub(crate) fn excludes(&self, leaf: &LeafValue<'_>) -> bool {
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

/// `{"anything-but": ...}`.
pub(crate) fn parse(operand: &Value, place: &Place) -> Result<AnythingBut, PatternError> {
    match operand {
        Value::String(_) | Value::Number(_) => Ok(AnythingBut::Values(LiteralSet::new(vec![
            anything_but_value(operand, place)?,
        ]))),
        Value::Array(items) if !items.is_empty() => {
            let values = items
                .iter()
                .map(|item| anything_but_value(item, place))
                .collect::<Result<Vec<_>, _>>()?;
            let strings = values
                .iter()
                .filter(|v| matches!(v, Literal::Str(_)))
                .count();
            if strings != 0 && strings != values.len() {
                return Err(place.error(
                    "an anything-but list must hold only strings or only numbers, not both",
                ));
            }
            Ok(AnythingBut::Values(LiteralSet::new(values)))
        }
        Value::Object(object) if object.len() == 1 => {
            let Some((operator, inner)) = object.iter().next() else {
                return Err(place.error("anything-but expects one operator"));
            };
            parse_anything_but_operator(operator, inner, place)
        }
        _ => Err(place.error(
            "anything-but expects a string, a number, a non-empty list of them, or one of \
             {\"prefix\"|\"suffix\"|\"equals-ignore-case\"|\"wildcard\": ...}",
        )),
    }
}

fn anything_but_value(item: &Value, place: &Place) -> Result<Literal, PatternError> {
    match item {
        Value::String(s) => Ok(Literal::Str(s.clone())),
        Value::Number(n) => Ok(Literal::Num(comparable_number(n, place)?)),
        other => Err(place.error(format!(
            "anything-but values must be strings or numbers, found {}",
            type_name(other)
        ))),
    }
}

fn parse_anything_but_operator(
    operator: &str,
    inner: &Value,
    place: &Place,
) -> Result<AnythingBut, PatternError> {
    let strings = || string_or_strings(inner, place, &format!("anything-but/{operator}"));
    match operator {
        "prefix" | "suffix" => {
            let values = strings()?;
            if values.iter().any(String::is_empty) {
                return Err(place.error(format!("anything-but/{operator} must not be empty")));
            }
            Ok(if operator == "prefix" {
                AnythingBut::Prefixes(AffixSet::new(values))
            } else {
                AnythingBut::Suffixes(AffixSet::new(values))
            })
        }
        "equals-ignore-case" => Ok(AnythingBut::IgnoreCase(
            strings()?.iter().map(|s| ignore_case_text(s)).collect(),
        )),
        "wildcard" => Ok(AnythingBut::Wildcards(
            strings()?
                .iter()
                .map(|s| wildcard::parse_text(s, place))
                .collect::<Result<_, _>>()?,
        )),
        other => Err(place.error(format!(
            "anything-but does not support \"{other}\"; use prefix, suffix, equals-ignore-case or wildcard"
        ))),
    }
}

fn string_or_strings(
    value: &Value,
    place: &Place,
    what: &str,
) -> Result<Vec<String>, PatternError> {
    let error = || {
        place.error(format!(
            "{what} expects a string or a non-empty list of strings"
        ))
    };
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or_else(error))
            .collect(),
        _ => Err(error()),
    }
}

/// `anything-but` value, prefix and suffix lists. A leaf selects every such transition
/// except those whose list excludes it: the excluded ones are found by hash lookups.
#[derive(Debug, Clone, Default)]
pub(crate) struct AnythingButIndex {
    /// Value lists: the string and number keys of each, and its next state.
    values: Vec<(Vec<ValueKey>, StateId)>,
    by_value: OnceLock<ValueSlots>,
    /// Prefix lists: next states, and each prefix with the position of its list.
    prefix_nexts: Vec<StateId>,
    prefixes: AffixTable<u32>,
    /// Suffix lists, likewise.
    suffix_nexts: Vec<StateId>,
    suffixes: AffixTable<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ValueKey {
    Str(Box<str>),
    Num(u64),
}

/// Built from the value lists: every next state, and per excluded value either the
/// positions of the lists excluding it (at most half) or the next states of the others.
#[derive(Debug, Clone, Default)]
struct ValueSlots {
    all: Vec<StateId>,
    strings: Map<Box<str>, Slot>,
    numbers: Map<u64, Slot>,
}

#[derive(Debug, Clone)]
enum Slot {
    /// Sorted positions (in `all`) of the lists excluding the value.
    Excluded(Vec<u32>),
    /// Next states of the lists not excluding it (when most lists do).
    Selected(Vec<StateId>),
}

impl AnythingButIndex {
    /// Indexes the list; `false` for the forms it does not index (ignore-case, wildcard).
    pub(crate) fn insert(&mut self, not: &AnythingBut, next: StateId) -> bool {
        match not {
            AnythingBut::Values(values) => {
                let keys = values
                    .iter()
                    .filter_map(|literal| match literal {
                        Literal::Str(s) => Some(ValueKey::Str(s.as_str().into())),
                        Literal::Num(n) => Some(ValueKey::Num(number_key(*n))),
                        Literal::Bool(_) | Literal::Null => None,
                    })
                    .collect();
                self.values.push((keys, next));
                self.by_value = OnceLock::new();
            }
            AnythingBut::Prefixes(texts) => {
                let at = u32::try_from(self.prefix_nexts.len()).unwrap_or(u32::MAX);
                self.prefix_nexts.push(next);
                texts.iter().for_each(|t| self.prefixes.insert(t, at));
            }
            AnythingBut::Suffixes(texts) => {
                let at = u32::try_from(self.suffix_nexts.len()).unwrap_or(u32::MAX);
                self.suffix_nexts.push(next);
                texts.iter().for_each(|t| self.suffixes.insert(t, at));
            }
            AnythingBut::IgnoreCase(_) | AnythingBut::Wildcards(_) => return false,
        }
        true
    }

    pub(crate) fn collect(&self, leaf: &LeafValue<'_>, out: &mut Vec<StateId>) {
        if !self.values.is_empty() {
            self.collect_values(leaf, out);
        }
        for (nexts, table, prefix) in [
            (&self.prefix_nexts, &self.prefixes, true),
            (&self.suffix_nexts, &self.suffixes, false),
        ] {
            if nexts.is_empty() {
                continue;
            }
            let Some(s) = leaf.as_str() else {
                out.extend_from_slice(nexts);
                continue;
            };
            let mut excluded = Vec::new();
            if prefix {
                table.for_each_prefix_of(s, |&at| excluded.push(at));
            } else {
                table.for_each_suffix_of(s, |&at| excluded.push(at));
            }
            excluded.sort_unstable();
            excluded.dedup();
            extend_except(nexts, &excluded, out);
        }
    }

    fn collect_values(&self, leaf: &LeafValue<'_>, out: &mut Vec<StateId>) {
        let slots = self
            .by_value
            .get_or_init(|| ValueSlots::build(&self.values));
        let slot = match leaf {
            LeafValue::Str(s) => slots.strings.get(s.as_ref()),
            LeafValue::Num(n) => slots.numbers.get(&number_key(*n)),
            LeafValue::Bool(_) | LeafValue::Null => None,
        };
        match slot {
            None => out.extend_from_slice(&slots.all),
            Some(Slot::Selected(nexts)) => out.extend_from_slice(nexts),
            Some(Slot::Excluded(positions)) => extend_except(&slots.all, positions, out),
        }
    }
}

/// Appends `all` but the entries at the sorted `positions`.
fn extend_except(all: &[StateId], positions: &[u32], out: &mut Vec<StateId>) {
    let mut skip = positions.iter().peekable();
    for (at, next) in all.iter().enumerate() {
        if skip.peek().is_some_and(|&&p| p as usize == at) {
            skip.next();
        } else {
            out.push(*next);
        }
    }
}

impl ValueSlots {
    fn build(lists: &[(Vec<ValueKey>, StateId)]) -> Self {
        let mut excluded: Map<&ValueKey, Vec<u32>> = Map::default();
        for (at, (keys, _)) in lists.iter().enumerate() {
            let at = u32::try_from(at).unwrap_or(u32::MAX);
            for key in keys {
                let positions = excluded.entry(key).or_default();
                if positions.last() != Some(&at) {
                    positions.push(at);
                }
            }
        }
        let all: Vec<StateId> = lists.iter().map(|(_, next)| *next).collect();
        let mut slots = Self {
            all,
            ..Self::default()
        };
        for (key, positions) in excluded {
            let slot = if positions.len() * 2 > slots.all.len() {
                let mut selected = Vec::new();
                extend_except(&slots.all, &positions, &mut selected);
                Slot::Selected(selected)
            } else {
                Slot::Excluded(positions)
            };
            match key {
                ValueKey::Str(s) => slots.strings.insert(s.clone(), slot),
                ValueKey::Num(n) => slots.numbers.insert(*n, slot),
            };
        }
        slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anything_but_values_subtract_the_excluding_lists() {
        let mut index = AnythingButIndex::default();
        let list = |values: &[&str]| {
            AnythingBut::Values(LiteralSet::new(
                values.iter().map(|v| Literal::Str((*v).into())).collect(),
            ))
        };
        for i in 0..10u32 {
            assert!(index.insert(&list(&["common", &format!("own{i}")]), i));
        }
        assert!(index.insert(&list(&["own3"]), 10));
        let collect = |value: &str| {
            let mut out = Vec::new();
            index.collect(&LeafValue::Str(value.into()), &mut out);
            out
        };
        assert_eq!(collect("common"), vec![10]);
        assert_eq!(collect("own3"), vec![0, 1, 2, 4, 5, 6, 7, 8, 9]);
        assert_eq!(collect("other"), (0..=10).collect::<Vec<_>>());
        let mut out = Vec::new();
        index.collect(&LeafValue::Num(1.0), &mut out);
        assert_eq!(out.len(), 11);
    }
}
