//! Standard base64 (RFC 4648 section 4, with `=` padding): how a dead letter keeps a payload
//! that is not UTF-8. Small and strict, so the contract needs no SDK crate for it.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Text that is not standard padded base64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The length is not a multiple of four.
    #[error("{0} characters, not a multiple of four")]
    Length(usize),
    /// A character outside the alphabet, or `=` before the end.
    #[error("`{character}` at {position} is not base64")]
    Character {
        /// The offending character (as a byte).
        character: char,
        /// Its position.
        position: usize,
    },
    /// The last group's unused bits are not zero.
    #[error("the last group has bits past the end")]
    TrailingBits,
}

/// `bytes` in standard padded base64.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let group = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(
                    ALPHABET[((group >> (18 - 6 * i)) & 63) as usize],
                ));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn sextet(c: u8) -> Option<u32> {
    let value = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(value))
}

/// The bytes of standard padded base64 `text`.
pub fn decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    let input = text.as_bytes();
    if !input.len().is_multiple_of(4) {
        return Err(DecodeError::Length(input.len()));
    }
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let groups = input.len() / 4;
    for (g, group) in input.chunks(4).enumerate() {
        let last = g + 1 == groups;
        let padding = if last {
            group.iter().rev().take_while(|&&c| c == b'=').count()
        } else {
            0
        };
        if padding > 2 {
            return Err(DecodeError::Character {
                character: '=',
                position: g * 4 + 4 - padding,
            });
        }
        let mut value = 0u32;
        for (i, &c) in group.iter().enumerate() {
            let bits = if i >= 4 - padding {
                0
            } else {
                sextet(c).ok_or(DecodeError::Character {
                    character: char::from(c),
                    position: g * 4 + i,
                })?
            };
            value = (value << 6) | bits;
        }
        let bytes = [(value >> 16) as u8, (value >> 8) as u8, value as u8];
        let kept = 3 - padding;
        if bytes[kept..].iter().any(|&b| b != 0) {
            return Err(DecodeError::TrailingBits);
        }
        out.extend_from_slice(&bytes[..kept]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_4648_vectors_encode_and_decode() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(encode(plain.as_bytes()), encoded);
            assert_eq!(decode(encoded).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn every_byte_value_survives_the_round_trip() {
        let bytes: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        for len in 0..bytes.len() {
            assert_eq!(decode(&encode(&bytes[..len])).unwrap(), &bytes[..len]);
        }
        assert_eq!(encode(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn text_that_is_not_padded_base64_is_refused_with_where() {
        assert_eq!(decode("Zm9"), Err(DecodeError::Length(3)));
        assert_eq!(
            decode("Zm-v"),
            Err(DecodeError::Character {
                character: '-',
                position: 2
            })
        );
        assert!(matches!(
            decode("Zg==Zm8="),
            Err(DecodeError::Character { character: '=', .. })
        ));
        assert!(decode("Z===").is_err());
        assert_eq!(decode("Zh=="), Err(DecodeError::TrailingBits));
    }
}
