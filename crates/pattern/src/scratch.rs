//! The matcher's work lists for one event: the tasks pending and seen (a state and the
//! array elements the match so far is bound to), the states reached, the rules matched.
//! Kept per thread between events (with the event's own buffers, `flatten.rs`) so that
//! matching a small event allocates little more than its result.

use crate::ids::{Membership, PathId, StateId};

type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;
type Set<K> = std::collections::HashSet<K, foldhash::fast::FixedState>;

/// One pending step of the traversal: a state reached under array-element constraints.
pub(crate) type Task = (StateId, Chosen);

/// The array elements a task is bound to, outermost first: up to three kept inline
/// (copied without allocating), more in a list.
#[derive(Debug, Clone)]
pub(crate) enum Chosen {
    Few(u8, [Membership; 3]),
    Many(Vec<Membership>),
}

impl Default for Chosen {
    fn default() -> Self {
        Chosen::Few(0, [(0, 0); 3])
    }
}

impl Chosen {
    #[inline]
    pub(crate) fn as_slice(&self) -> &[Membership] {
        match self {
            Chosen::Few(len, items) => &items[..usize::from(*len)],
            Chosen::Many(items) => items,
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, item: Membership) {
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

    #[inline]
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&Membership) -> bool) {
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

/// Buffers of the machine's walk (`machine.rs`), kept per thread between events so that
/// matching a small event allocates little more than its result.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    pub(crate) matched: Vec<u32>,
    pub(crate) seen_list: Vec<Task>,
    pub(crate) pending: Vec<Task>,
    pub(crate) nexts: Vec<StateId>,
    /// The flat walk's pending and reached states.
    pub(crate) states: Vec<StateId>,
    pub(crate) reached: Vec<StateId>,
    /// Document-order ranges of the leaves a task may use next.
    pub(crate) ranges: Vec<(u32, u32)>,
    /// Whether an array can still constrain the match from a state (see the walk in
    /// `machine.rs`).
    pub(crate) relevant: Map<(StateId, u32), bool>,
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
pub(crate) struct Seen {
    pub(crate) few: Vec<Task>,
    pub(crate) many: Option<Set<Task>>,
}

impl Seen {
    /// Records `task`; `false` when it was already there.
    #[inline]
    pub(crate) fn insert(&mut self, task: &Task) -> bool {
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

/// The states already queued by the flat walk: a short list searched in
/// turn, a hash set past 32 of them (as [`Seen`]).
pub(crate) struct SeenStates {
    pub(crate) few: Vec<StateId>,
    pub(crate) many: Option<Set<StateId>>,
}

impl SeenStates {
    /// Records `state`; `false` when it was already there.
    #[inline(always)]
    pub(crate) fn insert(&mut self, state: StateId) -> bool {
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

/// Whether two sorted lists share an element: each item of the shorter is looked up in
/// the longer, so a state with thousands of paths ahead costs little per small array.
#[inline]
pub(crate) fn intersects(a: &[PathId], b: &[PathId]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short.iter().any(|path| long.binary_search(path).is_ok())
}

/// Combines the array positions already chosen with a leaf's; `None` when the leaf sits
/// in a different element of an array the rule already committed to.
#[inline]
pub(crate) fn merge(chosen: &Chosen, leaf: &[Membership]) -> Option<Chosen> {
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
