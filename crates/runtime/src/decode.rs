//! Reading an invocation's EventBridge event as the handler's type, and the text of a
//! poison event's reason (never the values it carries).

use std::time::SystemTime;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use eventrail_contract::{Envelope, Event, Validate};
use serde::Deserialize;
use serde_json::Value;

use crate::handler::Incoming;

/// Decodes and validates a raw EventBridge event as `E`. The error is the poison reason.
pub(crate) fn decode<E: Event>(
    raw: &Value,
    deadline: Option<SystemTime>,
) -> Result<Incoming<E>, String> {
    let mut envelope = EventBridgeEvent::<Value>::deserialize(raw).map_err(|e| {
        format!(
            "not an EventBridge event: {}",
            without_values(&e.to_string())
        )
    })?;
    let id = match envelope.id {
        Some(id) if !id.trim().is_empty() => id,
        _ => {
            return Err(
                "id: the event has no id, so the events this function emits could not \
                        name their cause (causation_id); events put through EventBridge always \
                        have one"
                    .to_owned(),
            );
        }
    };
    let source = envelope.source;
    let detail_type = envelope.detail_type;
    if !E::accepts(&source, &detail_type) {
        return Err(format!(
            "unexpected event {detail_type} from {source}: this function consumes {} from {}",
            E::DETAIL_TYPE,
            E::SOURCE
        ));
    }
    let detail: Envelope<E> = serde_path_to_error::deserialize(&envelope.detail).map_err(|e| {
        format!(
            "detail.{}: {} (does not decode as {})",
            e.path(),
            without_values(&e.inner().to_string()),
            E::DETAIL_TYPE
        )
    })?;
    if detail.metadata.schema_version > E::VERSION {
        return Err(format!(
            "detail.metadata.schema_version: {} is newer than the {} this function understands ({})",
            detail.metadata.schema_version,
            E::DETAIL_TYPE,
            E::VERSION
        ));
    }
    detail.validate().map_err(|e| format!("detail.{e}"))?;
    let raw_data = envelope
        .detail
        .get_mut("data")
        .map(Value::take)
        .unwrap_or_default();
    Ok(Incoming {
        id,
        source,
        detail_type,
        metadata: detail.metadata,
        data: detail.data,
        raw_data,
        deadline,
    })
}

/// Longest reason a dead letter carries; the rest is cut (the event itself is kept whole).
pub(crate) const MAX_REASON_BYTES: usize = 2048;

/// A decoding error's message without the values it quotes: dead letters and logs name the
/// field and what was wrong, never the data (which may be personal, or huge). serde writes
/// values as `string "..."`, ``integer `5` ``, ``unknown variant `X` `` and the like.
pub fn without_values(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
            let kind = found
                .split([' ', '`', '"'])
                .next()
                .filter(|k| !k.is_empty())
                .unwrap_or("value");
            let kind = match kind {
                "floating" => "floating point",
                "unit" => "null",
                other => other,
            };
            let what = prefix.trim_end_matches(": ");
            return if expected.is_empty() {
                format!("{what}: a {kind}")
            } else {
                format!("{what}: a {kind}, expected {}", bounded(expected, 200))
            };
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let expected = rest.split_once(", expected ").map(|(_, e)| e).unwrap_or("");
        return format!("unknown variant, expected {}", bounded(expected, 200));
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let expected = rest.split_once(", expected ").map(|(_, e)| e).unwrap_or("");
        return format!("unknown field, expected {}", bounded(expected, 200));
    }
    bounded(message, 500)
}

/// `text` cut to at most `max` bytes, on a character boundary, marked when cut.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes cut)", &text[..end], text.len() - end)
}
