//! Queue bodies of any depth the tools can hold. serde_json stops at 128 levels of nesting
//! ("recursion limit exceeded"), but the queues hold what the bus delivered, and an event
//! nested deeper is exactly what a failure queue collects. These read such bodies up to
//! [`MAX_DEPTH`] levels: deep enough for anything a person would nest, shallow enough that
//! the recursive code over a `Value` (decoding, printing, comparing, dropping) stays far from
//! the end of a thread's stack.

use serde::Deserialize;
use serde_json::Value;

/// The deepest nesting the tools turn into a `Value`. Deeper text is kept as text.
pub const MAX_DEPTH: usize = 512;

/// How deeply arrays and objects nest in `text`, counted without recursion (strings are
/// skipped, so brackets inside them do not count). Not a validation: it only counts.
pub fn depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for byte in text.bytes() {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Parses `text` as JSON, nested up to [`MAX_DEPTH`] levels (serde_json's own limit is 128).
/// The error says why, with serde_json's position.
pub fn parse(text: &str) -> Result<Value, String> {
    let nested = depth(text);
    if nested > MAX_DEPTH {
        return Err(format!(
            "nests arrays or objects {nested} levels deep, deeper than the {MAX_DEPTH} the \
             tools decode"
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    deserializer.disable_recursion_limit();
    let value = Value::deserialize(&mut deserializer).map_err(|e| e.to_string())?;
    deserializer.end().map_err(|e| e.to_string())?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> String {
        format!(
            r#"{{"s":"[[{{","a":{}1{}}}"#,
            "[".repeat(levels - 1),
            "]".repeat(levels - 1)
        )
    }

    #[test]
    fn counts_nesting_outside_strings() {
        assert_eq!(depth(r#"{"a":"[[[\"{{"}"#), 1);
        assert_eq!(depth(&nested(200)), 200);
        assert_eq!(depth("7"), 0);
    }

    #[test]
    fn parses_past_serde_json_s_limit_up_to_its_own() {
        let text = nested(200);
        assert!(serde_json::from_str::<Value>(&text).is_err());
        let value = parse(&text).unwrap();
        assert_eq!(value["s"], "[[{");
        let text = nested(MAX_DEPTH);
        assert!(parse(&text).is_ok());
        let error = parse(&nested(MAX_DEPTH + 1)).unwrap_err();
        assert!(error.contains("513 levels deep"), "{error}");
        assert!(parse("{} x").unwrap_err().contains("trailing"));
        assert!(parse(r#"{"s":"\ud800"}"#).is_err());
    }
}
