//! [`Cause`]: the error behind a failure, kept as the typed error it was, not flattened to a
//! string.

use std::{error::Error, fmt, sync::Arc};

/// Any error a cause can be made from: every `std::error::Error + Send + Sync`, and text
/// (`String`, `&str`) for a cause that has no error type of its own.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// The error behind a failure ([`crate::HandlerError::Retryable`], a
/// [`crate::TransportError`]), kept typed: [`Cause::downcast_ref`] gets it back (an SDK error, an
/// I/O error). Shared, so a failure that applies to several events (one `PutEvents` call for
/// a batch) is cloned cheaply.
///
/// Its `Display` is the whole chain of the error and its sources, joined by `": "`, the text
/// logs, Lambda's error answer and dead letters show ("dispatch failure: io error: connection
/// refused" rather than the SDK's bare "dispatch failure"); `Error::source` is therefore
/// `None`, so a reporter that walks sources does not repeat it. Two causes are equal when
/// they read the same.
#[derive(Clone)]
pub struct Cause(Arc<dyn Error + Send + Sync + 'static>);

impl Cause {
    /// A cause from an error (or text).
    pub fn new(error: impl Into<BoxError>) -> Self {
        Self(Arc::from(error.into()))
    }

    /// The original error.
    pub fn error(&self) -> &(dyn Error + Send + Sync + 'static) {
        self.0.as_ref()
    }

    /// The original error, if it is a `T`.
    pub fn downcast_ref<T: Error + 'static>(&self) -> Option<&T> {
        self.0.downcast_ref::<T>()
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(source) = next {
            write!(f, ": {source}")?;
            next = source.source();
        }
        Ok(())
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Error for Cause {}

impl PartialEq for Cause {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for Cause {}

impl From<String> for Cause {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}

impl From<&str> for Cause {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("dispatch failure")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_text_is_the_whole_chain_and_the_error_stays_typed() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let cause = Cause::new(Outer(io));
        assert_eq!(cause.to_string(), "dispatch failure: connection refused");
        let outer = cause.downcast_ref::<Outer>().map(|o| o.0.kind());
        assert_eq!(outer, Some(std::io::ErrorKind::ConnectionRefused));
        assert!(cause.source().is_none(), "the chain is in the text once");
        assert_eq!(cause, Cause::from("dispatch failure: connection refused"));
        assert!(cause.downcast_ref::<std::fmt::Error>().is_none());
    }
}
