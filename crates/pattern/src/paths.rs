//! The path index: the field paths rules name (each with a dense id), every dotted
//! prefix of them, and the same paths as a trie of their steps (`trie.rs`). The event
//! readers (`flatten.rs`, `scan.rs`) ask it which keys to descend into; it also notes
//! which numbers rules compare, so that a number leaf is read exactly only when that
//! matters.

use crate::ids::PathId;
use crate::numbers::inexact_marker;
use crate::trie::PathTrie;
use crate::value::number_key;

type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;
type Set<K> = std::collections::HashSet<K, foldhash::fast::FixedState>;

/// The field paths rules name, and every dotted prefix of them.
#[derive(Debug, Default, Clone)]
pub(crate) struct PathIndex {
    full: Map<Box<str>, PathId>,
    /// Every path named by a rule or leading to one, with its id when a rule names it:
    /// one lookup per event key tells both whether to descend and which leaf it is.
    steps: Map<Box<str>, Option<PathId>>,
    /// Whether an event's empty keys are looked into (see [`names_empty_step`]).
    empty_step: bool,
    /// Bit `n` (of lengths below 128) or bit 127 (longer): some entry of `steps` has
    /// that many bytes. Most event keys are refused by it without hashing their path.
    lengths: u128,
    /// Whether some rule compares numbers by range: then every number leaf must be read
    /// exactly (see `numbers.rs`).
    number_ranges: bool,
    /// Keys (`number_key`) of the numbers rules compare by equality (exact values,
    /// `anything-but` lists). A number leaf equal to none of them, nor to one as written
    /// inexactly, matches the same rules whether its text is exact or not.
    number_keys: Set<u64>,
    /// The same paths as a trie of their steps, for the byte reader (`scan.rs`).
    pub(crate) trie: PathTrie,
}

/// Whether a pattern path names an empty key in a way EventBridge looks for in events.
///
/// EventBridge (event-ruler) descends into an event key only when some pattern path
/// holds that key as a step, and it splits pattern paths at `.` dropping trailing empty
/// steps (Java's `String.split`): `a.` (`{"a": {"": ...}}`) has the one step `a`, so an
/// empty key below `a` is never looked into, while `""`, `.a` and `a..b` do name it.
pub(crate) fn names_empty_step(path: &str) -> bool {
    let steps = path.trim_end_matches('.');
    path.is_empty() || (!steps.is_empty() && steps.split('.').any(str::is_empty))
}

fn length_bit(len: usize) -> u128 {
    1u128 << len.min(127)
}

impl PathIndex {
    /// The id of `path`, registering it (and its dotted prefixes) if new.
    pub(crate) fn intern(&mut self, path: &str) -> PathId {
        if let Some(id) = self.full.get(path) {
            return *id;
        }
        let id = PathId::try_from(self.full.len()).unwrap_or(PathId::MAX);
        self.full.insert(path.into(), id);
        self.steps.insert(path.into(), Some(id));
        self.lengths |= length_bit(path.len());
        self.empty_step |= names_empty_step(path);
        self.trie.insert(path, id);
        for (at, _) in path.match_indices('.') {
            self.steps.entry(path[..at].into()).or_insert(None);
            self.lengths |= length_bit(at);
        }
        id
    }

    /// Notes a rule comparing numbers by range.
    pub(crate) fn watch_number_ranges(&mut self) {
        self.number_ranges = true;
    }

    /// Notes a rule comparing numbers with `n` by equality.
    pub(crate) fn watch_number(&mut self, n: f64) {
        self.number_keys.insert(number_key(n));
    }

    /// Whether it matters to some rule that the event writes `value` exactly.
    #[inline]
    pub(crate) fn needs_exactness(&self, value: f64) -> bool {
        self.number_ranges
            || (!self.number_keys.is_empty()
                && (self.number_keys.contains(&number_key(value))
                    || self
                        .number_keys
                        .contains(&number_key(inexact_marker(value)))))
    }

    /// Whether an event's empty keys are looked into (see [`names_empty_step`]).
    #[inline]
    pub(crate) fn empty_step(&self) -> bool {
        self.empty_step
    }

    /// Whether anything at or below `path` can matter to some rule, and the id of `path`
    /// when a rule names it.
    #[inline]
    pub(crate) fn lookup(&self, path: &str) -> (bool, Option<PathId>) {
        if self.lengths & length_bit(path.len()) == 0 {
            return (path.is_empty(), None);
        }
        match self.steps.get(path) {
            Some(id) => (true, *id),
            None => (path.is_empty(), None),
        }
    }
}
