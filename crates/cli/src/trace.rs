//! `eventrail trace <key>`: one flow rebuilt from the functions' logs (CloudWatch Logs, on AWS
//! and LocalStack alike) and printed as a waterfall: each hop (function, event, start offset,
//! duration, result), the gap before it (time on the bus and in Lambda's queue), its
//! publishes and dead-letter sends, and where the flow stopped with the failure queue that
//! holds the event. `--json` prints the tree instead; `--otlp-json FILE` also writes every
//! span as OTLP JSON. The logic is in `eventrail_observe::trace`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use eventrail_observe::trace::{otlp_json, trace_stack, waterfall};

use crate::ops::{StackArgs, runtime};

/// Arguments of `eventrail trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// What to follow: a business key (the field the application declares as
    /// `business-key`), a correlation id, or an event id.
    key: String,
    /// Print the trace tree as JSON (hops, gaps, publishes, dead letters, where it stopped)
    /// instead of the waterfall.
    #[arg(long)]
    json: bool,
    /// Also write every span as OTLP JSON to FILE (Jaeger and otel-desktop-viewer import it).
    #[arg(long, value_name = "FILE")]
    otlp_json: Option<PathBuf>,
    /// How far back to search the logs: `30m`, `2h`, `7d`, `90s`.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_since)]
    since: Duration,
    #[command(flatten)]
    stack: StackArgs,
}

/// Runs `eventrail trace`.
pub fn run(args: TraceArgs) -> Result<ExitCode> {
    let runtime = runtime()?;
    runtime.block_on(async {
        let (stack, _project) = args.stack.connect().await?;
        let traced = trace_stack(&stack, &args.key, args.since).await?;
        if let Some(path) = &args.otlp_json {
            let document = otlp_json::export(&traced.found.spans);
            let text = serde_json::to_string_pretty(&document)?;
            std::fs::write(path, text)
                .with_context(|| format!("writing the OTLP JSON to {}", path.display()))?;
            eprintln!(
                "trace: wrote {} spans of {} trace(s) as OTLP JSON to {}",
                traced.found.spans.len(),
                traced.found.trace_ids.len(),
                path.display()
            );
        }
        if args.json {
            println!("{}", serde_json::to_string_pretty(&traced.report)?);
        } else {
            print!("{}", waterfall::render(&traced.report));
        }
        if !traced.found.malformed.is_empty() {
            eprintln!(
                "trace: {} span line(s) did not decode (a runtime of another version?), e.g. {}",
                traced.found.malformed.len(),
                traced.found.malformed[0]
            );
        }
        if traced.found.traces_left > 0 {
            eprintln!(
                "trace: {} more linked trace(s) not read (at most {} are)",
                traced.found.traces_left,
                traced.found.trace_ids.len()
            );
        }
        if !traced.found.missing_groups.is_empty() {
            eprintln!(
                "trace: no log group yet for {} (those functions never logged)",
                traced.found.missing_groups.join(", ")
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// `90s`, `30m`, `2h`, `7d` (a bare number is seconds).
fn parse_since(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration: write 90s, 30m, 2h or 7d"))?;
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "`{text}`: the unit is s, m, h or d (90s, 30m, 2h, 7d)"
            ));
        }
    };
    value
        .checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long"))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::Cli;

    #[test]
    fn since_takes_seconds_minutes_hours_and_days() {
        assert_eq!(parse_since("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_since("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_since("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_since("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_since("45"), Ok(Duration::from_secs(45)));
        assert!(parse_since("2w").unwrap_err().contains("unit"));
        assert!(parse_since("h").is_err());
    }

    #[test]
    fn the_command_line_takes_a_key_and_its_options() {
        let cli = Cli::try_parse_from([
            "eventrail",
            "trace",
            "p-1",
            "--env",
            "local",
            "--json",
            "--otlp-json",
            "t.json",
            "--since",
            "2h",
        ]);
        assert!(cli.is_ok(), "{cli:?}");
        assert!(Cli::try_parse_from(["eventrail", "trace"]).is_err());
        assert!(Cli::try_parse_from(["eventrail", "trace", "p-1", "--since", "soon"]).is_err());
    }
}
