//! Many rules compiled into one machine.
//!
//! Every rule is a set of alternatives, each a list of field conditions sorted by path.
//! Inserting an alternative walks from the start state, one transition per field
//! condition; identical conditions from the same state share the next state, so rules
//! with common fields share a trie. A transition is keyed by field path and indexed by
//! value, one index per operator kind (hash maps for exact, case-folded and cidr values,
//! prefix/suffix tables by length, an interval tree for numeric ranges, excluded values
//! for anything-but, literal heads and tails for wildcards: each in its operator's
//! module, gathered by `transitions.rs`), so matching
//! an event visits only the transitions its own leaves select: the cost follows the
//! event and its matches, not the number of rules.

use serde_json::Value;

use crate::anything_but::AnythingBut;
use crate::error::EventError;
use crate::exact::Literal;
use crate::flatten::{FlatEvent, FlatLeaf, MAX_EVENT_DEPTH, flatten_bytes_serde, flatten_value};
use crate::ids::{PathId, StateId};
use crate::matcher::Matcher;
use crate::parse::{FieldCondition, SubRule};
use crate::paths::PathIndex;
use crate::scan::scan_into;
use crate::scratch::{Chosen, Scratch, Seen, SeenStates, intersects, merge};
use crate::transitions::Transitions;

type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

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

    /// Adds a rule given as its alternatives (see `parse.rs`): `id` is returned for
    /// every event one of them matches ([`RuleMachine::add_rule`] takes a pattern).
    pub(crate) fn add_alternatives(&mut self, id: R, alternatives: &[SubRule]) {
        let rule = u32::try_from(self.rules.len()).unwrap_or(u32::MAX);
        self.rules.push(id);
        for alternative in alternatives {
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
        self.run(&mut flatten_bytes_serde(&self.paths, event)?)
    }

    /// [`RuleMachine::matching_rules_json`] through serde_json alone (the reference of
    /// the byte reader, see `scan.rs`).
    #[cfg(test)]
    pub(crate) fn matching_rules_json_serde(&self, event: &[u8]) -> Result<Vec<&R>, EventError> {
        self.run(&mut flatten_bytes_serde(&self.paths, event)?)
    }

    /// [`RuleMachine::matching_rules_json`] through the byte reader alone: `None` where
    /// it would hand the event to serde_json.
    #[cfg(test)]
    pub(crate) fn matching_rules_scan(&self, event: &[u8]) -> Option<Result<Vec<&R>, EventError>> {
        crate::scan::scan(&self.paths, event).map(|mut flat| self.run(&mut flat))
    }

    /// The paths the machine's rules name (the explanation reads events through it).
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
