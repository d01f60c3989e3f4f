//! `eventrail deploy`: build, check, review and deploy the stack of a samconfig environment.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

/// Arguments of `eventrail deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The samconfig.toml environment to deploy.
    #[arg(long, default_value = "default")]
    env: String,
}

/// Runs `eventrail deploy`.
pub fn run(args: DeployArgs) -> Result<ExitCode> {
    anyhow::bail!("eventrail deploy --env {} is not built yet", args.env)
}
