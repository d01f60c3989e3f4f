//! Many rules compiled into one machine.
//!
//! Every rule is a set of alternatives, each a list of field conditions sorted by path.
//! Inserting an alternative walks from the start state, one transition per field
//! condition; identical conditions from the same state share the next state, so rules
//! with common fields share a trie. A transition is keyed by field path and indexed by
//! value, one index per operator kind (hash maps for exact, case-folded and cidr values,
//! prefix/suffix tables by length, an interval tree for numeric ranges, excluded values
//! for anything-but, literal heads and tails for wildcards: see `index.rs`), so matching
//! an event visits only the transitions its own leaves select: the cost follows the
//! event and its matches, not the number of rules.

use serde_json::Value;

use crate::error::EventError;
use crate::flatten::{
    FlatEvent, FlatLeaf, MAX_EVENT_DEPTH, Membership, PathId, PathIndex, flatten_value,
};
use crate::index::{
    AffixTable, AnythingButIndex, CidrIndex, IgnoreCaseIndex, NumericIndex, StateId, WildcardIndex,
};
use crate::matcher::{AnythingBut, IgnoreCase, Matcher};
use crate::parse::FieldCondition;
use crate::pattern::Pattern;
use crate::scan::scan_into;
use crate::value::{LeafValue, Literal, number_key};

type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;
type Set<K> = std::collections::HashSet<K, foldhash::fast::FixedState>;

const START: StateId = 0;

/// A set of named rules compiled into one matching machine.
///
/// ```
/// use eventrail_pattern::{Pattern, RuleMachine};
/// let mut machine = RuleMachine::new();
/// machine.add_rule("intake", &Pattern::parse(r#"{"source": ["eventrail.intake"]}"#).unwrap());
/// machine.add_rule("all", &Pattern::parse(r#"{"source": [{"prefix": "eventrail."}]}"#).unwrap());
/// let event = serde_json::json!({"source": "eventrail.intake"});
/// assert_eq!(machine.matching_rules(&event), vec![&"intake", &"all"]);
/// ```
#[derive(Debug, Clone)]
pub struct RuleMachine<R> {
    rules: Vec<R>,
    states: Vec<State>,
    paths: PathIndex,
    /// (state, path, canonical match list) -> next state: shares identical conditions.
    shared: Map<(StateId, PathId, String), StateId>,
    /// Most steps one match may take (see [`RuleMachine::set_step_limit`]).
    step_limit: u64,
}

/// Default of [`RuleMachine::set_step_limit`]: steps (a state reached, or a leaf tried
/// from it) one event's matching may take before it stops with
/// [`EventError::TooComplex`]. A 256 KB event holds at most about 130,000 leaves, so
/// ordinary matching stays far below it.
pub const DEFAULT_STEP_LIMIT: u64 = 1_000_000;

#[derive(Debug, Clone, Default)]
struct State {
    /// Rules (by insertion index) fully matched on reaching this state.
    accepts: Vec<u32>,
    /// Value transitions, by the path of the leaf they consume.
    fields: Map<PathId, Transitions>,
    /// `exists: false` transitions: taken when the event has no leaf at the path.
    absent: Vec<(PathId, StateId)>,
    /// Paths of every condition still ahead of this state (on any rule through it),
    /// sorted: an array none of whose leaves sit at these paths cannot constrain the
    /// rest of the match, so the element chosen in it is forgotten.
    ahead: Vec<PathId>,
}

/// All value transitions out of one state on one path, indexed by operator kind (see
/// `index.rs`), so a leaf's value selects its next states without trying each condition.
#[derive(Debug, Clone, Default)]
struct Transitions {
    strings: Map<Box<str>, Vec<StateId>>,
    numbers: Map<u64, Vec<StateId>>,
    booleans: [Vec<StateId>; 2],
    nulls: Vec<StateId>,
    prefixes: AffixTable<StateId>,
    suffixes: AffixTable<StateId>,
    ignore_case: IgnoreCaseIndex,
    numeric: NumericIndex,
    anything_but: AnythingButIndex,
    wildcards: WildcardIndex,
    cidrs: CidrIndex,
    /// `exists: true`: any leaf at the path.
    any: Vec<StateId>,
    /// Conditions checked one by one: `anything-but` ignore-case and wildcard lists, and
    /// ignore-case texts with a character whose case forms fold apart (see `index.rs`).
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
    fn insert(&mut self, matcher: &Matcher, next: StateId) {
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
            Matcher::Exact(Literal::Str(s)) => {
                self.strings
                    .entry(s.as_str().into())
                    .or_default()
                    .push(next);
                true
            }
            Matcher::Exact(Literal::Num(n)) => {
                self.numbers.entry(number_key(*n)).or_default().push(next);
                true
            }
            Matcher::Exact(Literal::Bool(b)) => {
                self.booleans[usize::from(*b)].push(next);
                true
            }
            Matcher::Exact(Literal::Null) => {
                self.nulls.push(next);
                true
            }
            Matcher::Prefix(p) => {
                self.prefixes.insert(p, next);
                true
            }
            Matcher::Suffix(s) => {
                self.suffixes.insert(s, next);
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
    fn collect_matches(&self, value: &LeafValue<'_>, out: &mut Vec<StateId>) {
        let kinds = self.kinds;
        match value {
            LeafValue::Str(s) => {
                if kinds & KIND_STRINGS != 0
                    && let Some(states) = self.strings.get(s.as_ref())
                {
                    extend(out, states);
                }
                if kinds & KIND_STRING_INDEXES != 0 {
                    self.collect_string_matches(s, out);
                }
            }
            LeafValue::Num(n) => {
                if kinds & KIND_NUMBERS != 0
                    && let Some(states) = self.numbers.get(&number_key(*n))
                {
                    extend(out, states);
                }
                if kinds & KIND_NUMERIC != 0 {
                    self.numeric.collect(*n, out);
                }
            }
            LeafValue::Bool(b) => extend(out, &self.booleans[usize::from(*b)]),
            LeafValue::Null => extend(out, &self.nulls),
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
            self.prefixes.for_each_prefix_of(s, |&next| out.push(next));
        }
        if kinds & KIND_SUFFIXES != 0 {
            self.suffixes.for_each_suffix_of(s, |&next| out.push(next));
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

/// One pending step of the traversal: a state reached under array-element constraints.
type Task = (StateId, Chosen);

/// The array elements a task is bound to, outermost first: up to three kept inline
/// (copied without allocating), more in a list.
#[derive(Debug, Clone)]
enum Chosen {
    Few(u8, [Membership; 3]),
    Many(Vec<Membership>),
}

impl Default for Chosen {
    fn default() -> Self {
        Chosen::Few(0, [(0, 0); 3])
    }
}

impl Chosen {
    fn as_slice(&self) -> &[Membership] {
        match self {
            Chosen::Few(len, items) => &items[..usize::from(*len)],
            Chosen::Many(items) => items,
        }
    }

    fn push(&mut self, item: Membership) {
        match self {
            Chosen::Few(len, items) if usize::from(*len) < items.len() => {
                items[usize::from(*len)] = item;
                *len += 1;
            }
            Chosen::Few(_, items) => {
                let mut list = items.to_vec();
                list.push(item);
                *self = Chosen::Many(list);
            }
            Chosen::Many(items) => items.push(item),
        }
    }

    fn retain(&mut self, mut keep: impl FnMut(&Membership) -> bool) {
        match self {
            Chosen::Few(len, items) => {
                let mut kept = 0;
                for at in 0..usize::from(*len) {
                    if keep(&items[at]) {
                        items[kept] = items[at];
                        kept += 1;
                    }
                }
                *len = u8::try_from(kept).unwrap_or(u8::MAX);
            }
            Chosen::Many(items) => items.retain(keep),
        }
    }
}

/// Equal when they list the same elements in the same order.
impl PartialEq for Chosen {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Chosen {}

impl std::hash::Hash for Chosen {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl<R> Default for RuleMachine<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R> RuleMachine<R> {
    /// An empty machine; it matches no event until rules are added.
    pub fn new() -> Self {
        Self {
            rules: Vec::new(),
            states: vec![State::default()],
            paths: PathIndex::default(),
            shared: Map::default(),
            step_limit: DEFAULT_STEP_LIMIT,
        }
    }

    /// Sets the most steps one event's matching may take (default [`DEFAULT_STEP_LIMIT`]);
    /// past it, the `try_` and `_json` methods return [`EventError::TooComplex`].
    pub fn set_step_limit(&mut self, limit: u64) {
        self.step_limit = limit;
    }

    /// Adds a rule: `id` is returned for every event the pattern matches.
    pub fn add_rule(&mut self, id: R, pattern: &Pattern) {
        let rule = u32::try_from(self.rules.len()).unwrap_or(u32::MAX);
        self.rules.push(id);
        for alternative in pattern.sub_rules() {
            let mut visited = vec![START];
            for condition in alternative {
                let from = visited.last().copied().unwrap_or(START);
                visited.push(self.transition(from, condition));
            }
            let paths: Vec<PathId> = alternative
                .iter()
                .map(|condition| self.paths.intern(&condition.path))
                .collect();
            for (at, state) in visited.iter().enumerate() {
                let ahead = &mut self.states[*state as usize].ahead;
                for path in &paths[at..] {
                    if let Err(slot) = ahead.binary_search(path) {
                        ahead.insert(slot, *path);
                    }
                }
            }
            let last = visited.last().copied().unwrap_or(START);
            let accepts = &mut self.states[last as usize].accepts;
            if !accepts.contains(&rule) {
                accepts.push(rule);
            }
        }
    }

    /// Number of rules added.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether no rule was added.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Number of states of the compiled machine (a measure of its memory).
    pub fn state_count(&self) -> usize {
        self.states.len()
    }

    /// The rules matching a parsed event, in the order they were added. An event that
    /// is not a JSON object matches nothing, and so does one past a limit (nested more
    /// than 128 levels, or more steps than the step limit): use
    /// [`RuleMachine::try_matching_rules`] to tell those apart.
    pub fn matching_rules(&self, event: &Value) -> Vec<&R> {
        self.try_matching_rules(event).unwrap_or_default()
    }

    /// The rules matching a parsed event, in the order they were added, or the limit
    /// the event went past ([`EventError::TooDeep`], [`EventError::TooComplex`]).
    pub fn try_matching_rules(&self, event: &Value) -> Result<Vec<&R>, EventError> {
        let mut flat = flatten_value(&self.paths, event);
        if flat.too_deep {
            return Err(EventError::TooDeep {
                limit: MAX_EVENT_DEPTH,
            });
        }
        self.run(&mut flat)
    }

    /// The rules matching an event given as raw JSON, in the order they were added.
    ///
    /// The bytes are read once, straight into the leaves rules look at: fields no rule
    /// names are skipped by scanning their bytes, without building them (they are still
    /// checked, so an invalid event is an error wherever the problem sits).
    pub fn matching_rules_json(&self, event: &[u8]) -> Result<Vec<&R>, EventError> {
        // The event is filled in place by the byte reader (not moved out of it).
        let mut flat = FlatEvent::from_buffers();
        if scan_into(&self.paths, event, &mut flat) {
            return self.run(&mut flat);
        }
        drop(flat);
        self.run(&mut crate::flatten::flatten_bytes_serde(
            &self.paths,
            event,
        )?)
    }

    /// [`RuleMachine::matching_rules_json`] through serde_json alone (the reference of
    /// the byte reader, see `scan.rs`).
    #[cfg(test)]
    pub(crate) fn matching_rules_json_serde(&self, event: &[u8]) -> Result<Vec<&R>, EventError> {
        self.run(&mut crate::flatten::flatten_bytes_serde(
            &self.paths,
            event,
        )?)
    }

    /// [`RuleMachine::matching_rules_json`] through the byte reader alone: `None` where
    /// it would hand the event to serde_json.
    #[cfg(test)]
    pub(crate) fn matching_rules_scan(&self, event: &[u8]) -> Option<Result<Vec<&R>, EventError>> {
        crate::scan::scan(&self.paths, event).map(|mut flat| self.run(&mut flat))
    }

    #[cfg(test)]
    pub(crate) fn path_index(&self) -> &PathIndex {
        &self.paths
    }

    fn transition(&mut self, from: StateId, condition: &FieldCondition) -> StateId {
        let path = self.paths.intern(&condition.path);
        let key = (from, path, format!("{:?}", condition.matchers));
        if let Some(next) = self.shared.get(&key) {
            return *next;
        }
        let next = StateId::try_from(self.states.len()).unwrap_or(StateId::MAX);
        self.states.push(State::default());
        self.shared.insert(key, next);
        for matcher in &condition.matchers {
            match matcher {
                Matcher::Exact(Literal::Num(n)) => self.paths.watch_number(*n),
                Matcher::Numeric(_) => self.paths.watch_number_ranges(),
                Matcher::AnythingBut(AnythingBut::Values(values)) => {
                    for value in values.iter() {
                        if let Literal::Num(n) = value {
                            self.paths.watch_number(*n);
                        }
                    }
                }
                _ => {}
            }
        }
        let state = &mut self.states[from as usize];
        for matcher in &condition.matchers {
            if *matcher == Matcher::Exists(false) {
                state.absent.push((path, next));
            } else {
                state.fields.entry(path).or_default().insert(matcher, next);
            }
        }
        next
    }

    /// Walks the machine over the event's leaves. A task is a state and the array
    /// elements the match so far is bound to; only arrays that still hold leaves at
    /// paths ahead of the state are kept, so fields of one rule in different arrays
    /// cost the sum of the arrays' sizes, not their product. What remains (one rule's
    /// fields interleaved across several arrays at the same path) is bounded by the
    /// step limit.
    fn run(&self, event: &mut FlatEvent<'_>) -> Result<Vec<&R>, EventError> {
        event.with_scratch(|event, scratch| self.run_with(event, scratch))
    }

    fn run_with(
        &self,
        event: &FlatEvent<'_>,
        scratch: &mut Scratch,
    ) -> Result<Vec<&R>, EventError> {
        if !event.in_arrays() {
            return self.run_flat(event, scratch);
        }
        let Scratch {
            matched,
            seen_list,
            pending,
            nexts,
            ranges,
            relevant,
            ..
        } = scratch;
        let mut seen = Seen {
            few: std::mem::take(seen_list),
            many: None,
        };
        pending.push((START, Chosen::default()));
        relevant.clear();
        let mut steps: u64 = 0;
        while let Some((state_id, constraints)) = pending.pop() {
            let Some(state) = self.enter(state_id, &mut steps, matched)? else {
                continue;
            };
            let mut step = |next: StateId, mut constraints: Chosen| {
                constraints.retain(|&(array, _)| {
                    *relevant.entry((next, array)).or_insert_with(|| {
                        let ahead = self
                            .states
                            .get(next as usize)
                            .map_or(&[][..], |s| s.ahead.as_slice());
                        intersects(ahead, event.array_paths(array))
                    })
                });
                let task = (next, constraints);
                if seen.insert(&task) {
                    pending.push(task);
                }
            };
            for &(path, next) in &state.absent {
                if !event.has(path) {
                    step(next, constraints.clone());
                }
            }
            self.for_each_field(state, event, |transitions, leaves| {
                let mut visit = |leaf: &FlatLeaf<'_>| {
                    steps += 1;
                    nexts.clear();
                    transitions.collect_matches(&leaf.value, nexts);
                    if nexts.is_empty() {
                        return;
                    }
                    let Some(merged) = merge(&constraints, event.membership(leaf)) else {
                        return;
                    };
                    if nexts.len() > 1 {
                        nexts.sort_unstable();
                        nexts.dedup();
                    }
                    for &next in nexts.iter() {
                        step(next, merged.clone());
                    }
                };
                event.for_each_compatible_leaf(leaves, constraints.as_slice(), ranges, &mut visit);
            });
            self.within_step_limit(steps)?;
        }
        *seen_list = seen.few;
        matched.sort_unstable();
        matched.dedup();
        Ok(self.rules_of(matched))
    }

    /// A task reaches `state_id`: one step against the limit, and the rules the state
    /// accepts matched; `None` when no such state exists.
    #[inline]
    fn enter(
        &self,
        state_id: StateId,
        steps: &mut u64,
        matched: &mut Vec<u32>,
    ) -> Result<Option<&State>, EventError> {
        let Some(state) = self.states.get(state_id as usize) else {
            return Ok(None);
        };
        *steps += 1;
        self.within_step_limit(*steps)?;
        // Most states accept no rule or one: no copy call for them.
        for &rule in &state.accepts {
            matched.push(rule);
        }
        Ok(Some(state))
    }

    /// [`EventError::TooComplex`] once `steps` is past the limit.
    #[inline]
    fn within_step_limit(&self, steps: u64) -> Result<(), EventError> {
        if steps > self.step_limit {
            return Err(EventError::TooComplex {
                limit: self.step_limit,
            });
        }
        Ok(())
    }

    /// [`RuleMachine::run_with`] for an event none of whose leaves sits in an array: no
    /// task is ever bound to an array element, so a task is its state alone. The same
    /// states are reached, with the same steps counted.
    fn run_flat(
        &self,
        event: &FlatEvent<'_>,
        scratch: &mut Scratch,
    ) -> Result<Vec<&R>, EventError> {
        let Scratch {
            matched,
            nexts,
            states: pending,
            reached,
            ..
        } = scratch;
        let mut seen = SeenStates {
            few: std::mem::take(reached),
            many: None,
        };
        pending.push(START);
        let mut steps: u64 = 0;
        while let Some(state_id) = pending.pop() {
            let Some(state) = self.enter(state_id, &mut steps, matched)? else {
                continue;
            };
            for &(path, next) in &state.absent {
                if !event.has(path) && seen.insert(next) {
                    pending.push(next);
                }
            }
            self.for_each_field(state, event, |transitions, leaves| {
                for leaf in leaves {
                    steps += 1;
                    nexts.clear();
                    transitions.collect_matches(&leaf.value, nexts);
                    for &next in nexts.iter() {
                        if seen.insert(next) {
                            pending.push(next);
                        }
                    }
                }
            });
            self.within_step_limit(steps)?;
        }
        *reached = seen.few;
        matched.sort_unstable();
        matched.dedup();
        Ok(self.rules_of(matched))
    }

    /// The rules at the sorted, deduplicated positions `matched`.
    fn rules_of(&self, matched: &[u32]) -> Vec<&R> {
        let mut rules = Vec::with_capacity(matched.len());
        rules.extend(
            matched
                .iter()
                .filter_map(|&rule| self.rules.get(rule as usize)),
        );
        rules
    }

    /// Calls `visit` for each path that has both a transition out of `state` and leaves
    /// in the event (with those transitions and leaves), walking whichever side is
    /// smaller.
    fn for_each_field<'e>(
        &self,
        state: &State,
        event: &FlatEvent<'e>,
        mut visit: impl FnMut(&Transitions, &[FlatLeaf<'e>]),
    ) {
        if state.fields.is_empty() {
            return;
        }
        if state.fields.len() <= event.leaf_count() {
            for (&path, transitions) in &state.fields {
                let leaves = event.leaves_at(path);
                if !leaves.is_empty() {
                    visit(transitions, leaves);
                }
            }
        } else {
            for path in event.paths() {
                if let Some(transitions) = state.fields.get(&path) {
                    visit(transitions, event.leaves_at(path));
                }
            }
        }
    }
}

/// Buffers of [`RuleMachine::run`], kept per thread between events so that matching a
/// small event allocates little more than its result.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    matched: Vec<u32>,
    seen_list: Vec<Task>,
    pending: Vec<Task>,
    nexts: Vec<StateId>,
    /// [`RuleMachine::run_flat`]'s pending and reached states.
    states: Vec<StateId>,
    reached: Vec<StateId>,
    /// Document-order ranges of the leaves a task may use next.
    ranges: Vec<(u32, u32)>,
    /// Whether an array can still constrain the match from a state (see
    /// [`RuleMachine::run_with`]).
    relevant: Map<(StateId, u32), bool>,
}

impl Scratch {
    /// Empties the buffers for the next event, dropping those a large event grew.
    #[inline]
    pub(crate) fn recycle(&mut self) {
        const KEEP: usize = 1024;
        self.seen_list.clear();
        self.pending.clear();
        self.matched.clear();
        self.nexts.clear();
        self.states.clear();
        self.reached.clear();
        self.ranges.clear();
        let grown = [
            self.seen_list.capacity(),
            self.pending.capacity(),
            self.matched.capacity(),
            self.nexts.capacity(),
            self.states.capacity(),
            self.reached.capacity(),
            self.ranges.capacity(),
            self.relevant.capacity(),
        ]
        .into_iter()
        .fold(0, usize::max);
        if grown > KEEP {
            self.shrink(KEEP);
        }
    }

    /// Drops the buffers grown past `keep` entries.
    #[cold]
    fn shrink(&mut self, keep: usize) {
        for list in [&mut self.seen_list, &mut self.pending] {
            if list.capacity() > keep {
                *list = Vec::new();
            }
        }
        for list in [
            &mut self.matched,
            &mut self.nexts,
            &mut self.states,
            &mut self.reached,
        ] {
            if list.capacity() > keep {
                *list = Vec::new();
            }
        }
        if self.ranges.capacity() > keep {
            self.ranges = Vec::new();
        }
        if self.relevant.capacity() > keep {
            self.relevant = Map::default();
        }
    }
}

/// The tasks already queued: a short list searched in turn, a hash set past 32 of them
/// (most events reach a handful of states, and a set costs an allocation and hashing).
#[derive(Default)]
struct Seen {
    few: Vec<Task>,
    many: Option<Set<Task>>,
}

impl Seen {
    /// Records `task`; `false` when it was already there.
    fn insert(&mut self, task: &Task) -> bool {
        if let Some(many) = &mut self.many {
            if many.contains(task) {
                return false;
            }
            return many.insert(task.clone());
        }
        if self.few.contains(task) {
            return false;
        }
        self.few.push(task.clone());
        if self.few.len() > 32 {
            self.many = Some(self.few.drain(..).collect());
        }
        true
    }
}

/// The states already queued by [`RuleMachine::run_flat`]: a short list searched in
/// turn, a hash set past 32 of them (as [`Seen`]).
struct SeenStates {
    few: Vec<StateId>,
    many: Option<Set<StateId>>,
}

impl SeenStates {
    /// Records `state`; `false` when it was already there.
    #[inline(always)]
    fn insert(&mut self, state: StateId) -> bool {
        if let Some(many) = &mut self.many {
            return many.insert(state);
        }
        if self.few.contains(&state) {
            return false;
        }
        self.few.push(state);
        if self.few.len() > 32 {
            self.many = Some(self.few.drain(..).collect());
        }
        true
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

/// Whether two sorted lists share an element: each item of the shorter is looked up in
/// the longer, so a state with thousands of paths ahead costs little per small array.
fn intersects(a: &[PathId], b: &[PathId]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short.iter().any(|path| long.binary_search(path).is_ok())
}

/// Combines the array positions already chosen with a leaf's; `None` when the leaf sits
/// in a different element of an array the rule already committed to.
fn merge(chosen: &Chosen, leaf: &[Membership]) -> Option<Chosen> {
    let mut merged = chosen.clone();
    for &(array, index) in leaf {
        match chosen.as_slice().iter().find(|(a, _)| *a == array) {
            Some(&(_, other)) if other != index => return None,
            Some(_) => {}
            None => merged.push((array, index)),
        }
    }
    Some(merged)
}
