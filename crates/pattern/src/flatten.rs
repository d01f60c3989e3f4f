//! Event flattening: a JSON object to the list of its leaves, keyed by dotted path.
//!
//! Only paths some rule names are kept, and subtrees that lead to no such path are
//! skipped (for raw bytes they are validated but never materialised), so the work per
//! event is bounded by the event's size and does not grow with the number of rules.
//! Each leaf remembers which element of which array it sits in, so that fields of one
//! rule can be required to come from the same array element.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::error::EventError;
use crate::ids::{Membership, PathId};
use crate::numbers;
use crate::paths::PathIndex;
use crate::scratch::Scratch;
use crate::trie::ROOT;
use crate::value::LeafValue;

/// One leaf of an event.
#[derive(Debug, Clone)]
pub(crate) struct FlatLeaf<'a> {
    pub(crate) path: PathId,
    pub(crate) value: LeafValue<'a>,
    /// Position of the leaf in document order (among kept leaves).
    seq: u32,
    /// Range into [`FlatEvent::memberships`].
    arrays: (u32, u32),
}

/// Where an array's leaves sit in document order: `[start, end)` of the whole array and
/// of each element.
#[derive(Debug, Default, Clone)]
struct ArraySpan {
    whole: (u32, u32),
    elements: Vec<(u32, u32)>,
    /// Paths of the leaves inside the array, sorted, without repeats.
    paths: Vec<PathId>,
}

/// The relevant leaves of one event, sorted by path id (then document order).
///
/// Its lists come from the thread's [`Buffers`] and go back there when it is dropped, so
/// that flattening a small event allocates nothing once the thread has matched one.
#[derive(Debug, Default)]
pub(crate) struct FlatEvent<'a> {
    leaves: Vec<FlatLeaf<'a>>,
    memberships: Vec<Membership>,
    /// Indexed by array id - 1.
    arrays: Vec<ArraySpan>,
    /// Whether a parsed event nested deeper than [`MAX_EVENT_DEPTH`] (its deeper parts
    /// were not read).
    pub(crate) too_deep: bool,
    /// Buffers kept for the next event: array spans to reuse and the walker's array stack.
    spare: Option<Box<Buffers>>,
}

/// Lists one flattening uses, kept per thread between events (see [`FlatEvent`]).
#[derive(Debug, Default)]
struct Buffers {
    leaves: Vec<FlatLeaf<'static>>,
    memberships: Vec<Membership>,
    arrays: Vec<ArraySpan>,
    /// Emptied spans, their lists ready for another array.
    spans: Vec<ArraySpan>,
    stack: Vec<Membership>,
    /// The walker's dotted path (parsed events).
    path: String,
    /// The matcher's lists (kept here so that one event takes all its buffers at once).
    scratch: Scratch,
}

thread_local! {
    static BUFFERS: std::cell::Cell<Option<Box<Buffers>>> = const { std::cell::Cell::new(None) };
}

/// Lists longer than this are dropped rather than kept for the next event.
const KEEP: usize = 1024;

/// An emptied list of leaves, detached from the input it borrowed (same layout: the
/// allocation is reused).
#[inline(always)]
fn relabel<'b>(mut leaves: Vec<FlatLeaf<'_>>) -> Vec<FlatLeaf<'b>> {
    leaves.clear();
    // `filter_map` to nothing, not `filter`: the items change type (the borrow they may
    // hold), so the list is collected in place without building any item.
    #[allow(clippy::unnecessary_filter_map)]
    leaves
        .into_iter()
        .filter_map(|_| None::<FlatLeaf<'b>>)
        .collect()
}

/// Empties `list`, or drops it when it grew past [`KEEP`].
fn empty<T>(list: &mut Vec<T>) {
    list.clear();
    if list.capacity() > KEEP {
        *list = Vec::new();
    }
}

impl FlatEvent<'_> {
    /// An empty event on the thread's kept buffers.
    pub(crate) fn from_buffers() -> Self {
        let mut buffers = BUFFERS.with(std::cell::Cell::take).unwrap_or_default();
        Self {
            // A list of leaves borrowing nothing serves any input as it is (covariance).
            leaves: std::mem::take(&mut buffers.leaves),
            // Taken when a leaf sits in an array (most events have none).
            memberships: Vec::new(),
            arrays: Vec::new(),
            too_deep: false,
            spare: Some(buffers),
        }
    }

    fn spare(&mut self) -> &mut Buffers {
        self.spare.get_or_insert_with(Box::default)
    }

    /// Runs `matching` with the matcher's kept lists (fresh ones when the event has no
    /// kept buffers), then empties them for the next event.
    pub(crate) fn with_scratch<T>(&mut self, matching: impl FnOnce(&Self, &mut Scratch) -> T) -> T {
        let mut spare = self.spare.take().unwrap_or_default();
        let result = matching(self, &mut spare.scratch);
        spare.scratch.recycle();
        self.spare = Some(spare);
        result
    }
}

impl Drop for FlatEvent<'_> {
    fn drop(&mut self) {
        let Some(mut buffers) = self.spare.take() else {
            return;
        };
        if self.leaves.capacity() <= KEEP {
            buffers.leaves = relabel(std::mem::take(&mut self.leaves));
        }
        if self.memberships.capacity() != 0 && self.memberships.capacity() <= KEEP {
            self.memberships.clear();
            buffers.memberships = std::mem::take(&mut self.memberships);
        }
        if self.arrays.capacity() == 0 {
            // Nothing taken, nothing to give back.
        } else if !self.arrays.is_empty() {
            if self.arrays.len() + buffers.spans.len() <= KEEP {
                for mut span in self.arrays.drain(..) {
                    empty(&mut span.elements);
                    empty(&mut span.paths);
                    buffers.spans.push(span);
                }
            }
            empty(&mut self.arrays);
            buffers.arrays = std::mem::take(&mut self.arrays);
        } else {
            buffers.arrays = std::mem::take(&mut self.arrays);
        }
        BUFFERS.with(|cell| cell.set(Some(buffers)));
    }
}

/// Deepest nesting of objects and arrays read in a parsed event. Raw bytes stop earlier:
/// the JSON reader refuses more than 128 levels.
pub(crate) const MAX_EVENT_DEPTH: usize = 128;

impl<'a> FlatEvent<'a> {
    /// Leaves at `path` (all elements when the path holds an array).
    #[inline]
    pub(crate) fn leaves_at(&self, path: PathId) -> &[FlatLeaf<'a>] {
        let start = self.leaves.partition_point(|l| l.path < path);
        let end = start + self.leaves[start..].partition_point(|l| l.path == path);
        &self.leaves[start..end]
    }

    /// Calls `visit` for each of `leaves` (the leaves at one path, from
    /// [`FlatEvent::leaves_at`]) that may join a match already bound to the
    /// `chosen` array elements: inside a chosen element, or outside that array
    /// altogether. Found by binary search, so following one array element costs
    /// O(log n), not O(n). `ranges` is a work list (its content is replaced).
    pub(crate) fn for_each_compatible_leaf(
        &self,
        leaves: &[FlatLeaf<'a>],
        chosen: &[Membership],
        ranges: &mut Vec<(u32, u32)>,
        mut visit: impl FnMut(&FlatLeaf<'a>),
    ) {
        if chosen.is_empty() {
            leaves.iter().for_each(visit);
            return;
        }
        ranges.clear();
        for &(array, index) in chosen {
            let Some(span) = self.arrays.get(array.wrapping_sub(1) as usize) else {
                continue;
            };
            let Some(&(start, end)) = span.elements.get(index as usize) else {
                continue;
            };
            ranges.push((span.whole.0, start));
            ranges.push((end, span.whole.1));
        }
        allowed_ranges(ranges);
        for &(low, high) in ranges.iter() {
            let from = leaves.partition_point(|l| l.seq < low);
            let to = leaves.partition_point(|l| l.seq < high);
            leaves[from..to.max(from)].iter().for_each(&mut visit);
        }
    }

    /// Paths of the leaves inside array `array` (any element), sorted.
    pub(crate) fn array_paths(&self, array: u32) -> &[PathId] {
        self.arrays
            .get(array.wrapping_sub(1) as usize)
            .map_or(&[], |span| span.paths.as_slice())
    }

    /// Whether some leaf sits in an array (else no match is ever bound to an element).
    #[inline]
    pub(crate) fn in_arrays(&self) -> bool {
        !self.memberships.is_empty()
    }

    /// Whether the event has at least one leaf at `path`.
    #[inline]
    pub(crate) fn has(&self, path: PathId) -> bool {
        !self.leaves_at(path).is_empty()
    }

    /// Distinct paths present in the event, ascending.
    pub(crate) fn paths(&self) -> impl Iterator<Item = PathId> + '_ {
        let mut last = None;
        self.leaves
            .iter()
            .map(|leaf| leaf.path)
            .filter(move |&path| last.replace(path) != Some(path))
    }

    /// Number of leaves kept (an upper bound of the distinct paths present).
    pub(crate) fn leaf_count(&self) -> usize {
        self.leaves.len()
    }

    /// The array elements the leaf sits in, outermost first.
    pub(crate) fn membership(&self, leaf: &FlatLeaf<'_>) -> &[Membership] {
        let (start, len) = leaf.arrays;
        &self.memberships[start as usize..(start + len) as usize]
    }
}

#[cfg(test)]
impl FlatEvent<'_> {
    /// Everything the matcher reads, as text (numbers by their bits): two flattenings
    /// of one event are interchangeable when their dumps are equal (test helper).
    pub(crate) fn dump(&self) -> String {
        let mut out = String::new();
        for leaf in &self.leaves {
            let value = match &leaf.value {
                LeafValue::Str(s) => format!("{s:?}"),
                LeafValue::Num(n) => format!("num {:#x}", n.to_bits()),
                other => format!("{other:?}"),
            };
            out.push_str(&format!(
                "leaf {} {} seq {} in {:?}\n",
                leaf.path,
                value,
                leaf.seq,
                self.membership(leaf)
            ));
        }
        for (i, span) in self.arrays.iter().enumerate() {
            out.push_str(&format!(
                "array {} {:?} {:?} {:?}\n",
                i + 1,
                span.whole,
                span.elements,
                span.paths
            ));
        }
        out
    }
}

/// Replaces a union of `[start, end)` ranges by its complement within `[0, u32::MAX)`.
fn allowed_ranges(ranges: &mut Vec<(u32, u32)>) {
    ranges.retain(|(start, end)| start < end);
    ranges.sort_unstable();
    let forbidden = ranges.len();
    let mut cursor = 0;
    for at in 0..forbidden {
        let (start, end) = ranges[at];
        if start > cursor {
            ranges.push((cursor, start));
        }
        cursor = cursor.max(end);
    }
    ranges.push((cursor, u32::MAX));
    ranges.drain(..forbidden);
}

/// Mutable state of one flattening pass, filling an event it borrows (so that the
/// event's lists are never moved on the way to the matcher).
pub(crate) struct Walker<'o, 'i, 'a> {
    index: &'i PathIndex,
    path: String,
    pub(crate) arrays: Vec<Membership>,
    out: &'o mut FlatEvent<'a>,
    /// How many keys deep the walker is.
    depth: usize,
    /// The raw event (bytes only), read again for the numbers it writes inexactly.
    pub(crate) bytes: &'a [u8],
    /// Doubles that the event's text wrote inexactly (raw bytes read by serde_json only,
    /// see `numbers.rs`), sorted; found on the first number leaf a rule looks at.
    inexact: Option<Vec<u64>>,
    /// Objects and arrays open above the current value (parsed events only).
    nesting: usize,
    /// The id of the current path, as the last [`Walker::relevant`] found it.
    current: Option<PathId>,
}

impl<'o, 'i, 'a> Walker<'o, 'i, 'a> {
    /// A walker filling `out`, an empty event from [`FlatEvent::from_buffers`].
    pub(crate) fn new(index: &'i PathIndex, out: &'o mut FlatEvent<'a>) -> Self {
        Self {
            index,
            // Taken from the kept buffers when first needed.
            path: String::new(),
            arrays: Vec::new(),
            out,
            depth: 0,
            bytes: &[],
            inexact: None,
            nesting: 0,
            current: None,
        }
    }

    /// Descends into `key`. An event names a leaf by all its keys joined with dots, empty
    /// keys included (`{"": {"a": 1}}` is `.a`), as EventBridge (event-ruler) does.
    fn push_key(&mut self, key: &str) -> usize {
        if self.path.capacity() == 0 {
            self.path = std::mem::take(&mut self.out.spare().path);
        }
        let saved = self.path.len();
        if self.depth > 0 {
            self.path.push('.');
        }
        self.path.push_str(key);
        self.depth += 1;
        saved
    }

    fn pop_key(&mut self, saved: usize) {
        self.path.truncate(saved);
        self.depth -= 1;
    }

    /// Whether the current path can matter to a rule; remembers its id for a leaf.
    fn relevant(&mut self) -> bool {
        let (relevant, id) = self.index.lookup(&self.path);
        self.current = id;
        relevant
    }

    fn wants_leaf(&self) -> Option<PathId> {
        self.current
    }

    #[inline]
    pub(crate) fn leaf(&mut self, path: PathId, value: LeafValue<'a>) {
        let start = u32::try_from(self.out.memberships.len()).unwrap_or(u32::MAX);
        let len = u32::try_from(self.arrays.len()).unwrap_or(u32::MAX);
        if !self.arrays.is_empty() {
            self.in_arrays(path);
        }
        let seq = self.seq();
        self.out.leaves.push(FlatLeaf {
            path,
            value,
            seq,
            arrays: (start, len),
        });
    }

    /// Notes a leaf at `path` in the arrays open above it.
    fn in_arrays(&mut self, path: PathId) {
        if self.out.memberships.capacity() == 0 {
            self.out.memberships = std::mem::take(&mut self.out.spare().memberships);
        }
        self.out.memberships.extend_from_slice(&self.arrays);
        for &(array, _) in &self.arrays {
            if let Some(span) = self.out.arrays.get_mut(array as usize - 1)
                && span.paths.last() != Some(&path)
            {
                span.paths.push(path);
            }
        }
    }

    /// A number leaf of serde_json's reading of the text (the byte reader's reference,
    /// and its fallback for the odd events it leaves to serde_json). EventBridge compares
    /// event numbers as doubles only when the text is exactly one
    /// (`18446744073709551615` is not): see `numbers::inexact_marker`. Without the token
    /// at hand, a double is taken as written inexactly when the text writes it so
    /// somewhere; the byte reader decides token by token ([`Walker::number_token_leaf`]),
    /// so the two differ only on an event writing one double both ways.
    pub(crate) fn number_leaf(&mut self, path: PathId, value: f64) {
        if !self.index.needs_exactness(value) {
            self.leaf(path, LeafValue::Num(value));
            return;
        }
        let bytes = self.bytes;
        let inexact = self.inexact.get_or_insert_with(|| {
            let mut found = std::str::from_utf8(bytes)
                .map(numbers::inexact_numbers)
                .unwrap_or_default();
            // Sorted for binary search: an array of 100,000 such numbers stays linear.
            found.sort_unstable();
            found
        });
        let value = if inexact.binary_search(&value.to_bits()).is_ok() {
            numbers::inexact_marker(value)
        } else {
            value
        };
        self.leaf(path, LeafValue::Num(value));
    }

    /// A number leaf of a parsed value: a double is exact; an integer (kept whole by
    /// serde_json) is judged by its decimal text as the byte reader judges the same token:
    /// exact when it is the shortest decimal of its double (`70778030797341050` is
    /// `7.077803079734105e16`), not when no double is written that way
    /// (`18446744073709551615`).
    fn value_number_leaf(&mut self, path: PathId, number: &serde_json::Number) {
        let value = number.as_f64().unwrap_or(f64::NAN);
        let exact = match (number.as_u64(), number.as_i64()) {
            (Some(n), _) => value.is_finite() && numbers::is_exact(&n.to_string(), value),
            (None, Some(n)) => value.is_finite() && numbers::is_exact(&n.to_string(), value),
            (None, None) => true,
        };
        let value = if exact || !self.index.needs_exactness(value) {
            value
        } else {
            numbers::inexact_marker(value)
        };
        self.leaf(path, LeafValue::Num(value));
    }

    /// A number leaf read by the byte reader from its `token`, decided token by token:
    /// `[-5e9, -4999999999.9999999990]` holds one exact number (the first) and one
    /// compared by its text only, although both read as the same double. `suspicious`:
    /// the token has an exponent or more than 15 characters (otherwise it is exact, see
    /// `numbers.rs`).
    #[inline]
    pub(crate) fn number_token_leaf(
        &mut self,
        path: PathId,
        value: f64,
        token: &[u8],
        suspicious: bool,
    ) {
        let value = if suspicious
            && self.index.needs_exactness(value)
            && !std::str::from_utf8(token).is_ok_and(|token| numbers::is_exact(token, value))
        {
            numbers::inexact_marker(value)
        } else {
            value
        };
        self.leaf(path, LeafValue::Num(value));
    }

    pub(crate) fn seq(&self) -> u32 {
        u32::try_from(self.out.leaves.len()).unwrap_or(u32::MAX)
    }

    /// Opens an array; its id is its position in `out.arrays` plus one.
    pub(crate) fn new_array(&mut self) -> u32 {
        let start = self.seq();
        let spare = self.out.spare.get_or_insert_with(Box::default);
        let mut span = spare.spans.pop().unwrap_or_default();
        if self.out.arrays.capacity() == 0 {
            self.out.arrays = std::mem::take(&mut spare.arrays);
        }
        if self.arrays.capacity() == 0 {
            self.arrays = std::mem::take(&mut spare.stack);
        }
        span.whole = (start, start);
        self.out.arrays.push(span);
        u32::try_from(self.out.arrays.len()).unwrap_or(u32::MAX)
    }

    /// Records where element `index` of array `id` ended (it began where the previous ended).
    pub(crate) fn end_element(&mut self, id: u32, element_start: u32) {
        let end = self.seq();
        if let Some(span) = self.out.arrays.get_mut(id as usize - 1) {
            span.elements.push((element_start, end));
            span.whole.1 = end;
        }
    }

    /// Hands the walker's lists back and sorts the event's leaves.
    pub(crate) fn finish(&mut self) {
        if self.arrays.capacity() != 0 {
            let mut stack = std::mem::take(&mut self.arrays);
            empty(&mut stack);
            self.out.spare().stack = stack;
        }
        if self.path.capacity() != 0 && self.path.capacity() <= KEEP {
            self.path.clear();
            self.out.spare().path = std::mem::take(&mut self.path);
        }
        self.out.leaves.sort_by_key(|l| l.path);
        for span in &mut self.out.arrays {
            span.paths.sort_unstable();
            span.paths.dedup();
        }
    }

    /// Walks a parsed value at trie node `node` (see `trie.rs`): an object key is
    /// followed with one lookup, as the byte reader does, without building its path.
    fn walk_value(&mut self, value: &'a Value, node: u32) {
        if matches!(value, Value::Object(_) | Value::Array(_)) {
            if self.nesting >= MAX_EVENT_DEPTH {
                self.out.too_deep = true;
                return;
            }
            self.nesting += 1;
            self.walk_container(value, node);
            self.nesting -= 1;
        } else {
            self.walk_container(value, node);
        }
    }

    fn walk_container(&mut self, value: &'a Value, node: u32) {
        match value {
            Value::Object(object) => {
                for (key, child) in object {
                    if key.is_empty() && !self.index.empty_step() {
                        continue;
                    }
                    if let Some(next) = self.index.trie.child(node, key.as_bytes()) {
                        self.walk_value(child, next);
                    }
                }
            }
            Value::Array(items) => {
                let id = self.new_array();
                for (i, item) in items.iter().enumerate() {
                    let element_start = self.seq();
                    self.arrays.push((id, u32::try_from(i).unwrap_or(u32::MAX)));
                    self.walk_value(item, node);
                    self.arrays.pop();
                    self.end_element(id, element_start);
                }
            }
            scalar => {
                if let Some(path) = self.index.trie.id(node) {
                    if let Value::Number(n) = scalar {
                        self.value_number_leaf(path, n);
                        return;
                    }
                    let leaf = match scalar {
                        Value::String(s) => LeafValue::Str(Cow::Borrowed(s)),
                        Value::Bool(b) => LeafValue::Bool(*b),
                        _ => LeafValue::Null,
                    };
                    self.leaf(path, leaf);
                }
            }
        }
    }
}

/// Flattens a parsed event. A non-object event has no leaves.
pub(crate) fn flatten_value<'a>(index: &PathIndex, event: &'a Value) -> FlatEvent<'a> {
    let mut out = FlatEvent::from_buffers();
    let mut walker = Walker::new(index, &mut out);
    if event.is_object() {
        walker.walk_value(event, ROOT);
    }
    walker.finish();
    out
}

/// Parses and flattens raw JSON bytes in one pass with serde_json, without building a
/// value tree: the reference for the byte reader of `scan.rs`, and its fallback for the
/// events it does not accept (so that an invalid event's error is serde_json's).
pub(crate) fn flatten_bytes_serde<'a>(
    index: &PathIndex,
    bytes: &'a [u8],
) -> Result<FlatEvent<'a>, EventError> {
    let mut out = FlatEvent::from_buffers();
    let mut walker = Walker::new(index, &mut out);
    walker.bytes = bytes;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    deserializer.deserialize_map(Node {
        walker: &mut walker,
    })?;
    deserializer.end()?;
    walker.finish();
    Ok(out)
}

/// Deserializes one JSON node at the walker's current path.
struct Node<'w, 'o, 'i, 'a> {
    walker: &'w mut Walker<'o, 'i, 'a>,
}

impl<'de> DeserializeSeed<'de> for Node<'_, '_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl Node<'_, '_, '_, '_> {
    fn scalar_owned(self, make: impl FnOnce() -> LeafValue<'static>) {
        if let Some(path) = self.walker.wants_leaf() {
            self.walker.leaf(path, make());
        }
    }

    fn number(self, value: f64) {
        if let Some(path) = self.walker.wants_leaf() {
            self.walker.number_leaf(path, value);
        }
    }
}

impl<'de> Visitor<'de> for Node<'_, '_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.scalar_owned(|| LeafValue::Bool(v));
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.number(v as f64);
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.number(v as f64);
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.number(v);
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.scalar_owned(|| LeafValue::Null);
        Ok(())
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<(), E> {
        if let Some(path) = self.walker.wants_leaf() {
            self.walker.leaf(path, LeafValue::Str(Cow::Borrowed(v)));
        }
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.scalar_owned(|| LeafValue::Str(Cow::Owned(v.to_owned())));
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let parent = self.walker.current;
        while let Some((saved, empty)) = map.next_key_seed(Key {
            walker: &mut *self.walker,
        })? {
            if self.walker.relevant() && (!empty || self.walker.index.empty_step()) {
                map.next_value_seed(Node {
                    walker: &mut *self.walker,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
            self.walker.pop_key(saved);
        }
        self.walker.current = parent;
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let id = self.walker.new_array();
        let mut index = 0u32;
        loop {
            let element_start = self.walker.seq();
            self.walker.arrays.push((id, index));
            let more = seq
                .next_element_seed(Node {
                    walker: &mut *self.walker,
                })?
                .is_some();
            self.walker.arrays.pop();
            if !more {
                return Ok(());
            }
            self.walker.end_element(id, element_start);
            index = index.saturating_add(1);
        }
    }
}

/// Deserializes an object key straight onto the walker's path; yields the length to
/// truncate back to and whether the key was empty.
struct Key<'w, 'o, 'i, 'a> {
    walker: &'w mut Walker<'o, 'i, 'a>,
}

impl<'de> DeserializeSeed<'de> for Key<'_, '_, '_, '_> {
    type Value = (usize, bool);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(usize, bool), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_, '_, '_, '_> {
    type Value = (usize, bool);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, v: &str) -> Result<(usize, bool), E> {
        Ok((self.walker.push_key(v), v.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn index(paths: &[&str]) -> PathIndex {
        let mut index = PathIndex::default();
        for p in paths {
            index.intern(p);
        }
        index
    }

    #[test]
    fn value_and_bytes_flatten_alike() {
        let index = index(&["detail.items.sku", "source", "detail.state.status"]);
        let event = json!({
            "source": "s",
            "ignored": {"deep": [1, 2, 3]},
            "detail": {"items": [{"sku": "a"}, {"sku": "b\u{e9}"}], "state.status": "on"}
        });
        let text = serde_json::to_vec(&event).unwrap();
        let from_value = flatten_value(&index, &event);
        let from_bytes = flatten_bytes_serde(&index, &text).unwrap();
        assert_eq!(from_value.leaf_count(), 4);
        assert_eq!(from_bytes.leaf_count(), 4);
        let values = |e: &FlatEvent<'_>| -> Vec<(PathId, LeafValue<'static>, Vec<Membership>)> {
            e.leaves
                .iter()
                .map(|l| {
                    let v = match &l.value {
                        LeafValue::Str(s) => LeafValue::Str(Cow::Owned(s.to_string())),
                        other => other.clone().into_owned_static(),
                    };
                    (l.path, v, e.membership(l).to_vec())
                })
                .collect()
        };
        assert_eq!(values(&from_value), values(&from_bytes));
    }

    #[test]
    fn relabelled_leaves_keep_their_allocation() {
        let text = String::from("borrowed");
        let mut leaves = Vec::with_capacity(16);
        leaves.push(FlatLeaf {
            path: 0,
            value: LeafValue::Str(Cow::Borrowed(text.as_str())),
            seq: 0,
            arrays: (0, 0),
        });
        let relabelled: Vec<FlatLeaf<'static>> = relabel(leaves);
        assert!(relabelled.is_empty());
        assert!(relabelled.capacity() >= 16);
    }

    #[test]
    fn non_object_bytes_are_rejected() {
        let index = index(&["a"]);
        assert!(flatten_bytes_serde(&index, b"[1]").is_err());
        assert!(flatten_bytes_serde(&index, b"{\"a\": 1} x").is_err());
        assert!(flatten_bytes_serde(&index, b"{\"a\": ").is_err());
    }
}
