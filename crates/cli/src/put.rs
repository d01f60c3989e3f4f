//! `eventrail put <FILE|->`: put events on the deployed stack's bus, checked against the
//! catalog first, showing which functions each will reach and PutEvents' answer per entry.
//! A command sample (not an event: no `detail`) is sent to the function that declares the
//! command, as a direct invoke, and its answer is printed.

use std::io::Read as _;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use eventrail_contract::{Invoke, Project};
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

/// What the file turned out to be.
enum Document {
    Events(Vec<Value>),
    Command {
        name: String,
        function: String,
        body: Value,
    },
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
    let document = classify(&args, value, &project, &catalog)?;

    if !args.no_validate {
        let problems = match &document {
            Document::Events(events) => events
                .iter()
                .enumerate()
                .filter_map(|(i, e)| catalog.check(e).err().map(|p| format!("entry {i}: {p}")))
                .collect::<Vec<_>>(),
            Document::Command { name, body, .. } => check_command(&project, name, body)?,
        };
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
            Document::Events(events) => put_events(&stack, &project, &events).await,
            Document::Command {
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

fn classify(
    args: &PutArgs,
    value: Value,
    project: &Project,
    catalog: &CatalogCheck,
) -> Result<Document> {
    let complete = |mut event: Value| -> Result<Value> {
        let Some(object) = event.as_object_mut() else {
            bail!("{}: every entry must be a JSON object", args.file);
        };
        if let Some(detail_type) = &args.detail_type {
            object.insert("detail-type".into(), detail_type.clone().into());
        }
        if let Some(source) = &args.source {
            object.insert("source".into(), source.clone().into());
        }
        if !object.contains_key("source")
            && let Some(known) = object
                .get("detail-type")
                .and_then(Value::as_str)
                .and_then(|t| catalog.index().event(t))
        {
            object.insert("source".into(), known.source.clone().into());
        }
        Ok(event)
    };
    if let Value::Array(items) = value {
        if items.is_empty() || items.len() > 10 {
            bail!(
                "{}: a list holds 1 to 10 events (one PutEvents call); it has {}",
                args.file,
                items.len()
            );
        }
        return Ok(Document::Events(
            items.into_iter().map(complete).collect::<Result<_>>()?,
        ));
    }
    if value.get("detail").is_some() {
        return Ok(Document::Events(vec![complete(value)?]));
    }
    if args.detail_type.is_some() {
        let event = serde_json::json!({"detail": value});
        return Ok(Document::Events(vec![complete(event)?]));
    }
    // Not an event: a command for a directly invoked function.
    let producers: Vec<(String, String)> = project
        .functions()?
        .into_iter()
        .filter(|f| f.declaration.invoke == Invoke::Direct)
        .flat_map(|f| {
            f.declaration
                .commands
                .iter()
                .map(|c| (c.clone(), f.name.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let chosen = match &args.command {
        Some(name) => producers.iter().find(|(c, _)| c == name),
        None if producers.len() == 1 => producers.first(),
        None => None,
    };
    match chosen {
        Some((name, function)) => Ok(Document::Command {
            name: name.clone(),
            function: function.clone(),
            body: value,
        }),
        None => bail!(
            "{}: not an EventBridge event (no `detail`). Give --detail-type (and --source) to \
             send it as an event's detail, or --command with one of the declared commands: {}",
            args.file,
            if producers.is_empty() {
                "none".to_owned()
            } else {
                producers
                    .iter()
                    .map(|(c, f)| format!("{c} ({f})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
    }
}

/// A command's schema, when the catalog has one (`schemas/<kebab-name>-command.json`).
fn check_command(project: &Project, name: &str, body: &Value) -> Result<Vec<String>> {
    let folder = project
        .catalog_path()
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let path = folder.join("schemas").join(format!(
        "{}-command.json",
        eventrail_contract::kebab_case(name)
    ));
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let schema = eventrail_model::schema::Schema::load(&path)?;
    Ok(schema
        .validate(body)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .into_iter()
        .map(|e| format!("{name} fails {} {e}", path.display()))
        .collect())
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

/// The functions an entry reaches, sorted, each once: found from the entry's JSON text
/// (the text put on the bus), through the engine's one reading of event text, as
/// `eventrail routes` and `pattern test` find them.
fn functions_reached(router: &Router, event: &Value) -> Vec<String> {
    let text = serde_json::to_vec(event).unwrap_or_default();
    let mut functions: Vec<String> = router
        .routes_json(&text)
        .unwrap_or_default()
        .into_iter()
        .flat_map(|route| route.functions.iter().cloned())
        .collect();
    functions.sort();
    functions.dedup();
    functions
}
