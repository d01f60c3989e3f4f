//! The reference shop's event catalog: the one source of truth for every event of the app.
//!
//! The contract every event follows (the [`Envelope`] and its [`Metadata`], the [`Event`]
//! and [`Validate`] traits, key derivation) is the framework's, in `eventrail-contract`,
//! re-exported here so functions need one import. This crate holds what is the shop's own:
//! the payload types, the `PlaceOrder` command and its answer, the outbox message, and the
//! order scenarios the demo and the end-to-end tests place.

mod catalog;
mod contracts;
pub mod scenarios;

pub use catalog::*;
pub use contracts::{OrderAccepted, OutboxMessage};
pub use eventrail_contract::{Envelope, Event, Metadata, Validate, ValidationError, derive_key};

/// Every event source of this application starts with this prefix.
pub const SOURCE_PREFIX: &str = "eventrail.";
