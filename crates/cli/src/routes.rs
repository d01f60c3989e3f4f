//! `eventrail routes`: which functions each event reaches, and through which rule.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use eventrail_model::{Route, Router, Template};
use serde_json::Value;

/// Arguments of `eventrail routes`.
#[derive(Debug, Args)]
pub struct RoutesArgs {
    /// Event files (full EventBridge envelopes), e.g. events/samples/*.json.
    #[arg(required = true, value_name = "EVENT.json")]
    events: Vec<PathBuf>,
    /// The project root, whose template holds the rules (default: the workspace around the
    /// current folder).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// A SAM/CloudFormation template outside any project, instead of the project's (the
    /// option's old default was infra/template.yaml; kept for scripts, hidden from help).
    #[arg(long, value_name = "FILE", conflicts_with = "root", hide = true)]
    template: Option<PathBuf>,
}

/// Runs `eventrail routes`; exit 0 when every event was read and routed.
pub fn run(args: RoutesArgs) -> Result<ExitCode> {
    let path = match args.template {
        Some(path) => path,
        None => crate::infra::project(args.root)?.template_path(),
    };
    let template = Template::load(&path)
        .with_context(|| format!("cannot load template {}", path.display()))?;
    let router = Router::from_template(&template)?;
    for (index, path) in args.events.iter().enumerate() {
        if index > 0 {
            println!();
        }
        let (text, event) = read_event(path)?;
        // The rules are found from the text (the engine's one reading of event text, as
        // `pattern test` and `pattern conformance` use), the names shown from the value.
        let routes = router
            .routes_json(text.as_bytes())
            .with_context(|| format!("event {} cannot be matched", path.display()))?;
        print!("{}", describe(path, &event, &routes));
    }
    Ok(ExitCode::SUCCESS)
}

/// The event's text and its parsed value.
fn read_event(path: &Path) -> Result<(String, Value)> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read event {}", path.display()))?;
    let event: Value = serde_json::from_str(&text)
        .with_context(|| format!("event {} is not valid JSON", path.display()))?;
    anyhow::ensure!(
        event.is_object(),
        "event {} must be a JSON object",
        path.display()
    );
    Ok((text, event))
}

/// The text block printed for one event.
fn describe(path: &Path, event: &Value, routes: &[&Route]) -> String {
    let field = |name: &str| {
        event
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    let mut text = format!(
        "{} (source {}, detail-type {})\n",
        path.display(),
        field("source"),
        field("detail-type")
    );
    let mut lines: Vec<(String, String)> = routes
        .iter()
        .flat_map(|route| {
            route
                .functions
                .iter()
                .map(|f| (f.clone(), route.rule.clone()))
        })
        .collect();
    lines.sort();
    if lines.is_empty() {
        text.push_str("  -> (no function receives this event)\n");
    }
    let width = lines.iter().map(|(f, _)| f.len()).max().unwrap_or(0);
    for (function, rule) in lines {
        text.push_str(&format!("  -> {function:<width$}  via rule {rule}\n"));
    }
    text
}
