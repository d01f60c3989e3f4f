//! Events delivered again: an archive replay (EventBridge's top-level `replay-name`), a
//! redrive from a failure queue or a re-put (eventrail's `tracestate` member, written by the
//! operating tools). The consumer opens a span that says so, `replay <detail-type>` /
//! `redrive <detail-type>` / `reput <detail-type>` (kind consumer), between the original
//! publish span and the event's consumer span, so the trace shows where the event was
//! delivered again.
//!
//! X-Ray refuses spans of a trace whose id is over 30 days old, and an archive keeps events
//! for a year: an event delivered again under such an old trace starts a new trace, whose
//! redelivery span links to the original publish span (the link's `eventrail.redelivery`
//! says why).

use eventrail_contract::trace::{Redelivery, attr, redelivery};
use opentelemetry::KeyValue;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::trace::context::Remote;
use crate::trace::spans::TARGET;

/// How an event was delivered again, if it was: a replay when EventBridge named the replay,
/// else what eventrail's `tracestate` member says.
pub(crate) fn of_event(replay_name: Option<&str>, tracestate: Option<&str>) -> Option<Redelivery> {
    if replay_name.is_some_and(|name| !name.is_empty()) {
        return Some(Redelivery::Replay);
    }
    redelivery(tracestate)
}

/// Where an event's consumer span hangs: its parent context, and the redelivery span that
/// must stay open until the consumer span ends (`None` for a first delivery).
pub(crate) struct EventParent {
    /// The consumer span's parent.
    pub(crate) context: opentelemetry::Context,
    /// The redelivery span, if the event was delivered again.
    pub(crate) redelivery: Option<tracing::Span>,
}

/// The parent of an event's consumer span: the event's own context (`remote`), or a new root
/// without one; for an event delivered again (`kind`), a redelivery span in between. An event
/// whose trace X-Ray would refuse at `now_epoch_seconds` (over 30 days old) gets a new trace,
/// linked to the original.
pub(crate) fn event_parent(
    remote: Option<&Remote>,
    kind: Option<Redelivery>,
    replay_name: Option<&str>,
    detail_type: &str,
    now_epoch_seconds: u64,
) -> EventParent {
    let Some(kind) = kind else {
        return EventParent {
            context: remote.map(Remote::context).unwrap_or_default(),
            redelivery: None,
        };
    };
    let name = format!("{} {detail_type}", kind.as_str());
    let span = tracing::info_span!(
        target: TARGET,
        "redelivery",
        otel.name = name.as_str(),
        otel.kind = "consumer",
        redelivery = kind.as_str(),
    );
    span.set_attribute(attr::REDELIVERY, kind.as_str());
    if let Some(replay) = replay_name {
        span.set_attribute(attr::REPLAY_NAME, replay.to_owned());
    }
    if !detail_type.is_empty() {
        span.set_attribute(attr::DETAIL_TYPE, detail_type.to_owned());
    }
    let parent = match remote {
        Some(remote) if remote.parent.xray_accepts_at(now_epoch_seconds) => remote.context(),
        Some(remote) => {
            tracing::info!(
                original = %remote.parent,
                "the event's trace is over 30 days old: a new trace, linked to the original"
            );
            span.add_link_with_attributes(
                remote.span_context(),
                vec![KeyValue::new(attr::REDELIVERY, kind.as_str())],
            );
            opentelemetry::Context::new()
        }
        None => opentelemetry::Context::new(),
    };
    // The span is new and not yet entered, so its parent can still be set.
    let _ = span.set_parent(parent);
    EventParent {
        context: span.context(),
        redelivery: Some(span),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_name_wins_over_the_tracestate_mark() {
        assert_eq!(
            of_event(Some("replay-1"), Some("eventrail=redrive")),
            Some(Redelivery::Replay)
        );
        assert_eq!(
            of_event(None, Some("eventrail=redrive")),
            Some(Redelivery::Redrive)
        );
        assert_eq!(
            of_event(Some(""), Some("eventrail=reput")),
            Some(Redelivery::Reput)
        );
        assert_eq!(of_event(None, Some("congo=x")), None);
    }
}
