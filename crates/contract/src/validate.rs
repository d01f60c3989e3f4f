use std::fmt;

/// A business rule that a decoded event breaks: names the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ValidationError {
    /// Dotted path of the offending field inside `detail.data`, e.g. `order.items[0].quantity`.
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

    /// Prefixes the field path with `parent`, e.g. `items[0]` + `sku` -> `items[0].sku`.
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

/// Fails when `value` is empty or only whitespace.
pub fn non_empty(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        Err(ValidationError::new(field, "must not be empty"))
    } else {
        Ok(())
    }
}
