//! What a build or a deploy can fail on, each with its cause kept.

use crate::artifacts::ArtifactError;
use crate::catalog_snapshot::SnapshotError;
use crate::parameters::BadOverride;

/// A deploy's failure.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// LocalStack, S3 or CloudFormation (the stack's failure report is in the message).
    #[error(transparent)]
    Local(#[from] eventrail_local::Error),
    /// The template, samconfig.toml or the project.
    #[error(transparent)]
    Model(#[from] eventrail_model::TemplateError),
    /// The project's declarations or catalog.
    #[error(transparent)]
    System(#[from] eventrail_model::SystemError),
    /// The release build.
    #[error(transparent)]
    Artifacts(#[from] ArtifactError),
    /// The deployed stack's catalog snapshot.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The compatibility check.
    #[error("checking the catalog against the deployed stack's: {0}")]
    Compat(#[from] eventrail_check::compat::CompatError),
    /// An operator's parameter.
    #[error(transparent)]
    Override(#[from] BadOverride),
    /// A breaking event change, not allowed.
    #[error(
        "refused: breaking event changes against the catalog stack {stack} was deployed with:\n{events}\n\
         A consumer still deployed, or an archived event replayed, can fail on them. Make the change \
         compatible (see docs/checking.md), or deploy anyway with --allow-breaking."
    )]
    Breaking { stack: String, events: String },
    /// An AWS call outside the stack.
    #[error("{operation}: {source}")]
    Aws {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The build thread.
    #[error("the build task failed: {source}")]
    BuildTask {
        #[source]
        source: tokio::task::JoinError,
    },
}

pub type Result<T, E = DeployError> = std::result::Result<T, E>;
