//! The consumer owns decoding: the invocation payload reaches the kit as the bytes Lambda
//! delivered, and the kit decodes them itself. Whatever does not decode (nested deeper than
//! the JSON decoder's limit, a lone UTF-16 surrogate, a number out of range, not JSON, not an
//! object) is poison: it goes to the dead-letter queue at once with the reason and the payload
//! kept whole ([`crate::RawEvent`]), instead of failing inside `lambda_runtime` before the
//! kit runs, where Lambda retried it and the on-failure record could not be read back.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    task,
};

use lambda_runtime::{
    LambdaInvocation,
    tower::{Layer, Service},
};
use serde::Deserialize;
use serde_json::Value;

/// How deep serde_json decodes before it stops with "recursion limit exceeded".
pub const MAX_DEPTH: usize = 128;

/// Why a payload is not an event the kit can decode. Each is poison: retrying the same bytes
/// gives the same answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Arrays and objects nested deeper than [`MAX_DEPTH`].
    #[error(
        "the payload nests arrays or objects deeper than {MAX_DEPTH} levels ({at}), more than \
         the kit decodes"
    )]
    TooDeep {
        /// Where the decoder stopped (`line 1 column 205`).
        at: String,
    },
    /// A `\u` escape that is not a whole character: a UTF-16 surrogate without its pair
    /// (`"\ud800"`), or an escape cut short.
    #[error(
        "the payload has a string with a lone UTF-16 surrogate or a cut \\u escape ({at}), \
         which is not a Unicode character"
    )]
    InvalidUnicodeEscape {
        /// Where.
        at: String,
    },
    /// Bytes that are not UTF-8.
    #[error("the payload is not UTF-8 text ({at})")]
    InvalidUtf8 {
        /// Where.
        at: String,
    },
    /// A number beyond what a 64-bit float holds (`1e400`).
    #[error("the payload has a number out of range ({at}): larger than a 64-bit float holds")]
    NumberOutOfRange {
        /// Where.
        at: String,
    },
    /// Not a JSON document at all.
    #[error("the payload is not valid JSON: {message}")]
    InvalidJson {
        /// serde_json's message, with its position.
        message: String,
    },
    /// Valid JSON, but not an object, so not an EventBridge event.
    #[error("the payload is not an object but {found}, so not an EventBridge event")]
    NotAnObject {
        /// `an array`, `a string`, ...
        found: &'static str,
    },
}

impl PayloadError {
    /// True when the payload is kept as bytes in the dead letter (it is not a JSON value);
    /// false when it decoded as JSON and travels as the letter's `event`.
    pub fn is_undecodable(&self) -> bool {
        !matches!(self, Self::NotAnObject { .. })
    }
}

/// Decodes a payload as a JSON object. `Err` holds the value too when it decoded but is not
/// an object, so the dead letter can carry it as JSON.
pub fn decode_payload(bytes: &[u8]) -> Result<Value, (PayloadError, Option<Value>)> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| (classify(&e), None))?;
    let found = match &value {
        Value::Object(_) => return Ok(value),
        Value::Array(_) => "an array",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
    };
    Err((PayloadError::NotAnObject { found }, Some(value)))
}

/// The poison reason for a decoding error. serde_json's errors have no public code, so the
/// kinds are told by the message (pinned by the tests below).
fn classify(error: &serde_json::Error) -> PayloadError {
    let message = error.to_string();
    let at = format!("line {} column {}", error.line(), error.column());
    let kind = message.split(" at line ").next().unwrap_or_default();
    match kind {
        "recursion limit exceeded" => PayloadError::TooDeep { at },
        "unexpected end of hex escape"
        | "lone leading surrogate in hex escape"
        | "invalid escape" => PayloadError::InvalidUnicodeEscape { at },
        "invalid unicode code point" => PayloadError::InvalidUtf8 { at },
        "number out of range" => PayloadError::NumberOutOfRange { at },
        _ => PayloadError::InvalidJson { message },
    }
}

/// The envelope fields a dead letter names (`id`, `detail-type`, the correlation id), read
/// from a payload that does not decode whole: the rest of the document is skipped without
/// being decoded (no depth limit, no check of the strings and numbers it holds).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EnvelopeFields {
    /// `id`.
    pub id: Option<String>,
    /// `detail-type`.
    pub detail_type: Option<String>,
    /// `detail.metadata.correlation_id`.
    pub correlation_id: Option<String>,
}

impl EnvelopeFields {
    /// What can be read; nothing when the envelope itself is broken.
    pub fn read(bytes: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct Envelope {
            id: Option<Text>,
            #[serde(rename = "detail-type")]
            detail_type: Option<Text>,
            detail: Option<Detail>,
        }
        #[derive(Deserialize)]
        struct Detail {
            metadata: Option<Metadata>,
        }
        #[derive(Deserialize)]
        struct Metadata {
            correlation_id: Option<Text>,
        }
        /// A string, or nothing when the field holds something else.
        struct Text(Option<String>);
        impl<'de> Deserialize<'de> for Text {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(Self(match Value::deserialize(d)? {
                    Value::String(text) => Some(text),
                    _ => None,
                }))
            }
        }
        let text = |t: Option<Text>| t.and_then(|t| t.0);
        match serde_json::from_slice::<Envelope>(bytes) {
            Ok(envelope) => Self {
                id: text(envelope.id),
                detail_type: text(envelope.detail_type),
                correlation_id: text(
                    envelope
                        .detail
                        .and_then(|d| d.metadata)
                        .and_then(|m| m.correlation_id),
                ),
            },
            Err(_) => Self::default(),
        }
    }
}

/// Payloads set aside by [`RawPayloadLayer`] for the handler, by request id.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawPayloads(Arc<Mutex<HashMap<String, Vec<u8>>>>);

impl RawPayloads {
    /// The payload of `request_id`, taken out.
    pub(crate) fn take(&self, request_id: &str) -> Option<Vec<u8>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(request_id)
    }

    fn put(&self, request_id: String, payload: Vec<u8>) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(request_id, payload);
    }
}

/// The body `lambda_runtime` decodes in place of the payload: `null`, which the handler's
/// payload type ([`serde::de::IgnoredAny`]) accepts, so its decoding can never fail.
const PLACEHOLDER_BODY: &[u8] = b"null";

/// A layer outside `lambda_runtime`'s own: it takes each invocation's body as delivered, sets
/// it aside for the handler and hands the runtime [`PLACEHOLDER_BODY`] to decode instead. The
/// runtime still polls for events and posts the answers; only the decoding moves to the kit.
#[derive(Debug, Clone)]
pub(crate) struct RawPayloadLayer(pub(crate) RawPayloads);

impl<S> Layer<S> for RawPayloadLayer {
    type Service = RawPayloadService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RawPayloadService {
            inner,
            payloads: self.0.clone(),
        }
    }
}

/// The service of [`RawPayloadLayer`].
#[derive(Debug, Clone)]
pub(crate) struct RawPayloadService<S> {
    inner: S,
    payloads: RawPayloads,
}

impl<S> Service<LambdaInvocation> for RawPayloadService<S>
where
    S: Service<LambdaInvocation>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut task::Context<'_>) -> task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> Self::Future {
        let body = std::mem::replace(&mut invocation.body, PLACEHOLDER_BODY.into());
        self.payloads
            .put(invocation.context.request_id.clone(), Vec::from(body));
        self.inner.call(invocation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> PayloadError {
        decode_payload(text.as_bytes()).unwrap_err().0
    }

    fn nested(levels: usize) -> String {
        format!(
            r#"{{"id":"e-1","detail-type":"TaskCreated","detail":{{"metadata":{{"correlation_id":"c-1"}},"data":{}1{}}}}}"#,
            "[".repeat(levels),
            "]".repeat(levels)
        )
    }

    #[test]
    fn an_object_decodes() {
        let value = decode_payload(br#"{"id":"e-1"}"#).unwrap();
        assert_eq!(value["id"], "e-1");
    }

    #[test]
    fn each_kind_of_undecodable_payload_has_its_reason() {
        assert!(matches!(error(&nested(200)), PayloadError::TooDeep { .. }));
        assert!(decode_payload(nested(100).as_bytes()).is_ok());
        assert!(matches!(
            error(r#"{"s":"\ud800"}"#),
            PayloadError::InvalidUnicodeEscape { .. }
        ));
        assert!(matches!(
            error(r#"{"s":"\udc00 after"}"#),
            PayloadError::InvalidUnicodeEscape { .. }
        ));
        assert!(matches!(
            error(r#"{"n":1e400}"#),
            PayloadError::NumberOutOfRange { .. }
        ));
        assert!(matches!(
            error(r#"{"n":Infinity}"#),
            PayloadError::InvalidJson { .. }
        ));
        assert!(matches!(
            decode_payload(b"{\"s\":\"\xff\"}").unwrap_err().0,
            PayloadError::InvalidUtf8 { .. }
        ));
        assert_eq!(
            error("[1,2]"),
            PayloadError::NotAnObject { found: "an array" }
        );
        assert_eq!(
            error("\"text\""),
            PayloadError::NotAnObject { found: "a string" }
        );
        let reason = error(&nested(200)).to_string();
        assert!(
            reason.contains("deeper than 128 levels") && reason.contains("line 1 column"),
            "{reason}"
        );
    }

    #[test]
    fn the_envelope_fields_are_read_from_a_payload_that_does_not_decode() {
        for payload in [
            nested(5000),
            nested(3).replace("1]", r#""\ud800"]"#),
            nested(3).replace("1]", "1e400]"),
        ] {
            assert!(decode_payload(payload.as_bytes()).is_err());
            assert_eq!(
                EnvelopeFields::read(payload.as_bytes()),
                EnvelopeFields {
                    id: Some("e-1".into()),
                    detail_type: Some("TaskCreated".into()),
                    correlation_id: Some("c-1".into()),
                }
            );
        }
        assert_eq!(EnvelopeFields::read(b"not json"), EnvelopeFields::default());
        assert_eq!(
            EnvelopeFields::read(br#"{"id": 7}"#),
            EnvelopeFields::default()
        );
    }
}
