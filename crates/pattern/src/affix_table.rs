//! A table of texts (prefixes or suffixes) that finds, for a value, every text it starts
//! or ends with: one hash lookup per distinct length. The prefix/suffix, ignore-case,
//! anything-but and wildcard indexes are built on it.

type Map<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

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
    #[inline]
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
    #[inline]
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
