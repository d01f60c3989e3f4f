//! The field paths rules name, as a trie of their dot-separated steps, for the byte
//! reader (`scan.rs`): an event key is followed with one lookup, without building the
//! dotted path, and most keys no rule names are refused by their length alone.

use crate::ids::PathId;

type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// The trie's root: above every key of the event.
pub(crate) const ROOT: u32 = 0;
/// A node with no children and no id: the event's top-level empty key when no rule path
/// starts with it (the dotted-path lookup looks into that key, finding nothing below).
pub(crate) const DEAD: u32 = 1;

/// Paths of more steps than this get no shortcut entries (see [`PathTrie::insert`]):
/// their dotted event keys are followed step by step.
const MAX_SHORTCUT_STEPS: usize = 16;

/// Children kept in a list, searched in turn; more go to a hash map.
const FEW_CHILDREN: usize = 8;

#[derive(Debug, Clone, Default)]
pub(crate) struct PathTrie {
    nodes: Vec<TrieNode>,
    /// Some path has more than [`MAX_SHORTCUT_STEPS`] steps.
    long_paths: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct TrieNode {
    /// The id of the node's path when a rule names it.
    pub(crate) id: Option<PathId>,
    /// Bit `n` (of lengths below 64) or bit 63 (longer): some child key has that length.
    lengths: u64,
    few: Vec<(Box<[u8]>, u32)>,
    /// The entries of `few` of 1 to 8 bytes: their bytes as a little-endian word padded
    /// with zeros, their length and node (see [`PathTrie::child_within`]).
    short: Vec<(u64, usize, u32)>,
    many: Option<Map<Box<[u8]>, u32>>,
}

pub(crate) fn length_bit(len: usize) -> u64 {
    1u64 << len.min(63)
}

impl TrieNode {
    #[inline(always)]
    fn get(&self, key: &[u8]) -> Option<u32> {
        if self.lengths & length_bit(key.len()) == 0 {
            return None;
        }
        match &self.many {
            Some(many) => many.get(key).copied(),
            None => self
                .few
                .iter()
                .find(|(k, _)| k.first() == key.first() && k.as_ref() == key)
                .map(|&(_, n)| n),
        }
    }

    fn put(&mut self, key: &[u8], node: u32) {
        if self.get(key).is_some() {
            return;
        }
        self.lengths |= length_bit(key.len());
        match &mut self.many {
            Some(many) => {
                many.insert(key.into(), node);
            }
            None => {
                self.few.push((key.into(), node));
                if (1..=8).contains(&key.len()) {
                    let mut word = [0u8; 8];
                    word[..key.len()].copy_from_slice(key);
                    self.short.push((u64::from_le_bytes(word), key.len(), node));
                }
                if self.few.len() > FEW_CHILDREN {
                    self.short.clear();
                    self.many = Some(self.few.drain(..).collect());
                }
            }
        }
    }
}

impl PathTrie {
    /// Adds a path (its steps are split at `.`) with its id.
    ///
    /// Each node gets an entry per step below it, and also, for paths of at most
    /// [`MAX_SHORTCUT_STEPS`] steps, one per run of steps joined with dots (`b.c` from
    /// `a` for `a.b.c`): an event key holding dots (`{"a": {"b.c": 1}}`) names the same
    /// field as the nested keys, and is then followed with one lookup.
    pub(crate) fn insert(&mut self, path: &str, id: PathId) {
        if self.nodes.is_empty() {
            self.nodes = vec![TrieNode::default(), TrieNode::default()];
        }
        let steps: Vec<&str> = path.split('.').collect();
        let mut chain = vec![ROOT];
        for step in &steps {
            let from = chain.last().copied().unwrap_or(ROOT);
            let node = match self.nodes[from as usize].get(step.as_bytes()) {
                Some(node) => node,
                None => {
                    let node = u32::try_from(self.nodes.len()).unwrap_or(u32::MAX);
                    self.nodes.push(TrieNode::default());
                    self.nodes[from as usize].put(step.as_bytes(), node);
                    node
                }
            };
            chain.push(node);
        }
        if let Some(&last) = chain.last() {
            self.nodes[last as usize].id = Some(id);
        }
        if steps.len() > MAX_SHORTCUT_STEPS {
            self.long_paths = true;
            return;
        }
        for from in 0..steps.len() {
            for to in from + 2..=steps.len() {
                let key = steps[from..to].join(".");
                self.nodes[chain[from] as usize].put(key.as_bytes(), chain[to]);
            }
        }
    }

    /// The node of an event key below `node`, or `None` when nothing at or below it
    /// matters to a rule: the node of the dotted path `node` + `.` + `key`.
    #[inline(always)]
    pub(crate) fn child(&self, node: u32, key: &[u8]) -> Option<u32> {
        match self.nodes.get(node as usize)?.get(key) {
            Some(found) => Some(found),
            None if self.long_paths || key.is_empty() => self.child_by_steps(node, key),
            None => None,
        }
    }

    /// [`PathTrie::child`] for the key `input[start..end]`: a key of 1 to 8 bytes
    /// followed by at least 8 bytes of input (the usual case: its closing quote and
    /// value) is compared as one word with each short entry, without a call.
    #[inline(always)]
    pub(crate) fn child_within(
        &self,
        node: u32,
        input: &[u8],
        start: usize,
        end: usize,
    ) -> Option<u32> {
        let len = end.wrapping_sub(start);
        if (1..=8).contains(&len)
            && !self.long_paths
            && let Some(chunk) = input.get(start..start + 8)
            && let Some(found) = self.nodes.get(node as usize)
            && found.many.is_none()
        {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let word = u64::from_le_bytes(word) & (u64::MAX >> (64 - 8 * len));
            return found
                .short
                .iter()
                .find(|&&(w, l, _)| w == word && l == len)
                .map(|&(_, _, child)| child);
        }
        self.child(node, input.get(start..end)?)
    }

    /// [`PathTrie::child`] for a key no entry of `node` holds: a dotted key of a long
    /// path followed step by step, or the top-level empty key.
    #[cold]
    fn child_by_steps(&self, node: u32, key: &[u8]) -> Option<u32> {
        let found = if self.long_paths && key.contains(&b'.') {
            key.split(|&b| b == b'.')
                .try_fold(node, |at, step| self.nodes.get(at as usize)?.get(step))
        } else {
            None
        };
        match found {
            None if node == ROOT && key.is_empty() => Some(DEAD),
            found => found,
        }
    }

    /// Bit `n` (see [`length_bit`]) set when no non-empty event key of that length has a
    /// child below `node` ([`PathTrie::child`] is `None` for it): the lengths of no
    /// entry, when no path is followed step by step. Empty keys are never refused here.
    #[inline]
    pub(crate) fn refused_lengths(&self, node: u32) -> u64 {
        match self.nodes.get(node as usize) {
            Some(found) if !self.long_paths => !found.lengths & !1,
            _ => 0,
        }
    }

    /// The id of the node's path, when a rule names it.
    pub(crate) fn id(&self, node: u32) -> Option<PathId> {
        self.nodes.get(node as usize).and_then(|n| n.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key compared as a word (`child_within`) finds what the byte lookup (`child`)
    /// finds, wherever it sits in the input and whatever follows it.
    #[test]
    fn word_lookups_agree_with_byte_lookups() {
        let paths = [
            "a",
            "ab",
            "detail",
            "detail.f",
            "detail.g2",
            "x.y.z",
            "eightchr",
            "ninechars",
            "\u{e9}t\u{e9}",
            "a.b.c.d",
        ];
        let mut few = PathTrie::default();
        for (id, path) in paths.iter().enumerate() {
            few.insert(path, id as PathId);
        }
        // Past FEW_CHILDREN children of the root: a hashed node.
        let mut many = few.clone();
        for i in 0..20 {
            many.insert(&format!("k{i}"), 100 + i);
        }
        let keys = [
            "a",
            "b",
            "ab",
            "ba",
            "detail",
            "detail.f",
            "detailx",
            "f",
            "g2",
            "g",
            "x",
            "y.z",
            "eightchr",
            "eightchx",
            "ninechars",
            "\u{e9}t\u{e9}",
            "\u{e9}t",
            "k3",
            "b.c.d",
            "",
        ];
        for trie in [&few, &many] {
            let nodes: Vec<u32> = (0..trie.nodes.len() as u32).collect();
            for &node in &nodes {
                for key in keys {
                    for tail in [
                        "",
                        "\"",
                        "\":\"value\"}",
                        "\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}",
                    ] {
                        let input = format!("{{\"{key}{tail}");
                        let start = 2;
                        let end = start + key.len();
                        assert_eq!(
                            trie.child_within(node, input.as_bytes(), start, end),
                            trie.child(node, key.as_bytes()),
                            "node {node}, key {key:?}, then {tail:?}"
                        );
                    }
                }
            }
        }
    }
}
