//! The eventrail event catalog: the one source of truth for every event in the system.
//!
//! An event travels as an EventBridge envelope whose `detail` is an [`Envelope`]: the
//! [`Metadata`] every flow needs (schema version, correlation, causation, idempotency key)
//! beside the typed payload in `data`. Each payload type implements [`Event`], which names
//! its `source`, `detail-type` and schema version, and [`Validate`], which checks the
//! business rules a decoder cannot.

mod catalog;
mod contracts;
mod envelope;
mod validate;

pub use catalog::*;
pub use contracts::{OrderAccepted, OutboxMessage};
pub use envelope::{Envelope, Metadata, derive_key};
pub use validate::{Validate, ValidationError};

use schemars::JsonSchema;
use serde::{Serialize, de::DeserializeOwned};

/// Every event source of this application starts with this prefix.
pub const SOURCE_PREFIX: &str = "eventrail.";

/// A typed event of the catalog.
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
    /// The default accepts exactly [`Event::SOURCE`] and [`Event::DETAIL_TYPE`].
    fn accepts(source: &str, detail_type: &str) -> bool {
        source == Self::SOURCE && detail_type == Self::DETAIL_TYPE
    }
}
