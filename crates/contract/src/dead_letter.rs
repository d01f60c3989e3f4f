//! The dead-letter record: what a function writes to its failure queue for an event it can
//! never process, and what the operating tools (`eventrail dlq`, redrive) read back. The
//! runtime writes it (`eventrail_runtime::dead_letter`); its format lives here, once.

use serde::{Deserialize, Serialize};

pub use crate::base64::DecodeError;

/// The message sent to the dead-letter queue for a poison event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Always `poison`: the event can never be processed, so it was not retried.
    pub kind: String,
    /// The function that gave up on the event.
    pub function: String,
    /// Why, naming the field where possible.
    pub reason: String,
    /// The EventBridge id of the event, when it could be read.
    pub event_id: Option<String>,
    /// The flow's correlation id, when it could be read.
    pub correlation_id: Option<String>,
    /// The event's `detail-type`, when it could be read (also when the event is stored apart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail_type: Option<String>,
    /// When the function gave up (RFC 3339).
    pub failed_at: String,
    /// The original event, exactly as delivered; `null` when the letter would not fit in a
    /// queue message, and [`DeadLetter::event_stored_at`] says where the event is instead, or
    /// when the payload did not decode as JSON and [`DeadLetter::event_raw`] holds it.
    pub event: serde_json::Value,
    /// The payload exactly as Lambda delivered it, when the kit could not decode it as a JSON
    /// value (nested too deep, a lone surrogate, a number out of range, not JSON): kept whole
    /// so it can be read and redriven. Absent otherwise (letters written before it existed
    /// read as absent too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_raw: Option<RawEvent>,
    /// Where the original event was stored whole (a claim check), when it was too large to
    /// travel in the letter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_stored_at: Option<StoredEvent>,
}

/// A payload kept as delivered: its text when it is UTF-8 (every payload Lambda delivers is),
/// else its bytes in base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawEvent {
    /// How [`RawEvent::data`] holds the payload.
    pub encoding: RawEncoding,
    /// The payload.
    pub data: String,
}

/// The encoding of a [`RawEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawEncoding {
    /// UTF-8 text, as delivered.
    Text,
    /// Standard base64 of the bytes.
    Base64,
}

/// A [`RawEvent`] whose base64 does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the raw event's base64 does not decode")]
pub struct RawEventError(#[source] pub DecodeError);

impl RawEvent {
    /// Keeps `payload` as it is.
    pub fn from_bytes(payload: &[u8]) -> Self {
        match std::str::from_utf8(payload) {
            Ok(text) => Self {
                encoding: RawEncoding::Text,
                data: text.to_owned(),
            },
            Err(_) => Self {
                encoding: RawEncoding::Base64,
                data: crate::base64::encode(payload),
            },
        }
    }

    /// The payload's text, when it is UTF-8.
    pub fn text(&self) -> Option<&str> {
        match self.encoding {
            RawEncoding::Text => Some(&self.data),
            RawEncoding::Base64 => None,
        }
    }

    /// The payload's bytes, as delivered.
    pub fn to_bytes(&self) -> Result<Vec<u8>, RawEventError> {
        match self.encoding {
            RawEncoding::Text => Ok(self.data.as_bytes().to_vec()),
            RawEncoding::Base64 => crate::base64::decode(&self.data).map_err(RawEventError),
        }
    }
}

/// A claim check: the object that holds a dead letter's original event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// The S3 bucket.
    pub bucket: String,
    /// The object key: `<function>/<event id>.json`, under the function's declared name.
    pub key: String,
    /// Size of the stored JSON, in bytes.
    pub bytes: usize,
    /// `raw` when the object holds a payload that did not decode as JSON (the letter's
    /// [`DeadLetter::event_raw`], its bytes as delivered); absent for a JSON event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<StoredFormat>,
}

/// What a stored event's object holds, when it is not the event's JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoredFormat {
    /// The payload's bytes as delivered ([`DeadLetter::event_raw`]).
    Raw,
}

/// Largest dead letter sent whole to the queue. A larger one keeps its event in the failed-events
/// bucket and carries the pointer. Chosen below SQS's classic 256 KiB limit, so the letter fits
/// a queue whatever its configured maximum.
pub const INLINE_DEAD_LETTER_BYTES: usize = 250 * 1024;

/// The object key a function's stored event gets under `prefix` (the function's own,
/// [`crate::declaration::failed_events_prefix`]): one per event id.
pub fn stored_event_key(prefix: &str, event_id: Option<&str>, failed_at: &str) -> String {
    match event_id {
        Some(id) if !id.is_empty() => format!("{prefix}{}.json", key_safe(id)),
        _ => format!("{prefix}no-id-{}.json", key_safe(failed_at)),
    }
}

fn key_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}
