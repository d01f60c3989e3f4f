//! `eventrail pattern`: test one pattern against one event, or run a conformance corpus.

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use eventrail_pattern::Pattern;
use serde_json::Value;

/// Exit code when the input (pattern, event or file) is invalid.
const INVALID_INPUT: u8 = 2;

/// `eventrail pattern ...`
#[derive(Debug, Subcommand)]
pub enum PatternCommand {
    /// Print `match` (exit 0) or `no match` (exit 1); exit 2 with the reason on stderr
    /// when the pattern or the event is invalid.
    Test(TestArgs),
    /// Run a JSONL corpus of {"name", "expect": "match"|"no_match"|"invalid", "pattern",
    /// "event"} cases; print each failure and a final `N passed, M failed` line; exit 0
    /// only when nothing failed.
    Conformance(ConformanceArgs),
}

/// Arguments of `eventrail pattern test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The event pattern: JSON text, or @path to a file holding it.
    #[arg(long, value_name = "JSON|@FILE")]
    pattern: String,
    /// The event: JSON text, or @path to a file holding it.
    #[arg(long, value_name = "JSON|@FILE")]
    event: String,
}

/// Arguments of `eventrail pattern conformance`.
#[derive(Debug, Args)]
pub struct ConformanceArgs {
    /// JSONL file with one case per line.
    file: PathBuf,
}

/// Runs a `pattern` subcommand and returns the exit code.
pub fn run(command: PatternCommand) -> Result<ExitCode> {
    match command {
        PatternCommand::Test(args) => Ok(test(&args)),
        PatternCommand::Conformance(args) => conformance(&args),
    }
}

fn test(args: &TestArgs) -> ExitCode {
    match test_outcome(args) {
        Ok(true) => {
            println!("match");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            println!("no match");
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(INVALID_INPUT)
        }
    }
}

fn test_outcome(args: &TestArgs) -> Result<bool> {
    let pattern_text = inline_or_file(&args.pattern).context("reading --pattern")?;
    let event_text = inline_or_file(&args.event).context("reading --event")?;
    let pattern = Pattern::parse(&pattern_text).context("invalid --pattern")?;
    let event: Value = serde_json::from_str(&event_text).context("invalid --event: not JSON")?;
    anyhow::ensure!(
        event.is_object(),
        "invalid --event: an event must be a JSON object"
    );
    Ok(pattern.matches(&event))
}

/// `@path` reads the file; anything else is the JSON itself.
fn inline_or_file(argument: &str) -> Result<String> {
    match argument.strip_prefix('@') {
        Some(path) => fs::read_to_string(path).with_context(|| format!("cannot read file {path}")),
        None => Ok(argument.to_owned()),
    }
}

/// What a pattern did with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Match,
    NoMatch,
    Invalid(String),
}

impl Outcome {
    fn label(&self) -> &str {
        match self {
            Outcome::Match => "match",
            Outcome::NoMatch => "no_match",
            Outcome::Invalid(_) => "invalid",
        }
    }

    fn describe(&self) -> String {
        match self {
            Outcome::Invalid(reason) => format!("invalid ({reason})"),
            other => other.label().to_owned(),
        }
    }
}

fn conformance(args: &ConformanceArgs) -> Result<ExitCode> {
    let text = fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read conformance file {}", args.file.display()))?;
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut out = io::stdout().lock();
    for (number, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match run_case(line) {
            Ok(None) => passed += 1,
            Ok(Some(failure)) => {
                failed += 1;
                writeln!(out, "FAIL {failure}")?;
            }
            Err(error) => {
                failed += 1;
                writeln!(out, "FAIL line {}: malformed case: {error:#}", number + 1)?;
            }
        }
    }
    writeln!(out, "{passed} passed, {failed} failed")?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Runs one case; `Some(description)` when it fails.
fn run_case(line: &str) -> Result<Option<String>> {
    let case: Value = serde_json::from_str(line).context("not JSON")?;
    let name = case
        .get("name")
        .and_then(Value::as_str)
        .context("missing \"name\"")?;
    let expected = case
        .get("expect")
        .and_then(Value::as_str)
        .context("missing \"expect\"")?;
    anyhow::ensure!(
        matches!(expected, "match" | "no_match" | "invalid"),
        "\"expect\" must be match, no_match or invalid, found {expected:?}"
    );
    let pattern = case.get("pattern").context("missing \"pattern\"")?;
    let event = case.get("event").context("missing \"event\"")?;
    let actual = match Pattern::from_value(pattern) {
        Err(error) => Outcome::Invalid(error.to_string()),
        Ok(p) if p.matches(event) => Outcome::Match,
        Ok(_) => Outcome::NoMatch,
    };
    Ok((actual.label() != expected)
        .then(|| format!("{name}: expected {expected}, got {}", actual.describe())))
}
