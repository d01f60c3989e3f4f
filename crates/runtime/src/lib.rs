//! The runtime kit every eventrail function is built on.
//!
//! - [`Publisher`]: typed `PutEvents` with EventBridge's limits, partial-failure retries
//!   with backoff and jitter, and a result per event.
//! - [`Consumer`] and [`run_consumer`]: a function is a [`Handler`] from a typed
//!   [`Incoming`] event to the events it emits. The runner decodes and validates the
//!   EventBridge envelope, sends poison events to the dead-letter queue at once, returns
//!   every other failure as a retryable error, and publishes what the handler emits with
//!   the flow's metadata (correlation, causation, idempotency key).
//! - [`config`]: the environment a function reads, with errors that say which variable to set.
//! - [`declaration!`]: the function's own declaration (`[package.metadata.eventrail]` in its
//!   `Cargo.toml`), compiled in; it says what the function emits and how it is invoked.
//! - [`idempotency`]: run a side effect once per idempotency key (Powertools' semantics),
//!   with records in DynamoDB (cargo feature `dynamodb`) or in memory for unit tests.
//! - [`testing`]: run a handler dry on the catalog's samples, with the declaration checked
//!   against the handler's event type.

mod aws;
pub mod config;
mod consumer;
mod dead_letter;
pub mod idempotency;
mod lazy;
pub mod logging;
mod payload;
mod publisher;
pub mod testing;

pub use eventrail_contract::{self as contract, Declaration, EmbeddedManifest};

pub use aws::{
    LambdaEnvironment, TrustStoreChoice, aws_config, http_client, prepare_publisher_client,
};
pub use config::{ConfigError, RuntimeConfig};
pub use consumer::{
    Consumer, ConsumerError, Emitted, EmittedSummary, Handler, HandlerError, Incoming, Outcome,
    run_consumer, without_values,
};
pub use dead_letter::{
    DeadLetter, DeadLetterError, DeadLetterSink, INLINE_DEAD_LETTER_BYTES, RawEncoding, RawEvent,
    RawEventError, SqsDeadLetterQueue, StoredEvent, StoredFormat, stored_event_key,
};
pub use lazy::{LazyClient, LazyClientError};
pub use payload::{EnvelopeFields, MAX_DEPTH, PayloadError, decode_payload};
pub use publisher::{
    DELIVERY_HEADROOM_BYTES, EntryOutcome, EventBridgePutEvents, MAX_ENTRIES_PER_REQUEST,
    MAX_ENTRY_BYTES, MAX_PUBLISHED_ENTRY_BYTES, MAX_REQUEST_BYTES, OutgoingEvent, PublishError,
    PublishedEvent, Publisher, PutEventsApi, RetryPolicy, TransportError, deadline_instant,
};

/// The error type a function's `main` returns.
pub type LambdaError = lambda_runtime::Error;
/// Re-exported so functions with their own service (the `intake` producer) use the same version.
pub use lambda_runtime;

/// The calling crate's declaration, compiled in: read at build time by its build script
/// (`eventrail_build::lambda_binary`), else its `Cargo.toml`'s text, parsed at init.
///
/// ```ignore
/// eventrail_runtime::run_consumer(my_function::handle, eventrail_runtime::declaration!()).await
/// ```
#[macro_export]
macro_rules! declaration {
    () => {
        $crate::EmbeddedManifest {
            package: env!("CARGO_PKG_NAME"),
            declaration_json: option_env!("EVENTRAIL_DECLARATION_JSON"),
            text: include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")),
        }
    };
}
