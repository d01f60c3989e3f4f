use std::fmt;

/// A business rule that a decoded event breaks: names the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ValidationError {
    /// Dotted path of the offending field inside `detail.data`, e.g. `task.steps[0].minutes`.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ValidationError {
    /// Builds an error for `field`.
    pub fn new(field: impl Into<String>, reason: impl fmt::Display) -> Self {
        Self {
            field: field.into(),
            reason: reason.to_string(),
        }
    }

    /// Prefixes the field path with `parent`, e.g. `steps[0]` + `name` -> `steps[0].name`.
    pub fn within(self, parent: &str) -> Self {
        Self {
            field: format!("{parent}.{}", self.field),
            reason: self.reason,
        }
    }
}

/// Checks what the type system cannot: non-empty ids, positive quantities, consistent totals.
pub trait Validate {
    /// Returns the first rule this value breaks.
    fn validate(&self) -> Result<(), ValidationError>;
}

/// Longest SQS FIFO `MessageGroupId` / `MessageDeduplicationId`.
pub const MAX_MESSAGE_ID_CHARS: usize = 128;

/// Fails unless `value` can be an SQS FIFO `MessageGroupId` or `MessageDeduplicationId`: 1 to
/// 128 characters, letters, digits and ASCII punctuation only. Ids that end up as such (correlation
/// ids, idempotency keys) are checked where they enter, not where SQS would refuse them.
pub fn message_id_safe(field: &str, value: &str) -> Result<(), ValidationError> {
    non_empty(field, value)?;
    if value.chars().count() > MAX_MESSAGE_ID_CHARS {
        return Err(ValidationError::new(
            field,
            format!("must be at most {MAX_MESSAGE_ID_CHARS} characters"),
        ));
    }
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation())
    {
        return Err(ValidationError::new(
            field,
            "may hold only letters, digits and ASCII punctuation (no spaces)",
        ));
    }
    Ok(())
}

/// Fails when `value` is empty or only whitespace.
pub fn non_empty(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        Err(ValidationError::new(field, "must not be empty"))
    } else {
        Ok(())
    }
}
