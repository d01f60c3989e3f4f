//! `eventrail replay --from --to [--function NAME] [--wait]`: replays a window of the deployed
//! stack's archive onto its bus, optionally only to one function's rules (`FilterArns`).

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::Args;

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
    #[command(flatten)]
    stack: StackArgs,
}

/// A time as the options take it.
pub fn parse_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let text = text.trim();
    if text == "now" {
        return Ok(now);
    }
    if let Some(age) = text.strip_prefix('-') {
        let (number, unit) =
            age.split_at(age.find(|c: char| !c.is_ascii_digit()).unwrap_or(age.len()));
        let number: i64 = number
            .parse()
            .with_context(|| format!("`{text}`: expected a number before the unit"))?;
        let seconds = match unit {
            "s" => number,
            "m" => number * 60,
            "h" => number * 3600,
            "d" => number * 86_400,
            _ => bail!("`{text}`: the unit is one of s, m, h, d"),
        };
        return Ok(now - chrono::Duration::seconds(seconds));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .with_context(|| {
            format!(
                "`{text}` is not a time: use RFC 3339 (2026-11-27T10:00:00Z), now, or -90m/-2h/-1d"
            )
        })
}

/// Runs `eventrail replay`.
pub fn run(args: ReplayArgs) -> Result<ExitCode> {
    let now = Utc::now();
    let from = parse_time(&args.from, now).context("--from")?;
    let to = parse_time(&args.to, now).context("--to")?;
    if from >= to {
        bail!("--from ({from}) must be before --to ({to})");
    }
    let runtime = runtime()?;
    runtime.block_on(async {
        let (stack, _) = args.stack.connect().await?;
        let filter = match &args.function {
            Some(function) => {
                stack.outputs.declared_function(function)?;
                stack.rule_arns_of(function).await?
            }
            None => Vec::new(),
        };
        let name = format!(
            "eventrail-replay-{}-{}",
            now.format("%Y%m%d%H%M%S"),
            &uuid_suffix()
        );
        stack
            .start_replay(&name, SystemTime::from(from), SystemTime::from(to), &filter)
            .await?;
        println!(
            "replay {name}: archive {} from {from} to {to} -> {}",
            stack.outputs.archive_name().unwrap_or("?"),
            if filter.is_empty() {
                "every rule of the bus".to_owned()
            } else {
                format!("rules {}", filter.join(", "))
            }
        );
        if !filter.is_empty() && !stack.clients.endpoint.is_empty() {
            println!(
                "note: LocalStack ignores FilterArns; there the replay reaches every rule of the bus"
            );
        }
        if !args.wait {
            println!("started; `eventrail replay` with --wait follows it to the end");
            return Ok(ExitCode::SUCCESS);
        }
        let mut last = String::new();
        loop {
            let status = stack.replay_status(&name).await?;
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

fn uuid_suffix() -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{:04x}", (now ^ std::process::id()) & 0xffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_now_or_an_age() {
        let now = DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_time("now", now).unwrap(), now);
        assert_eq!(
            parse_time("-90m", now).unwrap().to_rfc3339(),
            "2026-11-27T10:30:00+00:00"
        );
        assert_eq!(
            parse_time("2026-11-27T11:00:00+01:00", now)
                .unwrap()
                .to_rfc3339(),
            "2026-11-27T10:00:00+00:00"
        );
        assert!(parse_time("-3w", now).is_err());
        assert!(parse_time("yesterday", now).is_err());
    }
}
