//! One broken invariant, naming the function or resource at fault.

use std::fmt;

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The function at fault, as `binary (LogicalId)`, when the problem belongs to one.
    pub function: Option<String>,
    /// Logical id of the resource where the problem is (function, rule, queue, ...).
    pub resource: String,
    /// What is wrong and what to add.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.function {
            Some(func) => write!(f, "function {func}: {}", self.message),
            None => write!(f, "resource {}: {}", self.resource, self.message),
        }
    }
}
