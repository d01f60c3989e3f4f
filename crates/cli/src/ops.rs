//! What the operating commands (`put`, `tail`, `dlq`, `replay`) share: finding the deployed
//! stack from samconfig.toml's environment and the standard AWS SDK configuration.

use anyhow::{Context, Result, bail};
use clap::Args;
use eventrail_contract::Project;
use eventrail_local::{localstack, paths};
use eventrail_model::SamConfig;
use eventrail_observe::{Connection, Stack};

/// Which deployed stack, and how to reach AWS.
#[derive(Debug, Clone, Args)]
pub struct StackArgs {
    /// samconfig.toml environment whose stack to use: dev (samconfig's `default`), prod or
    /// local. Default: $EVENTRAIL_ENV, else `local` when EVENTRAIL_ENDPOINT or
    /// AWS_ENDPOINT_URL is set, else `dev`.
    #[arg(long, global = true)]
    pub env: Option<String>,
    /// Stack name (default: the environment's `stack_name` in samconfig.toml).
    #[arg(long, global = true)]
    pub stack: Option<String>,
    /// AWS profile (default: the SDK's chain: AWS_PROFILE, then `default`).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// AWS region (default: the SDK's chain, then the environment's region in samconfig.toml).
    #[arg(long, global = true)]
    pub region: Option<String>,
}

/// The samconfig.toml table of an environment name: `dev` is samconfig's `default`, every
/// other name is its own table. Every command taking `--env` reads it this way.
pub fn samconfig_environment(name: &str) -> &str {
    match name {
        "dev" => "default",
        other => other,
    }
}

/// The endpoint given by the environment (`EVENTRAIL_ENDPOINT`, `AWS_ENDPOINT_URL`).
fn endpoint_from_env() -> Option<String> {
    localstack::endpoint_from_env().map(|(endpoint, _)| endpoint)
}

impl StackArgs {
    /// The samconfig environment name (`default` for dev).
    fn environment(&self) -> String {
        let chosen = self
            .env
            .clone()
            .or_else(|| std::env::var("EVENTRAIL_ENV").ok())
            .filter(|e| !e.trim().is_empty())
            .unwrap_or_else(|| {
                if endpoint_from_env().is_some() {
                    "local".to_owned()
                } else {
                    "dev".to_owned()
                }
            });
        samconfig_environment(&chosen).to_owned()
    }

    /// The application and its deployed stack. On the `local` environment without an
    /// endpoint in the environment, the LocalStack left running by `eventrail local up` or
    /// `local deploy` is used.
    pub async fn connect(&self) -> Result<(Stack, Project)> {
        let root = paths::repo_root()?;
        let project = Project::discover(&root)?;
        let samconfig_path = root.join("samconfig.toml");
        let samconfig = SamConfig::load(&samconfig_path)?;
        let environment = self.environment();
        let settings = samconfig.environment(&environment).with_context(|| {
            format!(
                "--env {}: pick one of samconfig.toml's environments (dev = default)",
                self.env.as_deref().unwrap_or(&environment)
            )
        })?;
        let stack_name = match (&self.stack, &settings.stack_name) {
            (Some(name), _) | (None, Some(name)) => name.clone(),
            (None, None) => bail!(
                "samconfig.toml's environment `{environment}` names no stack_name; pass --stack"
            ),
        };
        let mut endpoint = endpoint_from_env();
        if endpoint.is_none() && environment == "local" {
            match localstack::read_up_state(&root) {
                Some(state) => endpoint = Some(state.endpoint),
                None => bail!(
                    "the `local` environment needs a running LocalStack: start one with \
                     `cargo run -p eventrail -- local deploy` (it deploys the stack too), or \
                     set EVENTRAIL_ENDPOINT to yours"
                ),
            }
        }
        let connection = Connection {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint,
        };
        let stack = Stack::deployed(
            &connection,
            settings.region.as_deref(),
            &stack_name,
            &project,
        )
        .await?;
        Ok((stack, project))
    }
}

/// A runtime for one command.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}
