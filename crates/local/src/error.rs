//! Errors of the local tooling.

use std::path::PathBuf;

/// A cause of any type: an SDK's error, with its own chain of causes.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong while installing tools, running LocalStack or deploying.
/// Each message names the place and says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{0}")]
    Command(Box<CommandFailure>),

    #[error(
        "cannot find the eventrail repository root (a Cargo.toml with [workspace] next to crates/local) above {start}; run from inside the repository or set EVENTRAIL_ROOT"
    )]
    RepoRootNotFound { start: PathBuf },

    #[error("LocalStack: {message} (log: {log})")]
    LocalStack { message: String, log: PathBuf },

    #[error("{0}")]
    Config(String),

    #[error(
        "refused to stop pid {pid}: it is not the LocalStack `eventrail local up` recorded at \
         {endpoint} ({reason}); stop it yourself if it is yours, and remove the stale record \
         .eventrail/localstack/up.json"
    )]
    NotOurLocalStack {
        pid: u32,
        endpoint: String,
        reason: String,
        /// Why the process could not be examined, when that is the reason.
        #[source]
        source: Option<std::io::Error>,
    },

    #[error(
        "the LocalStack at {endpoint} does not answer {endpoint}/_localstack/health; start it \
         or unset EVENTRAIL_ENDPOINT/AWS_ENDPOINT_URL to let eventrail start its own"
    )]
    Unreachable {
        endpoint: String,
        #[source]
        source: Box<Error>,
    },

    #[error("AWS {operation} against {endpoint} failed")]
    Aws {
        operation: String,
        endpoint: String,
        #[source]
        source: Cause,
    },

    #[error("{request}")]
    Http {
        /// The request, e.g. `GET http://127.0.0.1:4566/_localstack/health`.
        request: String,
        #[source]
        source: Box<ureq::Error>,
    },

    #[error("{what}: not the JSON expected")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("build: {0}")]
    Build(String),

    #[error("build: zipping {path}")]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },

    #[error("build: the build task stopped")]
    BuildTask(#[source] tokio::task::JoinError),

    /// Reading the template or samconfig (boxed: it is the largest cause by far).
    #[error(transparent)]
    Template(Box<eventrail_model::TemplateError>),

    #[error("deploy of stack {stack}: {message}")]
    Deploy { stack: String, message: String },
}

/// A command that exited with a failure, with the end of its output.
#[derive(Debug, thiserror::Error)]
#[error(
    "`{command}` failed ({status}) while {doing}.\n--- last output ---\n{output}\n--- \n{hint}"
)]
pub struct CommandFailure {
    pub command: String,
    pub doing: String,
    pub status: String,
    pub output: String,
    pub hint: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<eventrail_model::TemplateError> for Error {
    fn from(error: eventrail_model::TemplateError) -> Self {
        Self::Template(Box::new(error))
    }
}

/// Attach a description of what was being done to an I/O error.
pub(crate) trait IoContext<T> {
    fn io_context(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn io_context(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Io {
            context: context(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small enough for `Result<_, Error>` to stay cheap (clippy's `result_large_err` asks for
    /// less than 128 bytes): a large cause goes in a box.
    #[test]
    fn an_error_stays_small() {
        assert!(
            std::mem::size_of::<Error>() < 128,
            "{}",
            std::mem::size_of::<Error>()
        );
    }
}
