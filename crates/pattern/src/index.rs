//! Value indexes of one state's transitions on one field, one per operator kind, so a
//! leaf's value selects its next states without trying every condition in turn:
//!
//! - prefixes and suffixes: hashed, one lookup per distinct length ([`AffixTable`]);
//! - `equals-ignore-case` and its prefix/suffix forms: hashed by case-folded text, each
//!   candidate then checked exactly ([`IgnoreCaseIndex`]);
//! - `numeric` ranges: an interval tree, `O(log n + matches)` per number ([`NumericIndex`]);
//! - `anything-but` value, prefix and suffix lists: the excluded values are indexed and
//!   subtracted from all the field's `anything-but` transitions; a value excluded by more
//!   than half of them keeps its (short) list of the others, so the cost follows the
//!   matches, not the number of rules ([`AnythingButIndex`]);
//! - `wildcard`: by the literal text before the first `*` (else after the last), each
//!   candidate then checked ([`WildcardIndex`]);
//! - `cidr`: one hash table per (family, prefix length) ([`CidrIndex`]).
//!
//! Indexes that need every entry to build (the interval tree, the anything-but value
//! sets) are built on the first match after a change, once.

use std::sync::OnceLock;

use crate::cidr::{Cidr, address_bits, prefix_mask};
use crate::matcher::{AnythingBut, IgnoreCase, NumericRange};
use crate::value::{LeafValue, Literal, number_key};
use crate::wildcard::Wildcard;

type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// Index of a machine state.
pub(crate) type StateId = u32;

/// Texts (prefixes or suffixes) grouped so a value is checked with one lookup per
/// distinct length.
///
/// Keyed by bytes: a text is whole UTF-8, so the bytes of a value that start (end) with
/// a text's bytes start (end) with the text itself, and the lookup needs no character
/// boundary checks (and serves a case-folded value held as bytes).
#[derive(Debug, Clone)]
pub(crate) struct AffixTable<T> {
    by_text: Map<Box<[u8]>, Vec<T>>,
    /// The distinct lengths of the texts, ascending.
    lengths: Vec<Length>,
}

/// One length of an [`AffixTable`]'s texts, with the bytes its texts start and end with:
/// a value whose head (tail) of that length does not end (start) with one of them is
/// passed over without hashing it.
#[derive(Debug, Clone)]
struct Length {
    len: usize,
    first: ByteSet,
    last: ByteSet,
}

/// A set of bytes, one bit each.
#[derive(Debug, Clone, Default)]
struct ByteSet([u64; 4]);

impl ByteSet {
    fn insert(&mut self, byte: u8) {
        self.0[usize::from(byte >> 6)] |= 1 << (byte & 63);
    }

    /// Whether `byte` is in the set; `None` (no byte: an empty text) is.
    #[inline(always)]
    fn has(&self, byte: Option<&u8>) -> bool {
        byte.is_none_or(|&b| self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0)
    }
}

impl<T> Default for AffixTable<T> {
    fn default() -> Self {
        Self {
            by_text: Map::default(),
            lengths: Vec::new(),
        }
    }
}

impl<T> AffixTable<T> {
    pub(crate) fn insert(&mut self, text: &str, item: T) {
        self.by_text
            .entry(text.as_bytes().into())
            .or_default()
            .push(item);
        let at = match self.lengths.binary_search_by_key(&text.len(), |l| l.len) {
            Ok(at) => at,
            Err(at) => {
                let length = Length {
                    len: text.len(),
                    first: ByteSet::default(),
                    last: ByteSet::default(),
                };
                self.lengths.insert(at, length);
                at
            }
        };
        let bytes = text.as_bytes();
        if let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) {
            self.lengths[at].first.insert(first);
            self.lengths[at].last.insert(last);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }

    /// Calls `found` for each item whose text starts `value`.
    #[inline]
    pub(crate) fn for_each_prefix_of(&self, value: &str, found: impl FnMut(&T)) {
        self.for_each_prefix_of_bytes(value.as_bytes(), found);
    }

    /// Calls `found` for each item whose text ends `value`.
    #[inline]
    pub(crate) fn for_each_suffix_of(&self, value: &str, found: impl FnMut(&T)) {
        self.for_each_suffix_of_bytes(value.as_bytes(), found);
    }

    /// [`AffixTable::for_each_prefix_of`] on the bytes of a text.
    pub(crate) fn for_each_prefix_of_bytes(&self, value: &[u8], mut found: impl FnMut(&T)) {
        for length in &self.lengths {
            let Some(head) = value.get(..length.len) else {
                break;
            };
            if !length.last.has(head.last()) {
                continue;
            }
            if let Some(items) = self.by_text.get(head) {
                items.iter().for_each(&mut found);
            }
        }
    }

    /// [`AffixTable::for_each_suffix_of`] on the bytes of a text.
    pub(crate) fn for_each_suffix_of_bytes(&self, value: &[u8], mut found: impl FnMut(&T)) {
        for length in &self.lengths {
            let Some(tail) = value
                .len()
                .checked_sub(length.len)
                .and_then(|at| value.get(at..))
            else {
                break;
            };
            if !length.first.has(tail.first()) {
                continue;
            }
            if let Some(items) = self.by_text.get(tail) {
                items.iter().for_each(&mut found);
            }
        }
    }
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

/// `numeric` ranges: a centred interval tree over the ranges that hold some double.
#[derive(Debug, Clone, Default)]
pub(crate) struct NumericIndex {
    /// Range (zero bounds written as `+0.0`), a double inside it, next state.
    ranges: Vec<(NumericRange, f64, StateId)>,
    tree: OnceLock<IntervalTree>,
}

#[derive(Debug, Clone, Default)]
struct IntervalTree {
    nodes: Vec<IntervalNode>,
    root: Option<u32>,
    /// When every range has a lower bound and no two share a double (rules naming
    /// consecutive bands): each range's smallest double and its position, ascending. A
    /// number is then looked up with one binary search instead of walking the tree.
    disjoint: Option<Vec<(f64, u32)>>,
}

/// The ranges holding `center`, sorted so that the ones admitting a number below (above)
/// the centre come first in `by_lower` (`by_upper`); the ranges wholly below and above.
#[derive(Debug, Clone)]
struct IntervalNode {
    center: f64,
    by_lower: Vec<u32>,
    by_upper: Vec<u32>,
    below: Option<u32>,
    above: Option<u32>,
}

impl NumericIndex {
    pub(crate) fn insert(&mut self, range: &NumericRange, next: StateId) {
        let positive_zero =
            |(bound, inclusive): (f64, bool)| (if bound == 0.0 { 0.0 } else { bound }, inclusive);
        let range = NumericRange {
            lower: range.lower.map(positive_zero),
            upper: range.upper.map(positive_zero),
        };
        // A range holding no double matches no event.
        if let Some(witness) = witness(&range) {
            self.ranges.push((range, witness, next));
            self.tree = OnceLock::new();
        }
    }

    pub(crate) fn collect(&self, n: f64, out: &mut Vec<StateId>) {
        if self.ranges.is_empty() || n.is_nan() {
            return;
        }
        let tree = self.tree.get_or_init(|| IntervalTree::build(&self.ranges));
        let next_of = |i: u32| self.ranges[i as usize].2;
        if let Some(sorted) = &tree.disjoint {
            // Only the range with the greatest smallest double at or below `n` can hold it.
            let at = sorted.partition_point(|&(least, _)| least <= n);
            if let Some(&(_, i)) = at.checked_sub(1).and_then(|k| sorted.get(k))
                && self.ranges[i as usize].0.contains(n)
            {
                out.push(next_of(i));
            }
            return;
        }
        let mut at = tree.root;
        while let Some(node) = at.and_then(|i| tree.nodes.get(i as usize)) {
            if n < node.center {
                for &i in &node.by_lower {
                    if !lower_admits(self.ranges[i as usize].0.lower, n) {
                        break;
                    }
                    out.push(next_of(i));
                }
                at = node.below;
            } else if n > node.center {
                for &i in &node.by_upper {
                    if !upper_admits(self.ranges[i as usize].0.upper, n) {
                        break;
                    }
                    out.push(next_of(i));
                }
                at = node.above;
            } else {
                out.extend(node.by_lower.iter().map(|&i| next_of(i)));
                break;
            }
        }
    }
}

fn lower_admits(lower: Option<(f64, bool)>, n: f64) -> bool {
    match lower {
        Some((bound, true)) => n >= bound,
        Some((bound, false)) => n > bound,
        None => true,
    }
}

fn upper_admits(upper: Option<(f64, bool)>, n: f64) -> bool {
    match upper {
        Some((bound, true)) => n <= bound,
        Some((bound, false)) => n < bound,
        None => true,
    }
}

/// The ranges by their smallest double, when each has a lower bound (so its witness is
/// its smallest double) and each one's doubles all lie below the next one's smallest.
fn disjoint(ranges: &[(NumericRange, f64, StateId)]) -> Option<Vec<(f64, u32)>> {
    if ranges.iter().any(|(range, _, _)| range.lower.is_none()) {
        return None;
    }
    let mut sorted: Vec<(f64, u32)> = ranges
        .iter()
        .enumerate()
        .map(|(i, (_, least, _))| (*least, u32::try_from(i).unwrap_or(u32::MAX)))
        .collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let apart = sorted.windows(2).all(|pair| {
        let (range, _, _) = &ranges[pair[0].1 as usize];
        // No double of this range reaches the next one's smallest.
        pair[0].0 < pair[1].0 && !upper_admits(range.upper, pair[1].0)
    });
    apart.then_some(sorted)
}

/// A double inside the range, if any: its smallest one (or its largest when unbounded
/// below).
fn witness(range: &NumericRange) -> Option<f64> {
    let candidate = match (range.lower, range.upper) {
        (Some((low, true)), _) => low,
        (Some((low, false)), _) => low.next_up(),
        (None, Some((high, true))) => high,
        (None, Some((high, false))) => high.next_down(),
        (None, None) => 0.0,
    };
    range.contains(candidate).then_some(candidate)
}

impl IntervalTree {
    fn build(ranges: &[(NumericRange, f64, StateId)]) -> Self {
        let mut tree = Self::default();
        let all = (0..u32::try_from(ranges.len()).unwrap_or(u32::MAX)).collect();
        tree.root = tree.add(ranges, all);
        tree.disjoint = disjoint(ranges);
        tree
    }

    /// Adds the subtree of `subset`. The centre is the median of the ranges' witnesses,
    /// so the node holds at least that range and each side at most half of the rest.
    fn add(
        &mut self,
        ranges: &[(NumericRange, f64, StateId)],
        mut subset: Vec<u32>,
    ) -> Option<u32> {
        if subset.is_empty() {
            return None;
        }
        let middle = subset.len() / 2;
        let witness_of = |i: &u32| ranges[*i as usize].1;
        subset.select_nth_unstable_by(middle, |a, b| witness_of(a).total_cmp(&witness_of(b)));
        let center = witness_of(&subset[middle]);
        let (mut here, mut below, mut above) = (Vec::new(), Vec::new(), Vec::new());
        for i in subset {
            let range = &ranges[i as usize].0;
            if range.contains(center) {
                here.push(i);
            } else if lower_admits(range.lower, center) {
                below.push(i);
            } else {
                above.push(i);
            }
        }
        // Lowest lower bound first (none first; inclusive before exclusive at a tie): the
        // ranges admitting a number are then a prefix. Likewise highest upper bound first.
        let lower_key = |i: &u32| {
            ranges[*i as usize]
                .0
                .lower
                .map(|(b, inclusive)| (b, !inclusive))
        };
        let upper_key = |i: &u32| ranges[*i as usize].0.upper;
        let mut by_lower = here.clone();
        by_lower.sort_by(|a, b| match (lower_key(a), lower_key(b)) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) => std::cmp::Ordering::Less,
            (Some(_), None) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)),
        });
        let mut by_upper = here;
        by_upper.sort_by(|a, b| match (upper_key(a), upper_key(b)) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) => std::cmp::Ordering::Less,
            (Some(_), None) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => y.0.total_cmp(&x.0).then(y.1.cmp(&x.1)),
        });
        let at = u32::try_from(self.nodes.len()).unwrap_or(u32::MAX);
        self.nodes.push(IntervalNode {
            center,
            by_lower,
            by_upper,
            below: None,
            above: None,
        });
        let below = self.add(ranges, below);
        let above = self.add(ranges, above);
        if let Some(node) = self.nodes.get_mut(at as usize) {
            node.below = below;
            node.above = above;
        }
        Some(at)
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

/// `wildcard` values, by the literal text before their first `*` (a wildcard without a
/// star: its whole text), else by the text after their last `*`; the few with neither
/// (`*`, `*x*`) are tried one by one. Every candidate is checked in full.
#[derive(Debug, Clone, Default)]
pub(crate) struct WildcardIndex {
    by_head: AffixTable<(Wildcard, StateId)>,
    by_tail: AffixTable<(Wildcard, StateId)>,
    unanchored: Vec<(Wildcard, StateId)>,
}

impl WildcardIndex {
    pub(crate) fn insert(&mut self, wildcard: &Wildcard, next: StateId) {
        let item = (wildcard.clone(), next);
        match wildcard.tail() {
            Some(tail) if wildcard.head().is_empty() && tail.is_empty() => {
                self.unanchored.push(item);
            }
            Some(tail) if wildcard.head().is_empty() => self.by_tail.insert(tail, item),
            _ => self.by_head.insert(wildcard.head(), item),
        }
    }

    pub(crate) fn collect(&self, value: &str, out: &mut Vec<StateId>) {
        let mut check = |(wildcard, next): &(Wildcard, StateId)| {
            if wildcard.matches(value) {
                out.push(*next);
            }
        };
        self.by_head.for_each_prefix_of(value, &mut check);
        self.by_tail.for_each_suffix_of(value, &mut check);
        self.unanchored.iter().for_each(check);
    }
}

/// `cidr` networks (and exact values that read as IP addresses): one hash table of
/// network addresses per family and prefix length.
#[derive(Debug, Clone, Default)]
pub(crate) struct CidrIndex {
    tables: Vec<CidrTable>,
}

#[derive(Debug, Clone)]
struct CidrTable {
    is_v6: bool,
    bits: u32,
    mask: u128,
    networks: Map<u128, Vec<StateId>>,
}

impl CidrIndex {
    pub(crate) fn insert(&mut self, cidr: &Cidr, next: StateId) {
        let (is_v6, bits, network) = cidr.key();
        let at = match self
            .tables
            .iter()
            .position(|t| t.is_v6 == is_v6 && t.bits == bits)
        {
            Some(at) => at,
            None => {
                self.tables.push(CidrTable {
                    is_v6,
                    bits,
                    mask: prefix_mask(bits, is_v6),
                    networks: Map::default(),
                });
                self.tables.len() - 1
            }
        };
        self.tables[at]
            .networks
            .entry(network)
            .or_default()
            .push(next);
    }

    /// Next states of the networks holding `value`, read as [`Cidr::contains`] reads it.
    pub(crate) fn collect(&self, value: &str, out: &mut Vec<StateId>) {
        if self.tables.is_empty() {
            return;
        }
        let Some((is_v6, address)) = address_bits(value) else {
            return;
        };
        for table in &self.tables {
            let probe = match (table.is_v6, is_v6) {
                (true, true) | (false, false) => address,
                // An IPv6 address falls in an IPv4 network when its top 32 bits do.
                (false, true) => address >> 96,
                (true, false) => continue,
            };
            if let Some(nexts) = table.networks.get(&(probe & table.mask)) {
                out.extend_from_slice(nexts);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte filters of [`AffixTable`] pass over no text that starts or ends a value.
    #[test]
    fn affix_tables_find_every_prefix_and_suffix() {
        let texts = [
            "",
            "a",
            "ab",
            "-s1",
            "-s12",
            "x-s12",
            "\u{e9}t\u{e9}",
            "p1-",
            "p12-",
            "b",
        ];
        let mut table = AffixTable::default();
        for (i, text) in texts.iter().enumerate() {
            table.insert(text, i);
        }
        let values = [
            "",
            "a",
            "ab",
            "abc",
            "head-s1",
            "head-s12",
            "x-s12",
            "\u{e9}t\u{e9}\u{e9}t\u{e9}",
            "p1-tail",
            "p12-tail",
            "p123-tail",
            "b-s12",
            "zzz",
        ];
        for value in values {
            let mut prefixes = Vec::new();
            table.for_each_prefix_of(value, |&i| prefixes.push(i));
            let mut suffixes = Vec::new();
            table.for_each_suffix_of(value, |&i| suffixes.push(i));
            prefixes.sort_unstable();
            suffixes.sort_unstable();
            let expected = |keep: &dyn Fn(&str) -> bool| -> Vec<usize> {
                (0..texts.len()).filter(|&i| keep(texts[i])).collect()
            };
            assert_eq!(prefixes, expected(&|t| value.starts_with(t)), "{value}");
            assert_eq!(suffixes, expected(&|t| value.ends_with(t)), "{value}");
        }
    }

    fn range(lower: Option<(f64, bool)>, upper: Option<(f64, bool)>) -> NumericRange {
        NumericRange { lower, upper }
    }

    #[test]
    fn interval_tree_agrees_with_each_range() {
        let mut ranges = Vec::new();
        for i in 0..40 {
            let x = f64::from(i) - 20.0;
            ranges.push(range(Some((x, i % 2 == 0)), None));
            ranges.push(range(None, Some((x, i % 3 == 0))));
            ranges.push(range(Some((x, i % 2 == 0)), Some((x + 3.0, i % 5 == 0))));
            ranges.push(range(Some((x, true)), Some((x, true))));
        }
        ranges.push(range(Some((-0.0, false)), Some((1.0, false))));
        ranges.push(range(Some((1.0, false)), Some((1.0f64.next_up(), false))));
        let mut index = NumericIndex::default();
        for (i, r) in ranges.iter().enumerate() {
            index.insert(r, i as StateId);
        }
        let mut probes: Vec<f64> = (-50..50).map(|i| f64::from(i) * 0.5).collect();
        probes.extend([-0.0, 0.0, f64::MAX, -f64::MAX, 1.0f64.next_up(), f64::NAN]);
        for n in probes {
            let mut found = Vec::new();
            index.collect(n, &mut found);
            found.sort_unstable();
            let expected: Vec<StateId> = (0..ranges.len())
                .filter(|&i| ranges[i].contains(n))
                .map(|i| i as StateId)
                .collect();
            assert_eq!(found, expected, "at {n}");
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
    fn anything_but_values_subtract_the_excluding_lists() {
        let mut index = AnythingButIndex::default();
        let list = |values: &[&str]| {
            AnythingBut::Values(crate::matcher::LiteralSet::new(
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
