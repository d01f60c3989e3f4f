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

/// An event that cannot be matched: not JSON, or not a JSON object.
#[derive(Debug, Error)]
pub enum EventError {
    /// The event bytes are not valid JSON, or the top level is not an object.
    #[error("event is not a valid JSON object: {0}")]
    Json(#[from] serde_json::Error),
}
