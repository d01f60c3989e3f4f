//! Trace context as events carry it, and spans as functions log them.
//!
//! Why here: the runtime writes both (a `traceparent` into every event's metadata, one
//! [`SpanLine`] per finished span into the function's log) and the operating tools read both
//! back (`eventrail trace`, the studio). One spelling, written once.
//!
//! Formats:
//! - [`TraceParent`] is W3C Trace Context's `traceparent` header
//!   (`00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>`). Its trace id is also an
//!   X-Ray trace id (`1-<8 hex>-<24 hex>`, [`TraceParent::to_xray_header`]): the first 8 hex
//!   digits are the epoch second the trace started, which X-Ray requires to be under 30 days
//!   old ([`XRAY_MAX_TRACE_AGE_SECONDS`]). Ids the runtime makes keep that layout.
//! - [`SpanLine`] is one finished span as one JSON log line: `{"eventrail_span": {...}}`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// X-Ray refuses segments of a trace whose id says it started more than 30 days ago.
pub const XRAY_MAX_TRACE_AGE_SECONDS: u64 = 30 * 24 * 60 * 60;

/// The top-level key of a span's log line.
pub const SPAN_LINE_KEY: &str = "eventrail_span";

/// A W3C `traceparent`: which trace an event belongs to and which span published it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    /// The trace id (never zero).
    pub trace_id: u128,
    /// The id of the span that published the event (never zero).
    pub span_id: u64,
    /// Whether the publisher sampled (recorded) its span.
    pub sampled: bool,
}

/// Why a `traceparent` or X-Ray header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceParentError {
    /// Not `00-<32 hex>-<16 hex>-<2 hex>`.
    #[error(
        "`{value}` is not a W3C traceparent (00-<32 hex trace id>-<16 hex span id>-<2 hex flags>)"
    )]
    Malformed {
        /// What was read.
        value: String,
    },
    /// An all-zero trace or span id, which W3C declares invalid.
    #[error("`{value}` has an all-zero trace or span id")]
    Zero {
        /// What was read.
        value: String,
    },
    /// An X-Ray header without a `Root=1-<8 hex>-<24 hex>` and a `Parent=<16 hex>`.
    #[error("`{value}` is not an X-Ray trace header (Root=1-<8 hex>-<24 hex>;Parent=<16 hex>)")]
    MalformedXray {
        /// What was read.
        value: String,
    },
}

impl TraceParent {
    /// Parses a `traceparent` header value (version `00`; a later version's first four fields
    /// are read as W3C asks).
    pub fn parse(value: &str) -> Result<Self, TraceParentError> {
        let malformed = || TraceParentError::Malformed {
            value: value.to_owned(),
        };
        let mut parts = value.trim().split('-');
        let (Some(version), Some(trace), Some(span), Some(flags)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        let later_version = version != "00";
        if version.len() != 2
            || version == "ff"
            || (!later_version && parts.next().is_some())
            || trace.len() != 32
            || span.len() != 16
            || flags.len() != 2
        {
            return Err(malformed());
        }
        let trace_id = hex_u128(trace).ok_or_else(malformed)?;
        let span_id = hex_u64(span).ok_or_else(malformed)?;
        let flags = u8::from_str_radix(flags, 16).map_err(|_| malformed())?;
        if trace_id == 0 || span_id == 0 {
            return Err(TraceParentError::Zero {
                value: value.to_owned(),
            });
        }
        Ok(Self {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }

    /// Reads an X-Ray trace header (`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`),
    /// as Lambda gives it in `_X_AMZN_TRACE_ID` and EventBridge's `TraceHeader` carries it.
    /// `Sampled` absent or `?` reads as sampled.
    pub fn from_xray_header(value: &str) -> Result<Self, TraceParentError> {
        let malformed = || TraceParentError::MalformedXray {
            value: value.to_owned(),
        };
        let mut root = None;
        let mut parent = None;
        let mut sampled = true;
        for field in value.split(';') {
            let Some((key, val)) = field.trim().split_once('=') else {
                continue;
            };
            match key {
                "Root" => root = Some(val),
                "Parent" => parent = Some(val),
                "Sampled" => sampled = val != "0",
                _ => {}
            }
        }
        let (Some(root), Some(parent)) = (root, parent) else {
            return Err(malformed());
        };
        let mut root_parts = root.split('-');
        let (Some("1"), Some(epoch), Some(random), None) = (
            root_parts.next(),
            root_parts.next(),
            root_parts.next(),
            root_parts.next(),
        ) else {
            return Err(malformed());
        };
        if epoch.len() != 8 || random.len() != 24 || parent.len() != 16 {
            return Err(malformed());
        }
        let trace_id = hex_u128(&format!("{epoch}{random}")).ok_or_else(malformed)?;
        let span_id = hex_u64(parent).ok_or_else(malformed)?;
        if trace_id == 0 || span_id == 0 {
            return Err(TraceParentError::Zero {
                value: value.to_owned(),
            });
        }
        Ok(Self {
            trace_id,
            span_id,
            sampled,
        })
    }

    /// The X-Ray trace header for the same trace and parent span (what a PutEvents entry's
    /// `TraceHeader` carries).
    pub fn to_xray_header(&self) -> String {
        let trace = trace_id_hex(self.trace_id);
        format!(
            "Root=1-{}-{};Parent={};Sampled={}",
            &trace[..8],
            &trace[8..],
            span_id_hex(self.span_id),
            u8::from(self.sampled)
        )
    }

    /// The epoch second the trace id says its trace started (its first 32 bits), as X-Ray
    /// reads it.
    pub fn trace_epoch_seconds(&self) -> u64 {
        (self.trace_id >> 96) as u64
    }

    /// Whether X-Ray would still take spans of this trace at `now_epoch_seconds`: its id is
    /// under 30 days old. A trace id not made X-Ray's way (a random first 32 bits) reads as
    /// a time far in the past or future; both are refused, as X-Ray refuses them.
    pub fn xray_accepts_at(&self, now_epoch_seconds: u64) -> bool {
        let started = self.trace_epoch_seconds();
        started <= now_epoch_seconds.saturating_add(5 * 60)
            && now_epoch_seconds.saturating_sub(started) < XRAY_MAX_TRACE_AGE_SECONDS
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            trace_id_hex(self.trace_id),
            span_id_hex(self.span_id),
            u8::from(self.sampled)
        )
    }
}

/// A trace id as 32 lower-case hex digits.
pub fn trace_id_hex(trace_id: u128) -> String {
    format!("{trace_id:032x}")
}

/// A span id as 16 lower-case hex digits.
pub fn span_id_hex(span_id: u64) -> String {
    format!("{span_id:016x}")
}

fn hex_u128(s: &str) -> Option<u128> {
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(s, 16).ok()
}

fn hex_u64(s: &str) -> Option<u64> {
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

/// One finished span, as a function logs it: the log line is `{"eventrail_span": <SpanLine>}`
/// ([`SPAN_LINE_KEY`]). Times are Unix nanoseconds; ids are lower-case hex (32 digits for a
/// trace, 16 for a span); attribute names follow OpenTelemetry's semantic conventions
/// ([`attr`]) where one exists, `eventrail.*` otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanLine {
    /// The trace it belongs to.
    pub trace_id: String,
    /// Its own id.
    pub span_id: String,
    /// Its parent's id; `None` for a trace's root span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
    /// Its name (`process TaskCreated`, `publish eventrail-dev`).
    pub name: String,
    /// OpenTelemetry's span kind.
    pub kind: SpanKind,
    /// Start, Unix nanoseconds.
    pub start_unix_nano: u64,
    /// End, Unix nanoseconds.
    pub end_unix_nano: u64,
    /// Its outcome.
    #[serde(default)]
    pub status: SpanStatus,
    /// The status's message when it is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// Its attributes (strings, numbers, booleans, or arrays of them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, serde_json::Value>,
    /// Spans of other traces it is linked to (an old event replayed under a new trace).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<SpanLink>,
    /// The service (the function's declared name) that emitted it.
    pub service: String,
}

/// A link to a span of another trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanLink {
    /// The linked trace.
    pub trace_id: String,
    /// The linked span.
    pub span_id: String,
    /// Why it is linked.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// OpenTelemetry's span kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpanKind {
    /// Internal work (decode, handler).
    Internal,
    /// Serves a request (an HTTP-triggered invocation).
    Server,
    /// Calls out (a dead-letter send, an idempotency check).
    Client,
    /// Sends messages (a publish to the bus).
    Producer,
    /// Receives and processes messages (a consumer's invocation, one record of a batch).
    Consumer,
}

/// A span's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpanStatus {
    /// Not set (OpenTelemetry's default).
    #[default]
    Unset,
    /// Succeeded.
    Ok,
    /// Failed.
    Error,
}

/// Attribute names the runtime writes and the tools read. OpenTelemetry's semantic conventions
/// (FaaS, messaging) where they have one; `eventrail.*` for what they do not name.
pub mod attr {
    /// FaaS: what started the invocation (`pubsub`, `http`, `timer`, `datasource`, `other`).
    pub const FAAS_TRIGGER: &str = "faas.trigger";
    /// FaaS: the invocation's request id.
    pub const FAAS_INVOCATION_ID: &str = "faas.invocation_id";
    /// FaaS: the first invocation of a process.
    pub const FAAS_COLDSTART: &str = "faas.coldstart";
    /// FaaS: the function's deployed name.
    pub const FAAS_NAME: &str = "faas.name";
    /// Cloud: `aws`.
    pub const CLOUD_PROVIDER: &str = "cloud.provider";
    /// Messaging: the system (`aws_eventbridge`, `aws_sqs`).
    pub const MESSAGING_SYSTEM: &str = "messaging.system";
    /// Messaging: `publish`, `create`, `send`, `receive`, `process`, `settle`.
    pub const MESSAGING_OPERATION_TYPE: &str = "messaging.operation.type";
    /// Messaging: the operation's own name (`PutEvents`, `SendMessage`).
    pub const MESSAGING_OPERATION_NAME: &str = "messaging.operation.name";
    /// Messaging: the bus or queue.
    pub const MESSAGING_DESTINATION_NAME: &str = "messaging.destination.name";
    /// Messaging: one message's id (an EventBridge event id).
    pub const MESSAGING_MESSAGE_ID: &str = "messaging.message.id";
    /// Messaging: how many messages one publish carried.
    pub const MESSAGING_BATCH_MESSAGE_COUNT: &str = "messaging.batch.message_count";
    /// The event ids one publish got back from the bus, in entry order (an array).
    pub const EVENT_IDS: &str = "eventrail.event_ids";
    /// The detail-type of the event processed or published.
    pub const DETAIL_TYPE: &str = "eventrail.detail_type";
    /// The flow's correlation id.
    pub const CORRELATION_ID: &str = "eventrail.correlation_id";
    /// The event's idempotency key.
    pub const IDEMPOTENCY_KEY: &str = "eventrail.idempotency_key";
    /// The app's business key's value (e.g. a ticket's number), from the field the app declares.
    pub const BUSINESS_KEY: &str = "eventrail.business_key";
    /// How the hop ended: see [`super::HopResult`].
    pub const RESULT: &str = "eventrail.result";
    /// The failure queue a dead letter went to.
    pub const FAILURE_QUEUE: &str = "eventrail.failure_queue";
    /// Why an event is a dead letter (poison's reason, a handler's error).
    pub const FAILURE_REASON: &str = "eventrail.failure_reason";
    /// An event delivered again: `replay` (from the archive), `redrive` (from a failure
    /// queue), `reput` (put again by hand).
    pub const REDELIVERY: &str = "eventrail.redelivery";
    /// The archive replay's name, for a replayed event.
    pub const REPLAY_NAME: &str = "eventrail.replay_name";
    /// The receive count of an SQS record.
    pub const RECEIVE_COUNT: &str = "eventrail.receive_count";
}

/// How a hop ended, as its invocation span's [`attr::RESULT`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HopResult {
    /// The handler succeeded; what it emitted (maybe nothing) is on the bus.
    Published,
    /// The event could not be decoded or validated: a dead letter with the reason.
    Poison,
    /// The handler failed for good: a dead letter with the reason.
    HandlerFailure,
    /// The handler failed and the invocation will be retried (Lambda's async retries, an SQS
    /// redelivery).
    Retried,
    /// The idempotency store had already seen the key: skipped.
    IdempotentSkip,
}

impl HopResult {
    /// The attribute's value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Published => "published",
            Self::Poison => "poison",
            Self::HandlerFailure => "handler_failure",
            Self::Retried => "retried",
            Self::IdempotentSkip => "idempotent_skip",
        }
    }
}

/// The W3C `tracestate` member eventrail writes (`eventrail=<redelivery>`): an event the
/// operating tools delivered again says how.
pub const TRACESTATE_KEY: &str = "eventrail";

/// W3C Trace Context allows at most this many `tracestate` members.
const TRACESTATE_MAX_MEMBERS: usize = 32;

/// How an event was delivered again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Redelivery {
    /// From the bus's archive (EventBridge marks it with a top-level `replay-name`).
    Replay,
    /// From a failure queue (`eventrail dlq redrive`).
    Redrive,
    /// Put on the bus again by hand.
    Reput,
}

impl Redelivery {
    /// The `tracestate` value and the [`attr::REDELIVERY`] attribute's value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Replay => "replay",
            Self::Redrive => "redrive",
            Self::Reput => "reput",
        }
    }

    /// Reads [`Self::as_str`]'s spelling back.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "replay" => Some(Self::Replay),
            "redrive" => Some(Self::Redrive),
            "reput" => Some(Self::Reput),
            _ => None,
        }
    }
}

impl fmt::Display for Redelivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `tracestate` of an event delivered again: `eventrail=<kind>` first (W3C puts a changed
/// member at the left), an earlier `eventrail=` member dropped, the other members kept in
/// their order (at most 32 in all, as W3C allows; empty members dropped).
pub fn mark_redelivery(tracestate: Option<&str>, kind: Redelivery) -> String {
    let mut members = vec![format!("{TRACESTATE_KEY}={}", kind.as_str())];
    members.extend(
        tracestate
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|member| {
                !member.is_empty() && tracestate_member_key(member) != Some(TRACESTATE_KEY)
            })
            .take(TRACESTATE_MAX_MEMBERS - 1)
            .map(str::to_owned),
    );
    members.join(",")
}

/// How the event whose `tracestate` this is was delivered again, if eventrail's tools marked
/// it ([`mark_redelivery`]). An unknown value reads as `None`.
pub fn redelivery(tracestate: Option<&str>) -> Option<Redelivery> {
    tracestate?.split(',').map(str::trim).find_map(|member| {
        let (key, value) = member.split_once('=')?;
        (key.trim() == TRACESTATE_KEY).then(|| Redelivery::parse(value.trim()))?
    })
}

fn tracestate_member_key(member: &str) -> Option<&str> {
    member.split_once('=').map(|(key, _)| key.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    const W3C: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn traceparent_round_trips() {
        let parsed = TraceParent::parse(W3C).unwrap();
        assert!(parsed.sampled);
        assert_eq!(parsed.span_id, 0x00f0_67aa_0ba9_02b7);
        assert_eq!(parsed.to_string(), W3C);
        let unsampled = TraceParent::parse(&W3C.replace("-01", "-00")).unwrap();
        assert!(!unsampled.sampled);
    }

    #[test]
    fn malformed_traceparents_are_refused() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(
                matches!(
                    TraceParent::parse(bad),
                    Err(TraceParentError::Malformed { .. })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            TraceParent::parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            Err(TraceParentError::Zero { .. })
        ));
    }

    #[test]
    fn a_later_version_is_read_by_its_first_fields() {
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-next";
        assert_eq!(TraceParent::parse(later).unwrap().to_string(), W3C);
    }

    #[test]
    fn xray_headers_are_the_same_trace() {
        let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let parsed = TraceParent::from_xray_header(header).unwrap();
        assert_eq!(
            trace_id_hex(parsed.trace_id),
            "5759e988bd862e3fe1be46a994272793"
        );
        assert_eq!(parsed.to_xray_header(), header);
        assert_eq!(parsed.trace_epoch_seconds(), 0x5759_e988);
        let lineage = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a:1";
        assert!(!TraceParent::from_xray_header(lineage).unwrap().sampled);
        assert!(matches!(
            TraceParent::from_xray_header("Root=1-5759e988-bd862e3fe1be46a994272793"),
            Err(TraceParentError::MalformedXray { .. })
        ));
    }

    #[test]
    fn xray_refuses_traces_older_than_thirty_days() {
        let started = 0x6000_0000u64;
        let parent = TraceParent {
            trace_id: (u128::from(started) << 96) | 1,
            span_id: 1,
            sampled: true,
        };
        assert!(parent.xray_accepts_at(started + 60));
        assert!(parent.xray_accepts_at(started + XRAY_MAX_TRACE_AGE_SECONDS - 1));
        assert!(!parent.xray_accepts_at(started + XRAY_MAX_TRACE_AGE_SECONDS));
        assert!(!parent.xray_accepts_at(started - 3600));
    }

    #[test]
    fn span_lines_read_back() {
        let line = serde_json::json!({
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "span_id": "00f067aa0ba902b7",
            "name": "process TaskAssigned",
            "kind": "consumer",
            "start_unix_nano": 1u64,
            "end_unix_nano": 2u64,
            "attributes": {"eventrail.result": "published"},
            "service": "assigner"
        });
        let span: SpanLine = serde_json::from_value(line).unwrap();
        assert_eq!(span.status, SpanStatus::Unset);
        assert_eq!(span.parent_span_id, None);
        assert_eq!(span.attributes[attr::RESULT], HopResult::Published.as_str());
    }

    #[test]
    fn redelivery_marks_replace_the_earlier_mark_and_keep_other_members() {
        assert_eq!(
            mark_redelivery(None, Redelivery::Redrive),
            "eventrail=redrive"
        );
        assert_eq!(
            mark_redelivery(Some(""), Redelivery::Reput),
            "eventrail=reput"
        );
        let marked = mark_redelivery(
            Some("congo=t61rcWkgMzE, eventrail=redrive,rojo=00f067aa0ba902b7"),
            Redelivery::Reput,
        );
        assert_eq!(
            marked,
            "eventrail=reput,congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
        );
        assert_eq!(redelivery(Some(&marked)), Some(Redelivery::Reput));
        let crowded: Vec<String> = (0..40).map(|i| format!("k{i}=v")).collect();
        let marked = mark_redelivery(Some(&crowded.join(",")), Redelivery::Redrive);
        assert_eq!(marked.split(',').count(), 32);
        assert!(marked.starts_with("eventrail=redrive,k0=v,"));
    }

    #[test]
    fn redelivery_reads_only_eventrails_known_member() {
        assert_eq!(redelivery(None), None);
        assert_eq!(redelivery(Some("congo=t61rcWkgMzE")), None);
        assert_eq!(redelivery(Some("eventrail=later")), None);
        assert_eq!(redelivery(Some("xeventrail=redrive")), None);
        assert_eq!(
            redelivery(Some("congo=t61rcWkgMzE, eventrail=replay")),
            Some(Redelivery::Replay)
        );
        for kind in [Redelivery::Replay, Redelivery::Redrive, Redelivery::Reput] {
            assert_eq!(Redelivery::parse(kind.as_str()), Some(kind));
        }
    }
}
