//! `eventrail studio`: the deployed stack in a browser. The command finds the stack (as
//! `tail` does) and the application, then runs `eventrail_studio`, which prints
//! `studio: http://127.0.0.1:<port>/?token=<token>` once it serves, and removes its tap on
//! Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use eventrail_local::localstack;
use eventrail_model::System;
use eventrail_studio::{Confirm, DEFAULT_KEEP, Options, Personal, WriteRequest};

use crate::ops::{StackArgs, runtime};

/// Arguments of `eventrail studio`.
#[derive(Debug, Args)]
pub struct StudioArgs {
    /// Port on 127.0.0.1 (0: any free port; the printed URL names it).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// How many events the studio keeps in memory (the oldest go first).
    #[arg(long, default_value_t = DEFAULT_KEEP)]
    keep: usize,
    /// Allow put, redrive and replay on prod (read-only there otherwise).
    #[arg(long)]
    allow_writes: bool,
    /// Show the fields the catalog marks personal (masked otherwise).
    #[arg(long)]
    show_personal: bool,
    /// Create the tap on a prod bus without asking.
    #[arg(long)]
    yes: bool,
    /// The project's root (default: found from the current folder).
    #[arg(long)]
    root: Option<PathBuf>,
    /// JSON lines of EventBridge events to load into the store before the tap starts
    /// (benchmarks).
    #[arg(long, hide = true)]
    preload: Option<PathBuf>,
    #[command(flatten)]
    stack: StackArgs,
}

/// The environment's name as shown: `--env`, else $EVENTRAIL_ENV, else `local` with an
/// endpoint in the environment, else `dev` (what `StackArgs` picks).
fn environment_name(args: &StackArgs) -> String {
    args.env
        .clone()
        .or_else(|| std::env::var("EVENTRAIL_ENV").ok())
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| {
            if localstack::endpoint_from_env().is_some() {
                "local".to_owned()
            } else {
                "dev".to_owned()
            }
        })
}

/// Runs `eventrail studio`.
pub fn run(args: StudioArgs) -> Result<ExitCode> {
    if let Some(root) = &args.root {
        std::env::set_current_dir(root)
            .with_context(|| format!("--root {}: cannot go there", root.display()))?;
    }
    let runtime = runtime()?;
    runtime.block_on(async {
        let (stack, project) = args.stack.connect().await?;
        let system = System::load(&project.root).context("reading the application")?;
        let options = Options {
            env: environment_name(&args.stack),
            stack_name: stack
                .outputs
                .stack_name
                .clone()
                .or_else(|| args.stack.stack.clone())
                .unwrap_or_default(),
            port: args.port,
            keep: args.keep,
            writes: if args.allow_writes {
                WriteRequest::Allow
            } else {
                WriteRequest::Default
            },
            personal: if args.show_personal {
                Personal::Shown
            } else {
                Personal::Masked
            },
            confirm: if args.yes { Confirm::Yes } else { Confirm::Ask },
            preload: args.preload.clone(),
        };
        eventrail_studio::run(options, stack, system).await?;
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use crate::Cli;

    #[test]
    fn takes_the_studio_options() {
        assert!(
            Cli::try_parse_from([
                "eventrail",
                "studio",
                "--env",
                "prod",
                "--port",
                "8765",
                "--keep",
                "500",
                "--allow-writes",
                "--show-personal",
                "--yes",
                "--preload",
                "events.jsonl",
            ])
            .is_ok()
        );
        assert!(Cli::try_parse_from(["eventrail", "studio", "--port", "70000"]).is_err());
    }
}
