//! The search behind [`crate::Pattern::explain`]: one alternative's field conditions tried
//! against the leaves the engine reads from the event (the same flattened event as the
//! machine's, through the pattern's own path index), so that the explanation's verdict is
//! the machine's.
//!
//! An alternative fails either on a condition that no leaf satisfies on its own (the
//! first one, in path order), or, when every condition holds alone, on fields that hold
//! only in different elements of one array (fields of one rule found inside the same
//! array must come from the same element): then the shortest failing prefix of the
//! conditions names the culprit, and the conditions before it are pared down to the few
//! it cannot hold together with.

use std::collections::{HashMap, HashSet};

use crate::error::EventError;
use crate::flatten::{FlatEvent, FlatLeaf};
use crate::ids::{Membership, PathId};
use crate::machine::DEFAULT_STEP_LIMIT;
use crate::matcher::Matcher;
use crate::parse::FieldCondition;
use crate::paths::PathIndex;

/// Most steps (a leaf tried against a condition) one explanation takes, over all its
/// alternatives and searches; past it the explanation is [`EventError::TooComplex`].
pub(crate) const EXPLAIN_STEP_LIMIT: u64 = 4 * DEFAULT_STEP_LIMIT;

/// What one alternative does with the event; leaves are given by their position among
/// the leaves at the condition's path ([`Search::leaves`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Every condition holds: the leaf chosen for each (`None`: the field is absent, as
    /// `exists: false` asks), all from consistent array elements.
    Matched(Vec<Option<usize>>),
    /// The condition at this position holds for no leaf of its path (the first such).
    FailsAlone(usize),
    /// Every condition holds alone, but the one at `at` does not hold in the same array
    /// elements as the conditions at `with` (ascending, all before `at`, none of them
    /// superfluous: without any one of them, `at` would hold with the rest).
    FailsTogether { at: usize, with: Vec<usize> },
}

/// The explanation's walk over one flattened event, with its step count.
pub(crate) struct Search<'e, 'a> {
    event: &'e FlatEvent<'a>,
    index: &'e PathIndex,
    steps: u64,
}

/// Whether a present leaf satisfies one of the condition's matchers (as the reference
/// evaluator and the machine's transitions decide it).
pub(crate) fn satisfies(condition: &FieldCondition, leaf: &FlatLeaf<'_>) -> bool {
    condition.matchers.iter().any(|m| m.matches(&leaf.value))
}

/// Whether the condition holds when its field is absent (`exists: false`).
pub(crate) fn holds_when_absent(condition: &FieldCondition) -> bool {
    condition.matchers.contains(&Matcher::Exists(false))
}

/// One level of the depth-first search: the array elements the match is bound to on
/// entering this condition, the next leaf to try, and the leaf taken.
struct Frame {
    chosen: Vec<Membership>,
    next: usize,
    picked: Option<usize>,
}

impl<'e, 'a> Search<'e, 'a> {
    pub(crate) fn new(event: &'e FlatEvent<'a>, index: &'e PathIndex) -> Self {
        Self {
            event,
            index,
            steps: 0,
        }
    }

    fn path(&self, condition: &FieldCondition) -> Option<PathId> {
        self.index.lookup(&condition.path).1
    }

    /// The event's leaves at the condition's path (all elements of the arrays on it).
    pub(crate) fn leaves(&self, condition: &FieldCondition) -> &'e [FlatLeaf<'a>] {
        match self.path(condition) {
            Some(path) => self.event.leaves_at(path),
            None => &[],
        }
    }

    fn step(&mut self) -> Result<(), EventError> {
        self.steps += 1;
        if self.steps > EXPLAIN_STEP_LIMIT {
            return Err(EventError::TooComplex {
                limit: EXPLAIN_STEP_LIMIT,
            });
        }
        Ok(())
    }

    /// Whether the condition holds on its own: some leaf satisfies it, or none is there
    /// and it asks for absence.
    pub(crate) fn holds_alone(&mut self, condition: &FieldCondition) -> Result<bool, EventError> {
        let leaves = self.leaves(condition);
        if leaves.is_empty() {
            return Ok(holds_when_absent(condition));
        }
        for leaf in leaves {
            self.step()?;
            if satisfies(condition, leaf) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// What the alternative (its conditions, sorted by path) does with the event.
    pub(crate) fn alternative(
        &mut self,
        conditions: &[FieldCondition],
    ) -> Result<Verdict, EventError> {
        for (at, condition) in conditions.iter().enumerate() {
            if !self.holds_alone(condition)? {
                return Ok(Verdict::FailsAlone(at));
            }
        }
        let all: Vec<&FieldCondition> = conditions.iter().collect();
        if let Some(picks) = self.together(&all)? {
            return Ok(Verdict::Matched(picks));
        }
        // Failing only grows with more conditions: the shortest failing prefix, by
        // bisection (a prefix of one holds, the whole alternative fails).
        let (mut holds, mut fails) = (1, conditions.len());
        while fails - holds > 1 {
            let middle = holds + (fails - holds) / 2;
            if self.together(&all[..middle])?.is_some() {
                holds = middle;
            } else {
                fails = middle;
            }
        }
        let at = fails - 1;
        let mut with: Vec<usize> = (0..at).collect();
        let mut trial = 0;
        while trial < with.len() {
            let fewer: Vec<&FieldCondition> = with
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != trial)
                .map(|(_, &c)| &conditions[c])
                .chain(std::iter::once(&conditions[at]))
                .collect();
            if self.together(&fewer)?.is_none() {
                with.remove(trial);
            } else {
                trial += 1;
            }
        }
        Ok(Verdict::FailsTogether { at, with })
    }

    /// A choice of one leaf per condition (or the field's absence, for `exists: false`)
    /// from consistent array elements, if there is one: a depth-first search that
    /// forgets an array once no condition ahead has leaves in it, and remembers the
    /// (condition, bound elements) pairs that failed, as the machine's tasks do.
    fn together(
        &mut self,
        conditions: &[&FieldCondition],
    ) -> Result<Option<Vec<Option<usize>>>, EventError> {
        let leaves: Vec<&'e [FlatLeaf<'a>]> = conditions.iter().map(|c| self.leaves(c)).collect();
        let paths: Vec<Option<PathId>> = conditions.iter().map(|c| self.path(c)).collect();
        let mut last_use: HashMap<u32, usize> = HashMap::new();
        let mut failed: HashSet<(usize, Vec<Membership>)> = HashSet::new();
        let mut frames = vec![Frame {
            chosen: Vec::new(),
            next: 0,
            picked: None,
        }];
        loop {
            let at = frames.len() - 1;
            if at == conditions.len() {
                return Ok(Some(frames[..at].iter().map(|f| f.picked).collect()));
            }
            let Some(frame) = frames.last_mut() else {
                return Ok(None);
            };
            let mut entered = None;
            if leaves[at].is_empty() {
                if frame.next == 0 && holds_when_absent(conditions[at]) {
                    frame.next = 1;
                    frame.picked = None;
                    let kept = self.forget(&frame.chosen, at + 1, &paths, &mut last_use);
                    if !failed.contains(&(at + 1, kept.clone())) {
                        entered = Some(kept);
                    }
                }
            } else {
                while frame.next < leaves[at].len() {
                    let index = frame.next;
                    frame.next += 1;
                    self.step()?;
                    let leaf = &leaves[at][index];
                    let membership = self.event.membership(leaf);
                    if !consistent(&frame.chosen, membership) || !satisfies(conditions[at], leaf) {
                        continue;
                    }
                    let merged = merge(&frame.chosen, membership);
                    let kept = self.forget(&merged, at + 1, &paths, &mut last_use);
                    if failed.contains(&(at + 1, kept.clone())) {
                        continue;
                    }
                    frame.picked = Some(index);
                    entered = Some(kept);
                    break;
                }
            }
            match entered {
                Some(chosen) => frames.push(Frame {
                    chosen,
                    next: 0,
                    picked: None,
                }),
                None => {
                    if let Some(done) = frames.pop() {
                        failed.insert((at, done.chosen));
                    }
                    if frames.is_empty() {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// The bound elements that can still constrain the conditions from `from` on: those
    /// of arrays holding leaves at one of their paths.
    fn forget(
        &self,
        chosen: &[Membership],
        from: usize,
        paths: &[Option<PathId>],
        last_use: &mut HashMap<u32, usize>,
    ) -> Vec<Membership> {
        chosen
            .iter()
            .filter(|&&(array, _)| {
                let last = *last_use.entry(array).or_insert_with(|| {
                    let inside = self.event.array_paths(array);
                    paths
                        .iter()
                        .rposition(|p| p.is_some_and(|p| inside.binary_search(&p).is_ok()))
                        .map_or(0, |at| at + 1)
                });
                last > from
            })
            .copied()
            .collect()
    }
}

/// Whether a leaf in the elements `membership` can join a match bound to `chosen`
/// (sorted, one element per array): it sits in no other element of a bound array.
fn consistent(chosen: &[Membership], membership: &[Membership]) -> bool {
    membership.iter().all(|&(array, element)| {
        match chosen.binary_search_by_key(&array, |&(a, _)| a) {
            Ok(at) => chosen[at].1 == element,
            Err(_) => true,
        }
    })
}

/// `chosen` and `membership` together, sorted, without repeats.
fn merge(chosen: &[Membership], membership: &[Membership]) -> Vec<Membership> {
    let mut merged: Vec<Membership> = chosen.iter().chain(membership).copied().collect();
    merged.sort_unstable();
    merged.dedup();
    merged
}
