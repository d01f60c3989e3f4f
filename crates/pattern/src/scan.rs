//! The byte reader: an event's JSON read once, straight into the leaves rules look at.
//!
//! It walks the bytes with the [`PathIndex`] trie in hand: an object key that no rule
//! path goes through is skipped by scanning its value's bytes (strings, numbers, nested
//! objects and arrays), without decoding or building anything; a key on a path is
//! followed with one lookup per dotted step. Strings without escapes become borrowed
//! slices of the input, numbers are parsed only at the paths rules name.
//!
//! It accepts a subset of what serde_json accepts, and on that subset it gives the same
//! leaves as [`crate::flatten::flatten_bytes_serde`] (the reference, proved by a differential proptest):
//! every byte is checked (grammar, control characters, escapes, UTF-8, paired surrogates,
//! numbers that overflow a double, the nesting limit), and whatever it refuses, valid or
//! not, is read again by serde_json, so an invalid event is reported with serde_json's
//! error and an odd valid one (invalid UTF-8 in a skipped string, which serde_json lets
//! through) matches as before.

use std::borrow::Cow;

use crate::flatten::{FlatEvent, Walker};
use crate::json_bytes::{
    GiveUp, HIGH, LOW, STOP, Stack, Step, Token, check_range, closing_quote, decode, has_below,
    has_zero, hex4, is_plain, number_value, short_integer_end,
};
use crate::paths::PathIndex;
use crate::trie::{ROOT, length_bit};
use crate::value::LeafValue;

/// Most objects and arrays open at once along the paths rules name, the top-level object
/// included: serde_json's recursion limit (it refuses the 128th), which the reference
/// applies to the values it descends into, not to the ones it skips.
const MAX_NESTING: usize = 127;

/// The byte reader alone: `None` when it does not accept the event (invalid JSON, or
/// valid JSON it leaves to serde_json).
#[cfg(test)]
pub(crate) fn scan<'a>(index: &PathIndex, bytes: &'a [u8]) -> Option<FlatEvent<'a>> {
    let mut out = FlatEvent::from_buffers();
    scan_into(index, bytes, &mut out).then_some(out)
}

/// [`scan`] into `out`, an empty event from [`FlatEvent::from_buffers`]; `false` when the
/// reader does not accept the event (`out` then holds part of it: drop it).
pub(crate) fn scan_into<'a>(index: &PathIndex, bytes: &'a [u8], out: &mut FlatEvent<'a>) -> bool {
    if is_plain(bytes) {
        read::<true>(index, bytes, out)
    } else {
        read::<false>(index, bytes, out)
    }
}

/// [`scan_into`] with the string scan chosen by [`is_plain`] (`PLAIN`).
fn read<'a, const PLAIN: bool>(
    index: &PathIndex,
    bytes: &'a [u8],
    out: &mut FlatEvent<'a>,
) -> bool {
    let mut walker = Walker::new(index, out);
    walker.bytes = bytes;
    let mut reader = Reader::<PLAIN> {
        bytes,
        pos: 0,
        index,
        walker: &mut walker,
        nesting: 0,
        stack: Stack::default(),
        key: String::new(),
    };
    reader.whitespace();
    if reader.expect(b'{').is_err() || reader.object(ROOT).is_err() {
        return false;
    }
    reader.whitespace();
    if reader.pos != bytes.len() {
        return false;
    }
    walker.finish();
    true
}

/// `PLAIN`: the whole input passed [`is_plain`].
struct Reader<'w, 'o, 'i, 'a, const PLAIN: bool> {
    bytes: &'a [u8],
    pos: usize,
    index: &'i PathIndex,
    /// Borrowed, not owned: moving the walker in and out would copy it.
    walker: &'w mut Walker<'o, 'i, 'a>,
    /// Objects and arrays open along rule paths (the top-level object included).
    nesting: usize,
    /// Containers open while skipping a value.
    stack: Stack,
    /// An escaped key, decoded.
    key: String,
}

/// What [`Reader::plain_members`] stopped at.
enum Next {
    /// A key to read in full, past its opening quote.
    Key,
    /// A value, at the trie node of its key (`None`: skipped).
    Value(Option<u32>),
    /// What follows a member's value.
    Separator,
}

impl<'a, const PLAIN: bool> Reader<'_, '_, '_, 'a, PLAIN> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline]
    fn whitespace(&mut self) {
        // Most JSON has no whitespace between tokens: one comparison then.
        if self.peek().is_none_or(|b| b > b' ') {
            return;
        }
        let mut pos = self.pos;
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.bytes.get(pos) {
            pos += 1;
        }
        self.pos = pos;
    }

    fn expect(&mut self, byte: u8) -> Step {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(GiveUp)
        }
    }

    fn open(&mut self) -> Step {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(GiveUp);
        }
        Ok(())
    }

    /// An object whose `{` was just read, at trie node `node`.
    fn object(&mut self, node: u32) -> Step {
        self.open()?;
        self.whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.nesting -= 1;
            return Ok(());
        }
        self.expect(b'"')?;
        // Keys of a length no child of `node` has are refused without a lookup.
        let refused = self.index.trie.refused_lengths(node);
        loop {
            let next = if PLAIN {
                self.plain_members(node, refused)?
            } else {
                Next::Key
            };
            let child = match next {
                Next::Value(child) => child,
                Next::Separator => {
                    if self.separator()? {
                        continue;
                    }
                    return Ok(());
                }
                Next::Key => {
                    let token = self.string()?;
                    self.colon()?;
                    if !token.escaped && refused & length_bit(token.end - token.start) != 0 {
                        None
                    } else {
                        self.key_child(node, token)?
                    }
                }
            };
            match child {
                Some(child) => self.value(child)?,
                None => self.skip_member()?,
            }
            if !self.separator()? {
                return Ok(());
            }
        }
    }

    /// After an object member: past `,"` (`true`: another member follows) or past the
    /// closing `}` (`false`: the object is closed).
    #[inline(always)]
    fn separator(&mut self) -> Step<bool> {
        // Compact JSON first: `,"` or `}` right after the value.
        match self.peek() {
            Some(b',') if self.bytes.get(self.pos + 1) == Some(&b'"') => {
                self.pos += 2;
                Ok(true)
            }
            Some(b'}') => {
                self.pos += 1;
                self.nesting -= 1;
                Ok(false)
            }
            _ => {
                let more = self.after_member()?;
                if !more {
                    self.nesting -= 1;
                }
                Ok(more)
            }
        }
    }

    /// Object members of an input that passed [`is_plain`] (PLAIN only), from just past
    /// a key's opening quote: the members written compactly (`"key":"value"` then `,"`)
    /// whose key no rule looks below (`refused` by its length, see
    /// [`PathTrie::refused_lengths`](crate::trie::PathTrie), or not found) and whose
    /// value is a string or a number are skipped in one loop. Tells what comes next: a
    /// value (the key read, whitespace after its `:` too) with the key's trie node, a
    /// key to read in full (an empty one, or spacing before its `:`), or what follows a
    /// skipped value that is not `,"`.
    #[inline(always)]
    fn plain_members(&mut self, node: u32, refused: u64) -> Step<Next> {
        let bytes = self.bytes;
        let mut pos = self.pos;
        loop {
            let key_end = closing_quote(bytes, pos).ok_or(GiveUp)?;
            let len = key_end - pos;
            if len == 0 || bytes.get(key_end + 1) != Some(&b':') {
                self.pos = pos;
                return Ok(Next::Key);
            }
            let child = if refused & length_bit(len) != 0 {
                None
            } else {
                self.index.trie.child_within(node, bytes, pos, key_end)
            };
            let value = key_end + 2;
            match bytes.get(value) {
                Some(b'"') if child.is_none() => {
                    pos = closing_quote(bytes, value + 1).ok_or(GiveUp)? + 1;
                }
                // A positive integer of at most 15 digits: nothing more to check (no
                // fraction, no exponent, exact, finite).
                Some(b'1'..=b'9')
                    if child.is_none()
                        && let Some(end) = short_integer_end(bytes, value) =>
                {
                    pos = end;
                }
                Some(b'-' | b'0'..=b'9') if child.is_none() => {
                    self.pos = value;
                    let (start, end, exponent) = self.number()?;
                    check_range(&bytes[start..end], exponent)?;
                    pos = end;
                }
                _ => {
                    self.pos = key_end + 1;
                    self.colon()?;
                    return Ok(Next::Value(child));
                }
            }
            if bytes.get(pos..pos + 2) != Some(b",\"") {
                self.pos = pos;
                return Ok(Next::Separator);
            }
            pos += 2;
        }
    }

    /// A key's `:` and the whitespace around it, up to the value.
    #[inline(always)]
    fn colon(&mut self) -> Step {
        // Compact JSON: the `:` right after the key, the value right after it.
        if let Some(&[b':', next]) = self.bytes.get(self.pos..self.pos + 2)
            && next > b' '
        {
            self.pos += 1;
            return Ok(());
        }
        self.whitespace();
        self.expect(b':')?;
        self.whitespace();
        Ok(())
    }

    /// After an object member, any spacing: past the `,` and the next key's opening
    /// quote (`true`), or past the closing `}` (`false`).
    #[inline(never)]
    fn after_member(&mut self) -> Step<bool> {
        self.whitespace();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                self.whitespace();
                self.expect(b'"')?;
                Ok(true)
            }
            Some(b'}') => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(GiveUp),
        }
    }

    /// The trie node of a key of an object at `node`, if any rule looks below it.
    fn key_child(&mut self, node: u32, token: Token) -> Step<Option<u32>> {
        let raw = &self.bytes[token.start..token.end];
        if raw.is_empty() && !self.index.empty_step() {
            return Ok(None);
        }
        if PLAIN || !token.escaped {
            return Ok(self
                .index
                .trie
                .child_within(node, self.bytes, token.start, token.end));
        }
        let mut key = std::mem::take(&mut self.key);
        key.clear();
        decode(raw, &mut key)?;
        let child = if key.is_empty() && !self.index.empty_step() {
            None
        } else {
            self.index.trie.child(node, key.as_bytes())
        };
        self.key = key;
        Ok(child)
    }

    /// A value at trie node `node` (whitespace before it already read).
    fn value(&mut self, node: u32) -> Step {
        let id = self.index.trie.id(node);
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                self.object(node)
            }
            Some(b'[') => {
                self.pos += 1;
                self.array(node)
            }
            Some(b'"') => {
                self.pos += 1;
                let token = self.string()?;
                if let Some(path) = id {
                    let raw = &self.bytes[token.start..token.end];
                    let text = if !PLAIN && token.escaped {
                        let mut text = String::with_capacity(raw.len());
                        decode(raw, &mut text)?;
                        Cow::Owned(text)
                    } else {
                        Cow::Borrowed(token.text(self.bytes)?)
                    };
                    self.walker.leaf(path, LeafValue::Str(text));
                }
                Ok(())
            }
            Some(b't') => self.literal(b"true", id, LeafValue::Bool(true)),
            Some(b'f') => self.literal(b"false", id, LeafValue::Bool(false)),
            Some(b'n') => self.literal(b"null", id, LeafValue::Null),
            Some(b'-' | b'0'..=b'9') => {
                let (start, end, exponent) = self.number()?;
                let token = &self.bytes[start..end];
                if let Some(path) = id {
                    let value = number_value(token)?;
                    // A token of at most 15 characters without an exponent has at most
                    // 15 significant digits and is a normal double or zero, so it is
                    // exact (`numbers.rs`); any other could be written inexactly.
                    let suspicious = exponent || token.len() > 15;
                    self.walker
                        .number_token_leaf(path, value, token, suspicious);
                } else {
                    check_range(token, exponent)?;
                }
                Ok(())
            }
            _ => Err(GiveUp),
        }
    }

    fn literal(&mut self, word: &[u8], id: Option<u32>, leaf: LeafValue<'a>) -> Step {
        if !self.bytes[self.pos..].starts_with(word) {
            return Err(GiveUp);
        }
        self.pos += word.len();
        if let Some(path) = id {
            self.walker.leaf(path, leaf);
        }
        Ok(())
    }

    /// An array whose `[` was just read, at trie node `node`: each element sits at the
    /// same node, its leaves marked with the element's position.
    fn array(&mut self, node: u32) -> Step {
        self.open()?;
        let id = self.walker.new_array();
        self.whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.nesting -= 1;
            return Ok(());
        }
        let mut index = 0u32;
        loop {
            let element_start = self.walker.seq();
            self.walker.arrays.push((id, index));
            let read = self.value(node);
            self.walker.arrays.pop();
            read?;
            self.walker.end_element(id, element_start);
            index = index.saturating_add(1);
            self.whitespace();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.whitespace();
                }
                Some(b']') => {
                    self.pos += 1;
                    self.nesting -= 1;
                    return Ok(());
                }
                _ => return Err(GiveUp),
            }
        }
    }

    /// [`Reader::skip`], with the usual case of a string value read at once.
    #[inline]
    fn skip_member(&mut self) -> Step {
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                self.string()?;
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => {
                let (start, end, exponent) = self.number()?;
                check_range(&self.bytes[start..end], exponent)
            }
            _ => self.skip(),
        }
    }

    /// Skips one value no rule looks into, checking it as strictly as a read one, with
    /// no limit on its nesting (serde_json has none for skipped values either).
    fn skip(&mut self) -> Step {
        self.stack.clear();
        loop {
            // A value.
            match self.peek() {
                Some(b'{') => {
                    self.pos += 1;
                    self.whitespace();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                    } else {
                        self.stack.push(true);
                        self.skip_key()?;
                        continue;
                    }
                }
                Some(b'[') => {
                    self.pos += 1;
                    self.whitespace();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                    } else {
                        self.stack.push(false);
                        continue;
                    }
                }
                Some(b'"') => {
                    self.pos += 1;
                    self.string()?;
                }
                Some(b't') => self.literal(b"true", None, LeafValue::Null)?,
                Some(b'f') => self.literal(b"false", None, LeafValue::Null)?,
                Some(b'n') => self.literal(b"null", None, LeafValue::Null)?,
                Some(b'-' | b'0'..=b'9') => {
                    let (start, end, exponent) = self.number()?;
                    check_range(&self.bytes[start..end], exponent)?;
                }
                _ => return Err(GiveUp),
            }
            // After a value: close containers, or go on to the next element or member.
            loop {
                let Some(object) = self.stack.last() else {
                    return Ok(());
                };
                let open = if object { b'{' } else { b'[' };
                self.whitespace();
                match (open, self.peek()) {
                    (_, Some(b',')) => {
                        self.pos += 1;
                        self.whitespace();
                        if open == b'{' {
                            self.skip_key()?;
                        }
                        break;
                    }
                    (b'{', Some(b'}')) | (b'[', Some(b']')) => {
                        self.pos += 1;
                        self.stack.pop();
                    }
                    _ => return Err(GiveUp),
                }
            }
        }
    }

    /// A skipped object's key and colon, up to its value.
    fn skip_key(&mut self) -> Step {
        self.expect(b'"')?;
        self.string()?;
        self.whitespace();
        self.expect(b':')?;
        self.whitespace();
        Ok(())
    }

    /// A string whose opening quote was just read, up to and past its closing quote:
    /// control characters, escapes, surrogate pairs and UTF-8 checked.
    ///
    /// The common case, a short ASCII string without escapes, is read here eight bytes
    /// at a time up to its first byte of [`STOP`]; anything else (an escape, a control
    /// or non-ASCII byte, the last bytes of the input) goes to [`Reader::string_full`].
    #[inline]
    fn string(&mut self) -> Step<Token> {
        let bytes = self.bytes;
        let start = self.pos;
        if PLAIN {
            let end = closing_quote(bytes, start).ok_or(GiveUp)?;
            self.pos = end + 1;
            return Ok(Token {
                start,
                end,
                escaped: false,
            });
        }
        let mut pos = start;
        while let Some(chunk) = bytes.get(pos..pos + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let word = u64::from_le_bytes(word);
            // Quotes, backslashes, and bytes below 0x20 or above 0x7f (a byte's own high
            // bit, or one left by subtracting 0x20 from it).
            let stops = has_zero(word ^ (LOW * u64::from(b'"')))
                | has_zero(word ^ (LOW * u64::from(b'\\')))
                | ((word | word.wrapping_sub(LOW * 0x20)) & HIGH);
            if stops != 0 {
                // The lowest flagged byte is exact (a borrow only flags bytes above).
                let shift = stops.trailing_zeros() & !7;
                if (word >> shift) as u8 == b'"' {
                    let end = pos + (shift / 8) as usize;
                    self.pos = end + 1;
                    return Ok(Token {
                        start,
                        end,
                        escaped: false,
                    });
                }
                break;
            }
            pos += 8;
        }
        self.string_full()
    }

    /// [`Reader::string`] for any string: escapes, non-ASCII text, the input's end.
    #[inline(never)]
    fn string_full(&mut self) -> Step<Token> {
        let bytes = self.bytes;
        let start = self.pos;
        let mut pos = start;
        let mut escaped = false;
        let mut ascii = true;
        loop {
            // Eight bytes at a time up to the first quote, backslash or control
            // character (non-ASCII bytes are noted, their UTF-8 checked at the end).
            while let Some(chunk) = bytes.get(pos..pos + 8) {
                let mut word = [0u8; 8];
                word.copy_from_slice(chunk);
                let word = u64::from_le_bytes(word);
                if word & HIGH != 0 {
                    ascii = false;
                }
                let stops = has_zero(word ^ (LOW * u64::from(b'"')))
                    | has_zero(word ^ (LOW * u64::from(b'\\')))
                    | has_below(word, 0x20);
                if stops != 0 {
                    // The lowest flagged byte is exact (a borrow only flags bytes above).
                    pos += (stops.trailing_zeros() / 8) as usize;
                    if bytes.get(pos) == Some(&b'"') && ascii {
                        self.pos = pos + 1;
                        return Ok(Token {
                            start,
                            end: pos,
                            escaped,
                        });
                    }
                    break;
                }
                pos += 8;
            }
            while let Some(&b) = bytes.get(pos) {
                if STOP[b as usize] {
                    break;
                }
                pos += 1;
            }
            match bytes.get(pos) {
                Some(b'"') => {
                    self.pos = pos + 1;
                    if !ascii {
                        std::str::from_utf8(&bytes[start..pos]).map_err(|_| GiveUp)?;
                    }
                    return Ok(Token {
                        start,
                        end: pos,
                        escaped,
                    });
                }
                Some(b'\\') => {
                    escaped = true;
                    self.pos = pos + 1;
                    self.escape()?;
                    pos = self.pos;
                }
                Some(&b) if b >= 0x80 => {
                    ascii = false;
                    pos += 1;
                }
                _ => return Err(GiveUp),
            }
        }
    }

    /// An escape whose `\` was just read. A `\u` surrogate must be a leading one followed
    /// by a `\u` trailing one (serde_json refuses a lone surrogate in a string it reads).
    fn escape(&mut self) -> Step {
        match self.peek() {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 1;
                Ok(())
            }
            Some(b'u') => {
                self.pos += 1;
                let unit = self.hex4()?;
                if (0xDC00..=0xDFFF).contains(&unit) {
                    return Err(GiveUp);
                }
                if (0xD800..=0xDBFF).contains(&unit) {
                    if !self.bytes[self.pos..].starts_with(b"\\u") {
                        return Err(GiveUp);
                    }
                    self.pos += 2;
                    if !(0xDC00..=0xDFFF).contains(&self.hex4()?) {
                        return Err(GiveUp);
                    }
                }
                Ok(())
            }
            _ => Err(GiveUp),
        }
    }

    fn hex4(&mut self) -> Step<u16> {
        let digits = self.bytes.get(self.pos..self.pos + 4).ok_or(GiveUp)?;
        self.pos += 4;
        hex4(digits)
    }

    /// A number token, checked against JSON's grammar; its byte range, and whether it
    /// has an exponent.
    fn number(&mut self) -> Step<(usize, usize, bool)> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(GiveUp);
                }
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(GiveUp),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(GiveUp);
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(GiveUp);
            }
            self.digits();
            return Ok((start, self.pos, true));
        }
        Ok((start, self.pos, false))
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }
}

#[cfg(test)]
#[path = "scan_tests.rs"]
mod tests;
