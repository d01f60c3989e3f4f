//! Errors of the local tooling.

use std::path::PathBuf;

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

    #[error(
        "`{command}` failed ({status}) while {doing}.\n--- last output ---\n{output}\n--- \n{hint}"
    )]
    Command {
        command: String,
        doing: String,
        status: String,
        output: String,
        hint: String,
    },

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
    },

    #[error("AWS {operation} against {endpoint} failed: {message}")]
    Aws {
        operation: String,
        endpoint: String,
        message: String,
    },

    #[error("build: {0}")]
    Build(String),

    #[error("template: {0}")]
    Template(#[from] eventrail_model::TemplateError),

    #[error("deploy of stack {stack}: {message}")]
    Deploy { stack: String, message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

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
