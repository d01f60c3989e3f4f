//! The byte reader's token layer (`scan.rs` walks the structure): whether an input is
//! plain (no escapes, controls or non-ASCII bytes), word-at-a-time byte searches, the
//! stack of containers a skipped value opens, number tokens and string escapes.

/// The reader gives up on this event (serde_json reads it instead).
pub(crate) struct GiveUp;

pub(crate) type Step<T = ()> = Result<T, GiveUp>;

/// A string token: its raw bytes between the quotes, and whether it has escapes.
#[derive(Clone, Copy)]
pub(crate) struct Token {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) escaped: bool,
}

impl Token {
    /// The text of a string without escapes (already checked to be UTF-8).
    #[inline(always)]
    pub(crate) fn text<'a>(&self, bytes: &'a [u8]) -> Step<&'a str> {
        std::str::from_utf8(&bytes[self.start..self.end]).map_err(|_| GiveUp)
    }
}

pub(crate) const LOW: u64 = 0x0101_0101_0101_0101;
pub(crate) const HIGH: u64 = 0x8080_8080_8080_8080;

/// Non-zero when some byte of `word` is zero.
#[inline(always)]
pub(crate) fn has_zero(word: u64) -> u64 {
    word.wrapping_sub(LOW) & !word & HIGH
}

/// Non-zero when some byte of `word` is below `n` (`n` at most 128).
#[inline(always)]
pub(crate) fn has_below(word: u64, n: u8) -> u64 {
    word.wrapping_sub(LOW * u64::from(n)) & !word & HIGH
}

/// The first `"` at or after `pos`: the end of a string of an input that passed
/// [`is_plain`] (nothing else in it to check), eight bytes at a time.
#[inline(always)]
pub(crate) fn closing_quote(bytes: &[u8], mut pos: usize) -> Option<usize> {
    while let Some(chunk) = bytes.get(pos..pos + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let quotes = has_zero(u64::from_le_bytes(word) ^ (LOW * u64::from(b'"')));
        if quotes != 0 {
            // The lowest flagged byte is exact (a borrow only flags bytes above).
            return Some(pos + (quotes.trailing_zeros() / 8) as usize);
        }
        pos += 8;
    }
    let rest = bytes.get(pos..)?;
    rest.iter().position(|&b| b == b'"').map(|n| pos + n)
}

/// The end of the integer token at `start` (a digit 1-9) when it has at most 15 digits
/// and no fraction or exponent follows (so the reader's number scan would take it as it is,
/// exact and in range); `None` otherwise.
#[inline(always)]
pub(crate) fn short_integer_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut end = start + 1;
    while let Some(b'0'..=b'9') = bytes.get(end) {
        end += 1;
    }
    match bytes.get(end) {
        Some(b'.' | b'e' | b'E') => None,
        _ if end - start > 15 => None,
        _ => Some(end),
    }
}

/// The objects (`true`) and arrays open while skipping a value: the first 128 as bits,
/// deeper ones in a list (skipped values have no nesting limit).
#[derive(Default)]
pub(crate) struct Stack {
    bits: u128,
    len: usize,
    deeper: Vec<bool>,
}

impl Stack {
    #[inline]
    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.deeper.clear();
    }

    #[inline]
    pub(crate) fn push(&mut self, object: bool) {
        if self.len < 128 {
            let bit = 1u128 << self.len;
            self.bits = if object {
                self.bits | bit
            } else {
                self.bits & !bit
            };
        } else {
            self.deeper.push(object);
        }
        self.len += 1;
    }

    #[inline]
    pub(crate) fn last(&self) -> Option<bool> {
        match self.len {
            0 => None,
            len if len <= 128 => Some(self.bits & (1u128 << (len - 1)) != 0),
            _ => self.deeper.last().copied(),
        }
    }

    #[inline]
    pub(crate) fn pop(&mut self) {
        if self.len > 128 {
            self.deeper.pop();
        }
        self.len = self.len.saturating_sub(1);
    }
}

/// Bytes a string scan stops at: `"`, `\`, control characters and non-ASCII bytes.
pub(crate) const STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = b < 0x20 || b >= 0x80 || b == b'"' as usize || b == b'\\' as usize;
        b += 1;
    }
    table
};

/// Whether `bytes` has no byte a string scan must look at besides quotes: no `\`, no
/// control character (so no whitespace but spaces) and no non-ASCII byte, as most events
/// are written (compact ASCII JSON without escapes). A string of such an input ends at
/// the next `"`, with nothing else in it to check. One pass over the whole input,
/// without an early exit, so that it vectorises.
pub(crate) fn is_plain(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(32);
    for chunk in &mut chunks {
        if let Ok(chunk) = <&[u8; 32]>::try_from(chunk)
            && not_plain(chunk)
        {
            return false;
        }
    }
    let rest = chunks.remainder();
    if rest.is_empty() {
        return true;
    }
    // The last bytes: within the last 32 when there are that many (some read twice),
    // else one by one.
    match bytes.last_chunk::<32>() {
        Some(last) => !not_plain(last),
        None => !rest.iter().any(|&b| (b as i8) < 0x20 || b == b'\\'),
    }
}

/// Whether 32 bytes hold a backslash, a control or a non-ASCII byte: one OR over them
/// all (no early exit, so that it is done in vectors).
#[inline(always)]
fn not_plain(chunk: &[u8; 32]) -> bool {
    let mut found = 0u8;
    for &b in chunk {
        found |= u8::from((b as i8) < 0x20) | u8::from(b == b'\\');
    }
    found != 0
}

/// The double a number token reads as (the nearest one, as serde_json's
/// `float_roundtrip` reads it); gives up on one past the largest double, which
/// serde_json refuses ("number out of range").
#[inline]
pub(crate) fn number_value(token: &[u8]) -> Step<f64> {
    // An integer of at most 15 digits is below 2^53: its double is exact, no parsing
    // of decimals needed (`-0` stays negative zero, as the parser reads it).
    let (negative, digits) = match token.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, token),
    };
    if !digits.is_empty() && digits.len() <= 15 && digits.iter().all(u8::is_ascii_digit) {
        let magnitude = digits
            .iter()
            .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')) as f64;
        return Ok(if negative { -magnitude } else { magnitude });
    }
    let text = std::str::from_utf8(token).map_err(|_| GiveUp)?;
    let value: f64 = text.parse().map_err(|_| GiveUp)?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(GiveUp)
    }
}

/// Gives up on a number token past the largest double, read only when it could be: with
/// an exponent (`exponent`), or with more than 300 characters (a number without an
/// exponent below 10^308 is finite).
#[inline]
pub(crate) fn check_range(token: &[u8], exponent: bool) -> Step {
    if exponent || token.len() > 300 {
        number_value(token)?;
    }
    Ok(())
}

pub(crate) fn hex4(digits: &[u8]) -> Step<u16> {
    let mut unit = 0u16;
    for &d in digits {
        let nibble = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            b'A'..=b'F' => d - b'A' + 10,
            _ => return Err(GiveUp),
        };
        unit = unit << 4 | u16::from(nibble);
    }
    Ok(unit)
}

/// Decodes the raw bytes of a string (already checked by the reader) into `out`.
pub(crate) fn decode(raw: &[u8], out: &mut String) -> Step {
    let mut at = 0;
    while at < raw.len() {
        let run = raw[at..]
            .iter()
            .position(|&b| b == b'\\')
            .map_or(raw.len(), |n| at + n);
        out.push_str(std::str::from_utf8(&raw[at..run]).map_err(|_| GiveUp)?);
        at = run;
        if at >= raw.len() {
            break;
        }
        let escape = raw.get(at + 1).copied().ok_or(GiveUp)?;
        at += 2;
        let c = match escape {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = hex4(raw.get(at..at + 4).ok_or(GiveUp)?)?;
                at += 4;
                if (0xD800..=0xDBFF).contains(&unit) {
                    let low = hex4(raw.get(at + 2..at + 6).ok_or(GiveUp)?)?;
                    at += 6;
                    if !(0xDC00..=0xDFFF).contains(&low) {
                        return Err(GiveUp);
                    }
                    let code =
                        0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                    char::from_u32(code).ok_or(GiveUp)?
                } else {
                    char::from_u32(u32::from(unit)).ok_or(GiveUp)?
                }
            }
            _ => return Err(GiveUp),
        };
        out.push(c);
    }
    Ok(())
}
