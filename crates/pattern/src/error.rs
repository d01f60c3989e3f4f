//! Error types of the pattern engine.

use thiserror::Error;

/// A pattern that EventBridge would reject, or that is not JSON at all.
///
/// The message names the place in the pattern (a dotted field path such as
/// `detail.total`) and what is wrong there.
#[derive(Debug, Error)]
pub enum PatternError {
    /// The pattern text is not valid JSON.
    #[error("pattern is not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// The pattern is JSON but breaks a rule of the EventBridge pattern language.
    #[error("{path}: {reason}")]
    Invalid {
        /// Dotted path of the offending field, or `<root>` for the pattern itself.
        path: String,
        /// What is wrong and what is expected instead.
        reason: String,
    },
}

impl PatternError {
    pub(crate) fn invalid(path: &str, reason: impl Into<String>) -> Self {
        let path = if path.is_empty() { "<root>" } else { path };
        Self::Invalid {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }
}

/// An event that cannot be matched: not JSON, not a JSON object, or past a limit of the
/// engine (see the limits in the crate documentation).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EventError {
    /// The event bytes are not valid JSON, or the top level is not an object (also: nested
    /// more than 128 levels deep, the JSON reader's limit).
    #[error("event is not a valid JSON object: {0}")]
    Json(#[from] serde_json::Error),
    /// A parsed event nests objects and arrays deeper than the engine reads.
    #[error(
        "event nests objects and arrays more than {limit} levels deep, past the pattern engine's limit; flatten the event (EventBridge events are JSON of at most 256 KB)"
    )]
    TooDeep {
        /// The deepest nesting read.
        limit: usize,
    },
    /// Matching the event needed more steps than the machine's step limit. Fields of one
    /// rule that sit in several large arrays of the event (under the same path, through
    /// dotted keys or repeated keys) multiply the element combinations to try.
    #[error(
        "matching the event needed more than {limit} steps (fields of one rule spread over several large arrays of the event multiply the element combinations); keep each rule's array fields in one array, send smaller arrays, or raise the limit with RuleMachine::set_step_limit"
    )]
    TooComplex {
        /// The step limit in force.
        limit: u64,
    },
}
