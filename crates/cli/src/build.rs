//! `eventrail build`: every function's release artifact for an environment's architecture.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

/// Arguments of `eventrail build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The samconfig.toml environment whose `Architecture` parameter to build for.
    #[arg(long, default_value = "default")]
    env: String,
}

/// Runs `eventrail build`.
pub fn run(args: BuildArgs) -> Result<ExitCode> {
    anyhow::bail!("eventrail build --env {} is not built yet", args.env)
}
