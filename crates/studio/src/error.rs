//! The studio's errors.

use std::path::PathBuf;

/// Why the studio could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum StudioError {
    /// The port could not be bound.
    #[error("cannot listen on 127.0.0.1:{port}")]
    Bind {
        /// The port asked for.
        port: u16,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("serving HTTP failed")]
    Serve(#[source] std::io::Error),
    /// The stack (its outputs, the tap) failed.
    #[error("{context}")]
    Stack {
        /// What the studio was doing.
        context: String,
        /// What observe said.
        #[source]
        source: eventrail_observe::ObserveError,
    },
    /// The random token could not be made.
    #[error("no random bytes for the token: {0}")]
    Random(String),
    /// The preload file could not be read.
    #[error("--preload {file}: {message}")]
    Preload {
        /// The file.
        file: PathBuf,
        /// What went wrong (the line number when a line is not an event).
        message: String,
    },
    /// The user did not confirm the tap on a prod bus (or could not be asked).
    #[error("{0}")]
    NotConfirmed(String),
    /// A signal handler could not be installed.
    #[error("listening for {signal}")]
    Signal {
        /// Which.
        signal: &'static str,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
}
