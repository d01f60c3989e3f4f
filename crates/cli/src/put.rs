//! `eventrail put <FILE|->`: put events on the deployed stack's bus, checked against the
//! catalog first, showing which functions each will reach and PutEvents' answer per entry.
//! A command sample (not an event: no `detail`) is sent to the function that declares the
//! command, as a direct invoke, and its answer is printed.

use std::io::Read as _;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use eventrail_contract::Project;
use eventrail_observe::put::{PutDocument, PutOverrides, functions_reached};
use eventrail_observe::{CatalogCheck, Router, Stack};
use serde_json::Value;

use crate::ops::{StackArgs, runtime};

/// Arguments of `eventrail put`.
#[derive(Debug, Args)]
pub struct PutArgs {
    /// A JSON file (or `-` for standard input): a full EventBridge envelope, a list of them,
    /// an event's `detail` (with --detail-type), or a command sample.
    file: String,
    /// The detail-type: overrides the envelope's, or makes the file an event's `detail`.
    #[arg(long)]
    detail_type: Option<String>,
    /// The source (default: the envelope's, else the catalog's for the detail-type).
    #[arg(long)]
    source: Option<String>,
    /// The command a non-event file is (default: the application's only declared command).
    #[arg(long)]
    command: Option<String>,
    /// Send without checking against the catalog.
    #[arg(long)]
    no_validate: bool,
    #[command(flatten)]
    stack: StackArgs,
}

/// Runs `eventrail put`.
pub fn run(args: PutArgs) -> Result<ExitCode> {
    let text = if args.file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading standard input")?;
        text
    } else {
        std::fs::read_to_string(&args.file).with_context(|| format!("reading {}", args.file))?
    };
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", args.file))?;
    let root = eventrail_local::paths::repo_root()?;
    let project = Project::discover(&root)?;
    let catalog = CatalogCheck::load(&project)?;
    let overrides = PutOverrides {
        detail_type: args.detail_type.clone(),
        source: args.source.clone(),
        command: args.command.clone(),
    };
    let document = PutDocument::classify(value, &overrides, &project, &catalog)
        .with_context(|| args.file.clone())?;

    if !args.no_validate {
        let problems = document.problems(&project, &catalog)?;
        if !problems.is_empty() {
            eprintln!("{}: refused, nothing was sent:", args.file);
            for problem in problems {
                eprintln!("  {problem}");
            }
            eprintln!("(fix the event, or --no-validate to send it anyway)");
            return Ok(ExitCode::from(1));
        }
    }

    let runtime = runtime()?;
    runtime.block_on(async {
        let (stack, _) = args.stack.connect().await?;
        match document {
            PutDocument::Events(events) => put_events(&stack, &project, &events).await,
            PutDocument::Command {
                name,
                function,
                body,
            } => {
                println!("{name} -> function {function} (direct invoke)");
                let answer = stack.invoke(&function, &body).await?;
                println!("{}", serde_json::to_string_pretty(&answer)?);
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

async fn put_events(stack: &Stack, project: &Project, events: &[Value]) -> Result<ExitCode> {
    let router = Router::load(project.template_path()).ok();
    let results = stack.put_envelopes(events).await?;
    let mut failed = 0;
    for (index, (event, result)) in events.iter().zip(&results).enumerate() {
        let name = event
            .get("detail-type")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let reaches = match &router {
            Some(router) => {
                let functions = functions_reached(router, event);
                if functions.is_empty() {
                    "no function".to_owned()
                } else {
                    functions.join(", ")
                }
            }
            None => "? (infra/template.yaml unreadable)".to_owned(),
        };
        match result {
            Ok(id) => {
                println!("entry {index}: {name} accepted, event id {id} -> reaches {reaches}")
            }
            Err(error) => {
                failed += 1;
                println!("entry {index}: {name} FAILED: {error}");
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
