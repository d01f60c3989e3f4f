//! The bodies of a burst: one sample request, made unique per request by writing a token of
//! the run into one of its string fields (a JSON pointer), so each request's outcome can be
//! found again downstream by that token.

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// The tokens of one run: `<prefix>-<run>-<index>`, the index zero-padded to one width, so
/// no token is a prefix of another and every token is a valid SQS FIFO group id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    run: String,
    width: usize,
}

impl Tokens {
    /// The tokens of run `run` (letters, digits and `-` only) for `count` requests.
    pub fn new(run: &str, count: usize) -> Result<Self> {
        if run.is_empty() || !run.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            bail!("the run id `{run}` may hold letters, digits and `-` only");
        }
        Ok(Self {
            run: run.to_owned(),
            width: count.saturating_sub(1).to_string().len(),
        })
    }

    /// The token of request `index`.
    pub fn token(&self, index: usize) -> String {
        format!("load-{}-{index:0width$}", self.run, width = self.width)
    }
}

/// A run id from the clock: the milliseconds since the epoch, in base 36.
pub fn run_id(millis: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut value = millis;
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(value % 36) as usize]);
        value /= 36;
        if value == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

/// The sample body with a string field at `pointer` (RFC 6901, `/a/b`) to vary.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    sample: Value,
    pointer: String,
}

impl Template {
    /// Checks that `sample` holds a string at `pointer`.
    pub fn new(sample: Value, pointer: &str) -> Result<Self> {
        match sample.pointer(pointer) {
            Some(Value::String(_)) => Ok(Self {
                sample,
                pointer: pointer.to_owned(),
            }),
            Some(other) => bail!(
                "--vary {pointer}: the sample holds {other} there; name a string field, \
                 one the request's outcome carries downstream (an id)"
            ),
            None => bail!(
                "--vary {pointer}: no such field in the sample (a JSON pointer: `/outer/inner`)"
            ),
        }
    }

    /// The body of the request carrying `token`, as sent.
    pub fn body(&self, token: &str) -> Result<String> {
        let mut body = self.sample.clone();
        let field = body
            .pointer_mut(&self.pointer)
            .context("the sample's field to vary went missing")?;
        *field = Value::String(token.to_owned());
        serde_json::to_string(&body).context("writing a request body")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tokens_are_distinct_and_none_is_a_prefix_of_another() {
        let tokens = Tokens::new("abc", 2000).unwrap();
        assert_eq!(tokens.token(7), "load-abc-0007");
        assert_eq!(tokens.token(1999), "load-abc-1999");
        let all: Vec<String> = (0..2000).map(|i| tokens.token(i)).collect();
        for (i, a) in all.iter().enumerate().step_by(97) {
            for (j, b) in all.iter().enumerate() {
                assert!(i == j || !b.starts_with(a.as_str()), "{a} / {b}");
            }
        }
        assert_eq!(Tokens::new("r", 1).unwrap().token(0), "load-r-0");
    }

    #[test]
    fn a_run_id_outside_the_token_alphabet_is_refused() {
        assert!(Tokens::new("a b", 3).is_err());
        assert!(Tokens::new("", 3).is_err());
    }

    #[test]
    fn run_ids_are_base_36_of_the_clock() {
        assert_eq!(run_id(0), "0");
        assert_eq!(run_id(35), "z");
        assert_eq!(run_id(36), "10");
        assert_ne!(run_id(1_796_000_000_000), run_id(1_796_000_000_001));
    }

    #[test]
    fn the_token_replaces_the_field_and_nothing_else() {
        let sample = json!({"thing": {"id": "t-1", "note": "t-1", "n": 3}});
        let template = Template::new(sample, "/thing/id").unwrap();
        let body: Value = serde_json::from_str(&template.body("load-x-1").unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"thing": {"id": "load-x-1", "note": "t-1", "n": 3}})
        );
    }

    #[test]
    fn the_field_to_vary_must_be_a_string_that_exists() {
        let sample = json!({"thing": {"id": "t-1", "n": 3}});
        assert!(Template::new(sample.clone(), "/thing/n").is_err());
        assert!(Template::new(sample.clone(), "/thing/missing").is_err());
        assert!(Template::new(sample, "thing/id").is_err());
    }
}
