//! Numbers that are not exactly a double.
//!
//! EventBridge compares numbers as IEEE-754 doubles and refuses a `numeric` bound or an
//! `anything-but` number whose decimal text is not exactly the double it reads as (the
//! shortest decimal of that double): `0.10000000000000001`, `9007199254740993`,
//! `18446744073709551615`, `1.0000000000000000001`. A parsed `serde_json::Value` holds
//! only the double, so the check reads the pattern's text.

use std::fmt::Write as _;

/// The bits of the doubles that some number token of `text` (JSON) stands for without
/// being exactly equal to them. Strings are skipped; malformed text gives what it can.
/// A parsed pattern holds doubles only, so a double written both ways (`1` and
/// `1.0000000000000000001`) counts as inexact wherever it appears.
pub(crate) fn inexact_numbers(text: &str) -> Vec<u64> {
    number_spellings(text).0
}

/// The bits of the doubles `text` writes inexactly, and of those it writes exactly.
pub(crate) fn number_spellings(text: &str) -> (Vec<u64>, Vec<u64>) {
    let mut found = Vec::new();
    let mut exact = Vec::new();
    for_each_number(text, |token, value| {
        if let Some(value) = value {
            if is_exact(token, value) {
                exact.push(value.to_bits());
            } else {
                found.push(value.to_bits());
            }
        }
    });
    (found, exact)
}

/// Calls `each` with every number token of `text` (JSON) in document order and the
/// finite double it reads as. Strings are skipped; malformed text gives what it can.
fn for_each_number(text: &str, mut each: impl FnMut(&str, Option<f64>)) {
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
                at += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = at;
                while at < bytes.len()
                    && matches!(bytes[at], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                {
                    at += 1;
                }
                let token = &text[start..at];
                let value = token.parse::<f64>().ok().filter(|v| v.is_finite());
                each(token, value);
            }
            _ => at += 1,
        }
    }
}

/// The stand-in for a number written inexactly, in a pattern's exact values or in an
/// event: EventBridge compares such a number by its text only, so it equals no exact
/// number, lies in no range and is no `anything-but` number. The stand-in is a NaN (no
/// comparison holds) whose payload keeps the double, so that two inexact spellings of
/// one double (in practice: the same text) are equal by [`crate::value::number_key`].
pub(crate) fn inexact_marker(value: f64) -> f64 {
    f64::from_bits(0x7FF8_0000_0000_0000 | (value.to_bits() >> 13))
}

/// Whether the decimal `token` equals the shortest decimal of `value` (the double it
/// rounds to).
pub(crate) fn is_exact(token: &str, value: f64) -> bool {
    // Most tokens are decided by their count of significant digits alone: two decimals of
    // at most 15 digits never round to the same normal double, so such a token is the
    // shortest decimal of its double; a shortest decimal has at most 17 digits.
    let mantissa = token.split(['e', 'E']).next().unwrap_or(token);
    let significant = significant_digits(mantissa);
    if significant <= 15 && (value == 0.0 || value.is_normal()) {
        return true;
    }
    if significant >= 18 {
        return false;
    }
    // Java (event-ruler's language) writes the smallest double as 4.9E-324, not 5E-324,
    // and compares the text with that.
    let mut shortest = StackText::default();
    let written = if value.abs() == f64::from_bits(1) {
        write!(shortest, "{}4.9e-324", if value < 0.0 { "-" } else { "" })
    } else {
        write!(shortest, "{value:e}")
    };
    written.is_ok() && normalize(token) == normalize(shortest.as_str())
}

/// A short text written without allocating (a double's shortest decimal fits easily).
#[derive(Default)]
struct StackText {
    bytes: [u8; 32],
    len: usize,
}

impl StackText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let end = self.len + text.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Most significant digits [`normalize`] keeps; a longer decimal is never a shortest one.
const MAX_DIGITS: usize = 24;

/// Digits of a decimal mantissa without its leading and trailing zeros.
fn significant_digits(mantissa: &str) -> usize {
    let (mut count, mut trailing_zeros) = (0usize, 0usize);
    for digit in mantissa.bytes().filter(u8::is_ascii_digit) {
        if count == 0 && digit == b'0' {
            continue;
        }
        count += 1;
        trailing_zeros = if digit == b'0' { trailing_zeros + 1 } else { 0 };
    }
    count - trailing_zeros
}

/// `(negative, significant digits, exponent)` with value `0.digits × 10^exponent`; zero
/// is `(false, "", 0)`.
/// (`None` past [`MAX_DIGITS`] significant digits; the digits are ASCII, zero-padded.)
fn normalize(text: &str) -> Option<(bool, [u8; MAX_DIGITS], i64)> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], unsigned[at + 1..].parse::<i64>().ok()?),
        None => (unsigned, 0),
    };
    let whole = mantissa
        .split_once('.')
        .map_or(mantissa, |(whole, _)| whole);
    let mut exponent = exponent.checked_add(i64::try_from(whole.len()).ok()?)?;
    let mut digits = [0u8; MAX_DIGITS];
    let (mut len, mut kept) = (0usize, 0usize);
    for digit in mantissa.bytes().filter(u8::is_ascii_digit) {
        if len == 0 && digit == b'0' {
            exponent -= 1;
            continue;
        }
        match digits.get_mut(len) {
            Some(slot) => *slot = digit,
            None if digit == b'0' => {}
            None => return None,
        }
        len += 1;
        if digit != b'0' {
            kept = len;
        }
    }
    if kept == 0 {
        return Some((false, [0; MAX_DIGITS], 0));
    }
    digits[kept..].fill(0);
    Some((negative, digits, exponent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_inexact_numbers() {
        let text = r#"{"a": [1e2, 100.0, -0, 1.7976931348623157e308, "0.10000000000000001"],
            "b": [0.10000000000000001, 9007199254740993, 18446744073709551615, 1.0000000000000000001],
            "c": [5e-324, 4.9e-324]}"#;
        let found = inexact_numbers(text);
        assert_eq!(
            found,
            vec![
                0.1f64.to_bits(),
                9007199254740992f64.to_bits(),
                18446744073709551615f64.to_bits(),
                1.0f64.to_bits(),
                f64::from_bits(1).to_bits(),
            ]
        );
        assert_eq!(
            inexact_numbers("[5e-324]"),
            vec![f64::from_bits(1).to_bits()]
        );
        assert_eq!(
            inexact_numbers("[0.1, 0.10000000000000001]"),
            vec![0.1f64.to_bits()]
        );
        // Decided by the digit count (15 or fewer: exact; 18 or more: inexact) and by
        // the full comparison in between; the answers agree with the full comparison.
        for token in [
            "-122.422003528252475",
            "37.807807921694092",
            "0.1000000000000000000",
            "123456789012345",
            "1234567890123456",
            "12345678901234567",
            "123456789012345678",
            "1e-310",
            "2.2250738585072014e-308",
            "0.000",
            "1234567890123456.000000000000000000000",
            "0.00000000000000000012345678901234567",
        ] {
            let value: f64 = token.parse().unwrap();
            let full = normalize(token) == normalize(&format!("{value:e}"));
            assert_eq!(is_exact(token, value), full, "{token}");
        }
    }
}
