//! `eventrail replay --from --to [--function NAME] [--wait] [--allow-renotify]`: replays a
//! window of the deployed stack's archive onto its bus, optionally only to one function's
//! rules (`FilterArns`).
//!
//! A replayed event runs a function's side effects once more unless its idempotency record
//! still exists; the records live for the function's `idempotency.ttl-hours`. When the
//! archive keeps events longer than that TTL, a window reaching further back than the TTL
//! would notify customers again, and is refused unless `--allow-renotify` is given.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use chrono::Utc;
use clap::Args;
use eventrail_observe::replay::{self, Renotify, ReplayRequest, parse_time};

use crate::ops::{StackArgs, runtime};

/// Arguments of `eventrail replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Start of the window: RFC 3339 (`2026-11-27T10:00:00Z`), `now`, or an age such as
    /// `-90m`, `-2h`, `-1d`.
    #[arg(long, allow_hyphen_values = true)]
    from: String,
    /// End of the window, in the same forms (default: now).
    #[arg(long, allow_hyphen_values = true, default_value = "now")]
    to: String,
    /// Replay only to this function's rules (default: every rule of the bus).
    #[arg(long)]
    function: Option<String>,
    /// Show progress until the replay ends, then its outcome (exit 1 unless it completed).
    #[arg(long)]
    wait: bool,
    /// Replay a window older than a function's idempotency TTL although the archive keeps
    /// events longer: its events' idempotency records have expired, so side effects (such as
    /// emails to customers) run again.
    #[arg(long)]
    allow_renotify: bool,
    #[command(flatten)]
    stack: StackArgs,
}

impl ReplayArgs {
    /// What `--allow-renotify` asks for.
    pub fn renotify(&self) -> Renotify {
        if self.allow_renotify {
            Renotify::Allow
        } else {
            Renotify::Refuse
        }
    }
}

/// Runs `eventrail replay`.
pub fn run(args: ReplayArgs) -> Result<ExitCode> {
    let now = Utc::now();
    let request = ReplayRequest {
        from: parse_time("--from", &args.from, now)?,
        to: parse_time("--to", &args.to, now)?,
        function: args.function.clone(),
        renotify: args.renotify(),
    };
    let runtime = runtime()?;
    runtime.block_on(async {
        let (stack, project) = args.stack.connect().await?;
        let started = replay::start(&stack, &project, &request, now).await?;
        if let Some(why) = &started.renotify_warning {
            println!("warning (--allow-renotify): {why}");
        }
        let name = &started.name;
        println!(
            "replay {name}: archive {} from {} to {} -> {}",
            started.archive,
            request.from,
            request.to,
            started.destination()
        );
        if !args.wait {
            println!("started; `eventrail replay` with --wait follows it to the end");
            return Ok(ExitCode::SUCCESS);
        }
        let mut last = String::new();
        loop {
            let status = stack.replay_status(name).await?;
            let line = format!(
                "  {}{}",
                status.state,
                status
                    .last_replayed
                    .as_deref()
                    .map(|t| format!(", replayed up to {t}"))
                    .unwrap_or_default()
            );
            if line != last {
                println!("{line}");
                last = line;
            }
            if status.is_finished() {
                if let Some(reason) = &status.reason {
                    println!("  reason: {reason}");
                }
                return Ok(if status.state == "COMPLETED" {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                });
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_renotify_is_a_flag() {
        use clap::Parser;
        #[derive(Debug, Parser)]
        struct Cli {
            #[command(flatten)]
            replay: ReplayArgs,
        }
        let args = Cli::try_parse_from(["x", "--from", "-1d"]).unwrap();
        assert_eq!(args.replay.renotify(), Renotify::Refuse);
        let args = Cli::try_parse_from(["x", "--from", "-1d", "--allow-renotify"]).unwrap();
        assert_eq!(args.replay.renotify(), Renotify::Allow);
    }
}
