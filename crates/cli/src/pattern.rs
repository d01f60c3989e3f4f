//! `eventrail pattern`: test one pattern against one event, explain why it matches or
//! not, or run a conformance corpus.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use eventrail_pattern::{EventError, Pattern};
use serde_json::Value;
use serde_json::value::RawValue;

/// Exit code when the input (pattern, event or file) is invalid.
const INVALID_INPUT: u8 = 2;

/// `eventrail pattern ...`
#[derive(Debug, Subcommand)]
pub enum PatternCommand {
    /// Print `match` (exit 0) or `no match` (exit 1); exit 2 with the reason on stderr
    /// when the pattern or the event is invalid.
    Test(TestArgs),
    /// Say why the pattern matches the event (each field's value and the condition it
    /// meets) or why not (per alternative, the first field and operator that failed, e.g.
    /// `detail.total_cents: 4000 is not > 100000`); exit 0 on a match, 1 on no match, 2
    /// with the reason on stderr when the pattern or the event is invalid.
    Explain(TestArgs),
    /// Run a JSONL corpus of {"name", "expect": "match"|"no_match"|"invalid", "pattern",
    /// "event"} cases; print each failure and a final `N passed, M failed` line; exit 0
    /// only when nothing failed. `--exceptions` names cases whose expected outcome
    /// differs from the corpus' label, each with its reason.
    Conformance(ConformanceArgs),
}

/// Arguments of `eventrail pattern test` and `eventrail pattern explain`.
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
    /// JSON file {"exceptions": [{"case", "expect", "reason"}]}: cases of the corpus
    /// where EventBridge is held to differ from the corpus' label (a bug of the labeller).
    #[arg(long, value_name = "FILE")]
    exceptions: Option<PathBuf>,
}

/// One listed exception: the case, the outcome expected instead of the label, and why.
#[derive(Debug, serde::Deserialize)]
struct Exception {
    case: String,
    expect: String,
    reason: String,
}

#[derive(Debug, serde::Deserialize)]
struct ExceptionFile {
    exceptions: Vec<Exception>,
}

fn read_exceptions(path: &std::path::Path) -> Result<HashMap<String, Exception>> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read exceptions file {}", path.display()))?;
    let file: ExceptionFile = serde_json::from_str(&text).with_context(|| {
        format!(
            "exceptions file {} is not {{\"exceptions\": [{{\"case\", \"expect\", \"reason\"}}]}}",
            path.display()
        )
    })?;
    let mut by_case = HashMap::new();
    for exception in file.exceptions {
        anyhow::ensure!(
            matches!(exception.expect.as_str(), "match" | "no_match" | "invalid"),
            "{}: exception for {} expects {:?}; use match, no_match or invalid",
            path.display(),
            exception.case,
            exception.expect
        );
        anyhow::ensure!(
            !exception.reason.trim().is_empty(),
            "{}: exception for {} has no reason",
            path.display(),
            exception.case
        );
        by_case.insert(exception.case.clone(), exception);
    }
    Ok(by_case)
}

/// Runs a `pattern` subcommand and returns the exit code.
pub fn run(command: PatternCommand) -> Result<ExitCode> {
    match command {
        PatternCommand::Test(args) => Ok(test(&args)),
        PatternCommand::Explain(args) => Ok(explain(&args)),
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
    let (pattern, event_text) = read_pattern_and_event(args)?;
    verdict(&pattern, &event_text).context("invalid --event")
}

/// The pattern, and the event's text once checked to be a JSON object.
fn read_pattern_and_event(args: &TestArgs) -> Result<(Pattern, String)> {
    let pattern_text = inline_or_file(&args.pattern).context("reading --pattern")?;
    let event_text = inline_or_file(&args.event).context("reading --event")?;
    let pattern = Pattern::parse(&pattern_text).context("invalid --pattern")?;
    let event: Value = serde_json::from_str(&event_text).context("invalid --event: not JSON")?;
    anyhow::ensure!(
        event.is_object(),
        "invalid --event: an event must be a JSON object"
    );
    Ok((pattern, event_text))
}

/// `eventrail pattern explain`: the explanation on stdout, the verdict in the exit code
/// (as `pattern test`'s). It reads the event's text as `verdict` does.
fn explain(args: &TestArgs) -> ExitCode {
    let explained = read_pattern_and_event(args).and_then(|(pattern, event_text)| {
        pattern
            .explain_json(event_text.as_bytes())
            .context("invalid --event")
    });
    match explained {
        Ok(explanation) => {
            print!("{explanation}");
            if explanation.matched() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(INVALID_INPUT)
        }
    }
}

/// The verdict of `pattern` on an event given as JSON text: the engine's one reading of
/// event text (`matches_json`, the byte reader), used by `pattern test`, `pattern
/// conformance`, `routes` and `put` alike (`Router::routes_json` is the same reader). The
/// text, not a parsed value: EventBridge compares a number written more precisely than a
/// double by its text, and a parsed value keeps only the double.
pub(crate) fn verdict(pattern: &Pattern, event: &str) -> Result<bool, EventError> {
    pattern.matches_json(event.as_bytes())
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
    let mut exceptions = match &args.exceptions {
        Some(path) => read_exceptions(path)?,
        None => HashMap::new(),
    };
    let listed = exceptions.len();
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut out = io::stdout().lock();
    for (number, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match run_case(line, &mut exceptions) {
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
    for case in exceptions.keys() {
        failed += 1;
        writeln!(out, "FAIL exception for {case}: no such case in the corpus")?;
    }
    if listed == 0 {
        writeln!(out, "{passed} passed, {failed} failed")?;
    } else {
        writeln!(
            out,
            "{passed} passed, {failed} failed ({listed} listed exceptions)"
        )?;
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One corpus line; the pattern and the event stay text, so that the engine sees each
/// number as written.
#[derive(Debug, serde::Deserialize)]
struct Case<'a> {
    name: String,
    expect: String,
    #[serde(borrow)]
    pattern: &'a RawValue,
    #[serde(borrow)]
    event: &'a RawValue,
}

/// Runs one case; `Some(description)` when it fails. A listed exception replaces the
/// label (and is used up).
fn run_case(line: &str, exceptions: &mut HashMap<String, Exception>) -> Result<Option<String>> {
    let case: Case<'_> = serde_json::from_str(line)
        .context("not JSON with \"name\", \"expect\", \"pattern\" and \"event\"")?;
    let exception = exceptions.remove(&case.name);
    let expected = exception
        .as_ref()
        .map_or(case.expect.as_str(), |e| &e.expect);
    anyhow::ensure!(
        matches!(expected, "match" | "no_match" | "invalid"),
        "\"expect\" must be match, no_match or invalid, found {expected:?}"
    );
    let actual = match Pattern::parse(case.pattern.get()) {
        Err(error) => Outcome::Invalid(error.to_string()),
        Ok(p) => match verdict(&p, case.event.get()) {
            Ok(true) => Outcome::Match,
            Ok(false) => Outcome::NoMatch,
            Err(error) => anyhow::bail!("{}: event: {error}", case.name),
        },
    };
    let name = &case.name;
    Ok((actual.label() != expected).then(|| match &exception {
        Some(e) => format!(
            "{name}: expected {expected} (listed exception: {}), got {}",
            e.reason,
            actual.describe()
        ),
        None => format!("{name}: expected {expected}, got {}", actual.describe()),
    }))
}
