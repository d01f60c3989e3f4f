//! An SDK client for a rare path, built on first use and kept for the process's lifetime.

use std::{
    fmt,
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{Arc, OnceLock},
};

/// A client built the first time it is needed, then shared by every later use (never built
/// per event). The runtime kit uses it for the S3 client of the failed-events bucket, which
/// only a dead letter over [`crate::INLINE_DEAD_LETTER_BYTES`] needs: building it at init
/// would cost every cold start for a path most functions never take.
///
/// Building an SDK client does not return errors, it panics on an invalid configuration; the
/// panic is caught and returned as an error naming the client, so the caller's failure path
/// (a dead letter that cannot be stored fails the invocation, with the reason) still runs.
/// A failed build is not remembered: the next use tries again.
pub struct LazyClient<C> {
    what: &'static str,
    cell: Arc<OnceLock<C>>,
    build: Arc<dyn Fn() -> C + Send + Sync>,
}

impl<C> LazyClient<C> {
    /// A client `build` makes on first use; `what` names it in errors ("the S3 client").
    pub fn new(what: &'static str, build: impl Fn() -> C + Send + Sync + 'static) -> Self {
        Self {
            what,
            cell: Arc::new(OnceLock::new()),
            build: Arc::new(build),
        }
    }

    /// A client already built.
    pub fn ready(what: &'static str, client: C) -> Self
    where
        C: Send + Sync + Clone + 'static,
    {
        let lazy = Self::new(what, {
            let client = client.clone();
            move || client.clone()
        });
        let _ = lazy.cell.set(client);
        lazy
    }

    /// Whether the client has been built.
    pub fn is_built(&self) -> bool {
        self.cell.get().is_some()
    }

    /// The client, built now if this is its first use.
    pub fn get(&self) -> Result<&C, LazyClientError> {
        if let Some(client) = self.cell.get() {
            return Ok(client);
        }
        let built = catch_unwind(AssertUnwindSafe(|| (self.build)())).map_err(|payload| {
            let reason = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            LazyClientError {
                what: self.what,
                reason,
            }
        })?;
        // Another task may have built one meanwhile: the first stored wins, this one is dropped.
        Ok(self.cell.get_or_init(|| built))
    }
}

impl<C> Clone for LazyClient<C> {
    fn clone(&self) -> Self {
        Self {
            what: self.what,
            cell: Arc::clone(&self.cell),
            build: Arc::clone(&self.build),
        }
    }
}

impl<C> fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyClient")
            .field("what", &self.what)
            .field("built", &self.is_built())
            .finish()
    }
}

/// Building a [`LazyClient`] failed (the SDK panicked on its configuration).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("building {what} failed: {reason}")]
pub struct LazyClientError {
    /// The client.
    pub what: &'static str,
    /// The SDK's panic message.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn builds_once_on_first_use_and_clones_share_it() {
        let builds = Arc::new(AtomicUsize::new(0));
        let lazy = LazyClient::new("the test client", {
            let builds = Arc::clone(&builds);
            move || builds.fetch_add(1, Ordering::SeqCst) + 100
        });
        assert!(!lazy.is_built());
        assert_eq!(
            builds.load(Ordering::SeqCst),
            0,
            "nothing is built up front"
        );
        let copy = lazy.clone();
        assert_eq!(lazy.get(), Ok(&100));
        assert_eq!(copy.get(), Ok(&100));
        assert_eq!(lazy.get(), Ok(&100));
        assert!(copy.is_built());
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_build_that_panics_is_an_error_with_the_reason_and_is_tried_again() {
        let attempts = Arc::new(AtomicUsize::new(0));
        let lazy = LazyClient::new("the test client", {
            let attempts = Arc::clone(&attempts);
            move || {
                if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("invalid client configuration: no sleep implementation");
                }
                7
            }
        });
        let error = lazy.get().unwrap_err();
        assert_eq!(error.what, "the test client");
        assert_eq!(
            error.reason,
            "invalid client configuration: no sleep implementation"
        );
        assert!(!lazy.is_built());
        assert_eq!(lazy.get(), Ok(&7), "the next use builds it again");
        assert_eq!(attempts.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_ready_client_is_never_built_again() {
        let lazy = LazyClient::ready("the test client", 3);
        assert!(lazy.is_built());
        assert_eq!(lazy.get(), Ok(&3));
    }
}
