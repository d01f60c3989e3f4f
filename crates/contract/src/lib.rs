//! The contract every eventrail event follows, whatever the application.
//!
//! An event travels as an EventBridge envelope whose `detail` is an [`Envelope`]: the
//! [`Metadata`] every flow needs (schema version, correlation, causation, idempotency key)
//! beside the typed payload in `data`. Each payload type implements [`Event`], which names
//! its `source`, `detail-type` and schema version, and [`Validate`], which checks the
//! business rules a decoder cannot. An application's catalog (its event types) builds on
//! this crate; the runtime kit and the tools depend on this crate only, never on a catalog.

mod base64;
pub mod dead_letter;
pub mod declaration;
mod envelope;
pub mod names;
pub mod project;
pub mod rollout;
pub mod trace;
pub mod trigger;
mod validate;

pub use dead_letter::{DeadLetter, RawEvent};
pub use declaration::{
    Declaration, DeclarationError, EmbeddedManifest, FunctionDeclaration, Invoke,
};
pub use envelope::{Envelope, Metadata, derive_key};
pub use project::{
    AppSettings, CatalogEvent, CatalogIndex, LintException, LintSettings, Project, ProjectError,
    TraceContextMode, WatchedQueue, business_key_value, kebab_case,
};
pub use rollout::{GRADUAL_ROLLOUT_PARAMETER, ROLLOUT_ALIAS, Rollout};
pub use trigger::{
    Batching, Cors, Delivery, HttpAuth, HttpDeclaration, HttpMethod, HttpTrigger, QueueSource,
    Route, ScheduleDeclaration, ScheduleTrigger, ScheduledInvocation, Trigger,
};
pub use validate::{MAX_MESSAGE_ID_CHARS, Validate, ValidationError, message_id_safe, non_empty};

use schemars::JsonSchema;
use serde::{Serialize, de::DeserializeOwned};

/// A typed event of a catalog.
pub trait Event:
    Serialize + DeserializeOwned + JsonSchema + Validate + Send + Sync + 'static
{
    /// EventBridge `source` this event is published with.
    const SOURCE: &'static str;
    /// EventBridge `detail-type`.
    const DETAIL_TYPE: &'static str;
    /// Schema version carried in `detail.metadata.schema_version`.
    const VERSION: u32;

    /// Whether an envelope with this `source` and `detail-type` carries this event.
    /// The default accepts exactly [`Event::SOURCE`] and [`Event::DETAIL_TYPE`]; a type that
    /// stands for several events (an enum over them) accepts each of them.
    fn accepts(source: &str, detail_type: &str) -> bool {
        source == Self::SOURCE && detail_type == Self::DETAIL_TYPE
    }
}

/// Any event, payload untyped: the event type of a function that consumes every event of its
/// application (`consumes = ["*"]`); its rule does the selecting.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct AnyEvent(pub serde_json::Value);

impl Event for AnyEvent {
    const SOURCE: &'static str = "*";
    const DETAIL_TYPE: &'static str = "*";
    const VERSION: u32 = 1;

    fn accepts(_source: &str, _detail_type: &str) -> bool {
        true
    }
}

impl Validate for AnyEvent {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}
