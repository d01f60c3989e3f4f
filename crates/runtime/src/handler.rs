//! What a function's handler is: a typed [`Incoming`] event in, the events it [`Emitted`] out,
//! or a [`HandlerError`] that says whether to retry.

use std::{future::Future, time::SystemTime};

use eventrail_contract::{Event, Metadata};
use serde_json::Value;

use crate::cause::{BoxError, Cause};
use crate::publisher::PublishError;

/// A decoded, validated event handed to a handler.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming<E> {
    /// EventBridge event id.
    pub id: String,
    /// `source`.
    pub source: String,
    /// `detail-type`.
    pub detail_type: String,
    /// Flow metadata from `detail.metadata`.
    pub metadata: Metadata,
    /// The typed payload.
    pub data: E,
    /// `detail.data` as received, before `E` dropped or reshaped anything: what idempotency
    /// hashes ([`crate::idempotency::payload_hash`]).
    pub raw_data: Value,
    /// When Lambda stops this invocation (`None` outside Lambda, e.g. in tests). The
    /// idempotency utility lets an in-progress record expire then, so a crashed attempt does
    /// not block its retries.
    pub deadline: Option<SystemTime>,
}

/// A failure of the handler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying (a dependency is down). Returned to Lambda as an error: Lambda retries,
    /// then sends the event to the function's on-failure destination. The cause stays typed
    /// ([`Cause::downcast_ref`]); the text shows its whole chain.
    #[error("retryable error: {0}")]
    Retryable(#[source] Cause),
    /// The event can never be processed. It goes to the dead-letter queue at once, with this
    /// reason (the dead letter's `reason`, read by people: no cause to keep beyond its text).
    #[error("poison event: {0}")]
    Poison(String),
    /// The input is refused for good, with the HTTP status to answer (an `http` function's
    /// typed 4xx: 409 for a conflict, 422 for a rule the body breaks). Other kinds treat it as
    /// [`HandlerError::Poison`], with its text as the reason.
    #[error("rejected ({}): {}", .0.status, .0.error)]
    Rejected(Rejection),
}

/// A refusal an `http` function answers with its own status ([`HandlerError::rejected`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The HTTP status (a 4xx).
    pub status: u16,
    /// What is wrong, for the caller (the answer's `error`): no values it should not see.
    pub error: String,
    /// The field at fault (the answer's `field`), when there is one.
    pub field: Option<String>,
}

impl HandlerError {
    /// A retryable error from any error (or text); the error is kept as its [`Cause`].
    pub fn retryable(error: impl Into<BoxError>) -> Self {
        Self::Retryable(Cause::new(error))
    }

    /// A poison event, with the reason.
    pub fn poison(reason: impl std::fmt::Display) -> Self {
        Self::Poison(reason.to_string())
    }

    /// A refusal answered with `status` (an `http` function; a status outside 400..=499 is
    /// answered as 422) and `error` for the caller; name the field with
    /// [`HandlerError::on_field`].
    pub fn rejected(status: u16, error: impl std::fmt::Display) -> Self {
        let status = if (400..500).contains(&status) {
            status
        } else {
            422
        };
        Self::Rejected(Rejection {
            status,
            error: error.to_string(),
            field: None,
        })
    }

    /// A [`HandlerError::Rejected`] naming the field at fault; other errors are unchanged.
    pub fn on_field(self, field: impl Into<String>) -> Self {
        match self {
            Self::Rejected(rejection) => Self::Rejected(Rejection {
                field: Some(field.into()),
                ..rejection
            }),
            other => other,
        }
    }

    /// The reason a dead letter carries for this error.
    pub fn reason(&self) -> String {
        match self {
            Self::Retryable(cause) => cause.to_string(),
            Self::Poison(reason) => reason.clone(),
            Self::Rejected(Rejection { error, field, .. }) => match field {
                Some(field) => format!("{field}: {error}"),
                None => error.clone(),
            },
        }
    }
}

/// An event the handler published through its [`crate::Context`] and that did not go out:
/// poison when publishing it can never succeed ([`PublishError::is_permanent`]), retryable
/// otherwise.
impl From<PublishError> for HandlerError {
    fn from(error: PublishError) -> Self {
        if error.is_permanent() {
            Self::Poison(error.to_string())
        } else {
            Self::retryable(error)
        }
    }
}

/// A typed event the handler wants published, before the runner adds metadata.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Draft {
    pub(crate) source: &'static str,
    pub(crate) detail_type: &'static str,
    pub(crate) version: u32,
    pub(crate) data: Result<Value, String>,
}

/// What a handler produced: events to publish and side effects to report.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Emitted {
    pub(crate) drafts: Vec<Draft>,
    pub(crate) effects: Vec<Value>,
}

impl Emitted {
    /// Nothing to publish.
    pub fn none() -> Self {
        Self::default()
    }

    /// One event to publish.
    pub fn one<E: Event>(event: E) -> Self {
        Self::none().and(event)
    }

    /// Adds an event to publish.
    pub fn and<E: Event>(mut self, event: E) -> Self {
        self.drafts.push(Draft {
            source: E::SOURCE,
            detail_type: E::DETAIL_TYPE,
            version: E::VERSION,
            data: serde_json::to_value(&event).map_err(|e| e.to_string()),
        });
        self
    }

    /// Records a side effect (a message written, a row stored) for the response and logs.
    pub fn with_effect(mut self, effect: Value) -> Self {
        self.effects.push(effect);
        self
    }

    /// Detail-types to publish, in order.
    pub fn detail_types(&self) -> Vec<&'static str> {
        self.drafts.iter().map(|d| d.detail_type).collect()
    }

    /// The payload of the `index`-th event, decoded as `E` (tests use this).
    pub fn payload<E: Event>(&self, index: usize) -> Option<E> {
        let draft = self
            .drafts
            .get(index)
            .filter(|d| d.detail_type == E::DETAIL_TYPE)?;
        serde_json::from_value(draft.data.clone().ok()?).ok()
    }

    /// Side effects recorded.
    pub fn effects(&self) -> &[Value] {
        &self.effects
    }
}

/// A function's logic: typed event in, events to emit out.
pub trait Handler<E: Event>: Send + Sync {
    /// Handles one event. Must be safe to run twice on the same event.
    fn handle(
        &self,
        event: Incoming<E>,
    ) -> impl Future<Output = Result<Emitted, HandlerError>> + Send;
}

impl<E, F, Fut> Handler<E> for F
where
    E: Event,
    F: Fn(Incoming<E>) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Emitted, HandlerError>> + Send,
{
    fn handle(
        &self,
        event: Incoming<E>,
    ) -> impl Future<Output = Result<Emitted, HandlerError>> + Send {
        self(event)
    }
}
