//! Deploying a project to AWS, or to LocalStack the same way: what `eventrail build` and
//! `eventrail deploy` do. It knows the project's layout (template, samconfig, catalog) and
//! nothing of any one application.
//!
//! * [`artifacts`]: one release build of every function for the environment's architecture,
//!   each binary zipped as `bootstrap` (deterministic bytes), and which artifacts changed since
//!   the last build.
//! * [`manifest`]: the last build's record (binary -> digest of its zip) that says which
//!   artifacts changed.
//! * [`toolchain`]: the target's Rust standard library, added with rustup when missing.
//! * [`parameters`]: samconfig's parameters with the operator's on top, key by key (never the
//!   SAM CLI's replace-them-all).
//! * [`catalog_snapshot`]: the catalog a stack was deployed with, kept beside its code, the
//!   baseline of the next deploy's compatibility check.
//! * [`guided`]: `--guided`'s questions and the samconfig it saves.
//! * [`pipeline`]: the deploy in order: build, check, package, review, apply.
//! * [`review`]: the changeset and the parameters as a person reads them before confirming.
//! * [`error`]: what fails, with its cause.

pub mod artifacts;
pub mod catalog_snapshot;
pub mod error;
pub mod guided;
pub mod manifest;
pub mod parameters;
pub mod pipeline;
pub mod review;
pub mod toolchain;

pub use error::{DeployError, Result};
pub use pipeline::{
    BreakingChanges, Confirm, DeployRequest, Ending, Outcome, Review, Target, deploy,
};
