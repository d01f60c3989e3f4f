//! `eventrail new function|event`: scaffolds a function (crate, handler of the input its
//! trigger hands it, a test on a sample, its declaration, the regenerated template) or a
//! catalog event (type, sample, schema). Everything is checked before the first file is
//! written: a bad name, an unknown event type, a bad trigger flag or an existing function
//! changes nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use eventrail_contract::declaration::{EVERY_EVENT, check_function_name};
use eventrail_contract::{
    Declaration, Delivery, FunctionDeclaration, HttpTrigger, Invoke, Project, QueueSource,
    ScheduleTrigger,
};
use eventrail_generate::{Generate, generate_template};
use eventrail_model::App;

use crate::infra::{project, relative};

mod handlers;
mod trigger;

use trigger::{NewTrigger, TriggerArgs, quoted_list};

/// `eventrail new ...`.
#[derive(Debug, Subcommand)]
pub enum NewCommand {
    /// Scaffold functions/<NAME>: a handler that compiles, a unit test on a catalog sample, its
    /// declaration, and the regenerated template.
    Function(FunctionArgs),
    /// Add an event type to the catalog, with a sample and its schema.
    Event(EventArgs),
}

/// Arguments of `eventrail new function`.
#[derive(Debug, Args)]
pub struct FunctionArgs {
    /// Function name: lower-case words joined by dashes (`gift-wrap`).
    name: String,
    /// Catalog detail-types it consumes (comma-separated), or `*` for every event of the app:
    /// a consumer, subscribed by a rule on the bus (with `--buffered`, through a queue).
    #[arg(long, value_delimiter = ',')]
    consumes: Vec<String>,
    /// Catalog detail-types it emits (comma-separated).
    #[arg(long, value_delimiter = ',')]
    emits: Vec<String>,
    #[command(flatten)]
    trigger: TriggerArgs,
    /// The project root (default: the workspace around the current folder).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
}

/// Arguments of `eventrail new event`.
#[derive(Debug, Args)]
pub struct EventArgs {
    /// The detail-type, in PascalCase (`GiftWrapped`).
    detail_type: String,
    /// The event's source; it must start with the application's prefix (`eventrail.gift-wrap`).
    #[arg(long)]
    source: String,
    /// The project root (default: the workspace around the current folder).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
}

/// Runs `eventrail new ...`.
pub fn run(command: NewCommand) -> Result<ExitCode> {
    match command {
        NewCommand::Function(args) => new_function(args),
        NewCommand::Event(args) => new_event(args),
    }
}

fn new_function(args: FunctionArgs) -> Result<ExitCode> {
    let project = project(args.root)?;
    let app = App::load(&project.root)?;
    let name = args.name.trim().to_owned();
    check_function_name(&name).map_err(|m| anyhow::anyhow!("{m}; nothing was changed"))?;
    let dir = project.functions_dir().join(&name);
    if dir.exists() {
        bail!(
            "{} already exists; nothing was changed (edit its [package.metadata.eventrail] instead)",
            relative(&project, &dir)
        );
    }
    let consumes: Vec<String> = args.consumes.iter().map(|t| t.trim().to_owned()).collect();
    let emits: Vec<String> = args.emits.iter().map(|t| t.trim().to_owned()).collect();
    let trigger = args
        .trigger
        .resolve(&consumes)
        .map_err(|m| anyhow::anyhow!("{m}; nothing was changed"))?;
    for t in consumes.iter().chain(&emits) {
        if t != EVERY_EVENT && app.catalog.event(t).is_none() {
            bail!(
                "`{t}` is not an event of the catalog ({}); known: {}. Add it with `eventrail new \
                 event {t} --source <source>`; nothing was changed",
                project.settings.catalog,
                app.catalog.known()
            );
        }
    }
    if emits.iter().any(|t| t == EVERY_EVENT) {
        bail!("--emits lists the events it emits; `*` is not one; nothing was changed");
    }
    let declaration = Declaration {
        description: Some(describe(&trigger, &consumes, &emits)),
        consumes,
        emits,
        invoke: Invoke::Rule,
        http: match &trigger {
            NewTrigger::Http(route) => Some(HttpTrigger::Route(route.to_string())),
            _ => None,
        },
        schedule: match &trigger {
            NewTrigger::Schedule(expression) => {
                Some(ScheduleTrigger::Expression(expression.clone()))
            }
            _ => None,
        },
        queue: match &trigger {
            NewTrigger::Queue(source) => Some(source.clone()),
            _ => None,
        },
        delivery: match trigger {
            NewTrigger::Rule(delivery) => delivery,
            _ => Delivery::Direct,
        },
        ..Declaration::default()
    };
    declaration
        .check(&name)
        .map_err(|m| anyhow::anyhow!("{m}; nothing was changed"))?;
    let new = FunctionDeclaration {
        name: name.clone(),
        dir: dir.clone(),
        declaration,
    };

    // Generate in memory first: a collision or an unknown type fails before anything is written.
    let mut functions = app.functions.clone();
    functions.push(new.clone());
    functions.sort_by(|a, b| a.name.cmp(&b.name));
    let template_path = project.template_path();
    let current = std::fs::read_to_string(&template_path)
        .with_context(|| format!("cannot read {}", template_path.display()))?;
    generate_template(
        &current,
        &project.settings.template,
        &functions,
        &app.catalog,
        &project.settings,
    )
    .map_err(|e| anyhow::anyhow!("{e}; nothing was changed"))?;
    let files = scaffold(&project, &app, &new, &trigger)?;

    let write = || -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir.join("src"))?;
        for (path, text) in &files {
            std::fs::write(path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        let app = App::load(&project.root)?;
        Ok(app.write_infrastructure()?)
    };
    let stale_docs = match write() {
        Ok(stale_docs) => stale_docs,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&dir);
            let _ = std::fs::write(&template_path, &current);
            return Err(error.context("scaffolding failed; the changes were rolled back"));
        }
    };
    println!("created {}/", relative(&project, &dir));
    for (path, _) in &files {
        println!("  {}", relative(&project, path));
    }
    println!(
        "updated {} and {} (`eventrail infra generate`)",
        project.settings.template, project.settings.consumers
    );
    println!(
        "next: write the handler in {}/src/lib.rs, then `cargo test -p {name}`",
        relative(&project, &dir)
    );
    stale_docs_hint(&project, &stale_docs);
    Ok(ExitCode::SUCCESS)
}

/// Scaffolding changes only code and infrastructure; the flow picture embedded in the docs is
/// regenerated on request.
fn stale_docs_hint(project: &Project, stale: &[PathBuf]) {
    if stale.is_empty() {
        return;
    }
    let names: Vec<String> = stale.iter().map(|p| relative(project, p)).collect();
    println!(
        "the flow picture in {} does not show this yet: `cargo run -p eventrail -- infra generate` \
         redraws it (the docs test and `eventrail lint` flag it until then)",
        names.join(" and ")
    );
}

fn describe(trigger: &NewTrigger, consumes: &[String], emits: &[String]) -> String {
    let on = match trigger {
        NewTrigger::Http(route) => route.to_string(),
        NewTrigger::Schedule(expression) => format!("schedule {expression}"),
        NewTrigger::Queue(QueueSource::New) => "each message of its queue".to_owned(),
        NewTrigger::Queue(QueueSource::Existing(id)) => format!("each message of {id}"),
        NewTrigger::Rule(_) if consumes.iter().any(|c| c == EVERY_EVENT) => {
            "every event of the application".to_owned()
        }
        NewTrigger::Rule(_) => consumes.join(", "),
    };
    if emits.is_empty() {
        format!("On {on}")
    } else {
        format!("On {on}: emits {}", emits.join(" or "))
    }
}

/// The names the workspace manifest declares for its members (`[workspace.dependencies]`);
/// empty when the manifest cannot be read.
fn workspace_dependencies(root: &Path) -> std::collections::BTreeSet<String> {
    std::fs::read_to_string(root.join("Cargo.toml"))
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|manifest| {
            let dependencies = manifest.get("workspace")?.get("dependencies")?.as_table()?;
            Some(dependencies.keys().cloned().collect())
        })
        .unwrap_or_default()
}

/// The sample of a catalog event: `schemas/task-created.json` -> `task-created.json`.
fn sample_of(app: &App, detail_type: &str) -> Option<String> {
    let event = app.catalog.event(detail_type)?;
    Path::new(&event.schema)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
}

/// The sample the scaffolded test runs on: the catalog sample of the first event it consumes
/// (any, for `*`) for a consumer, else of the first it emits (empty when it emits none).
fn sample_for(app: &App, trigger: &NewTrigger, d: &Declaration) -> String {
    let detail_type = match trigger {
        NewTrigger::Rule(_) if d.consumes_everything() => {
            app.catalog.events.first().map(|e| e.detail_type.clone())
        }
        NewTrigger::Rule(_) => d.consumes.first().cloned(),
        _ => d.emits.first().cloned(),
    };
    detail_type
        .and_then(|t| sample_of(app, &t))
        .unwrap_or_default()
}

/// The files of a new function crate: (path, text).
fn scaffold(
    project: &Project,
    app: &App,
    f: &FunctionDeclaration,
    trigger: &NewTrigger,
) -> Result<Vec<(PathBuf, String)>> {
    let d = &f.declaration;
    let name = &f.name;
    let lib_name = name.replace('-', "_");
    let catalog = &project.settings.catalog_crate;
    let catalog_ident = catalog.replace('-', "_");
    let sample = sample_for(app, trigger, d);
    let workspace = workspace_dependencies(&project.root);
    // A workspace that unifies its builds' features (`cargo xtask unify`) gets the new crate
    // in on it, so building the new function reuses the compiled dependency graph.
    let unify = if workspace.contains("workspace-hack") {
        "workspace-hack.workspace = true\n"
    } else {
        ""
    };
    // The build script and binary every function shares (`eventrail-build`'s `lambda/`):
    // the crate is then its Cargo.toml and src/lib.rs. A workspace without the crate's source
    // gets a one-line src/main.rs instead.
    let shared = crate::migrate::build_crate_dir(&project.root)
        .map(|dir| dir.join("lambda"))
        .filter(|dir| dir.join("build.rs").is_file() && dir.join("main.rs").is_file())
        .map(|dir| crate::migrate::relative_path(&f.dir, &dir));
    let (build, bin_path, build_deps) = match &shared {
        Some(shared) => (
            format!(
                "# The build script and the binary every function shares: the binary starts\n# `handle` of src/lib.rs.\nbuild = \"{shared}/build.rs\"\n"
            ),
            format!("{shared}/main.rs"),
            "[build-dependencies]\neventrail-build.workspace = true\n\n",
        ),
        None => (String::new(), "src/main.rs".to_owned(), ""),
    };
    let manifest = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition.workspace = true
rust-version.workspace = true
license.workspace = true
publish.workspace = true
{build}
[[bin]]
name = "{name}"
path = "{bin_path}"
# The handler and its tests are in lib.rs: no test harness for the binary.
test = false

{build_deps}[dependencies]
{unify}{catalog}.workspace = true
eventrail-runtime.workspace = true
{serde}tokio.workspace = true
tracing.workspace = true

# What this function consumes and emits: the template, its role, the routing index and the
# runtime configuration are derived from it (`eventrail infra generate`).
[package.metadata.eventrail]
description = {description}
{trigger_lines}emits = {emits}
"#,
        description = serde_json::Value::String(d.description.clone().unwrap_or_default()),
        trigger_lines = trigger.manifest_lines(&d.consumes),
        // The request or message type of an HTTP or queue function derives `Deserialize`.
        serde = match trigger {
            NewTrigger::Http(_) | NewTrigger::Queue(_) if workspace.contains("serde") => {
                "serde.workspace = true\n"
            }
            NewTrigger::Http(_) | NewTrigger::Queue(_) => {
                "serde = { version = \"1\", features = [\"derive\"] }\n"
            }
            _ => "",
        },
        emits = quoted_list(&d.emits),
    );
    let main = format!("eventrail_runtime::main!({lib_name}::handle);\n");
    let lib = handlers::handler_source(&handlers::Scaffolded {
        name,
        declaration: d,
        trigger,
        catalog_ident: &catalog_ident,
        sample: &sample,
    });
    let dir = &f.dir;
    let mut files = vec![
        (dir.join("Cargo.toml"), manifest),
        (dir.join("src/lib.rs"), lib),
    ];
    if shared.is_none() {
        files.push((dir.join("src/main.rs"), main));
    }
    Ok(files)
}

/// The line of the catalog's `catalog()` list above which new entries go.
const CATALOG_MARKER: &str = "// `eventrail new event` adds its entries above this line.";

fn new_event(args: EventArgs) -> Result<ExitCode> {
    let project = project(args.root)?;
    let app = App::load(&project.root)?;
    let detail_type = args.detail_type.trim().to_owned();
    let source = args.source.trim().to_owned();
    let valid = detail_type.starts_with(|c: char| c.is_ascii_uppercase())
        && detail_type.chars().all(|c| c.is_ascii_alphanumeric());
    if !valid {
        bail!(
            "`{detail_type}` is not a valid detail-type: use PascalCase letters and digits \
             (`GiftWrapped`); nothing was changed"
        );
    }
    if app.catalog.event(&detail_type).is_some() {
        bail!("`{detail_type}` is already in the catalog; nothing was changed");
    }
    let prefix = &project.settings.source_prefix;
    let suffix_ok = source
        .strip_prefix(prefix.as_str())
        .is_some_and(|rest| !rest.is_empty() && check_function_name(rest).is_ok());
    if !suffix_ok {
        bail!(
            "source `{source}` must be the application's prefix `{prefix}` followed by the \
             emitting function's name (`{prefix}gift-wrap`); nothing was changed"
        );
    }
    let stem = eventrail_contract::kebab_case(&detail_type);
    let catalog_source = project.root.join(&project.settings.catalog_source);
    let original = std::fs::read_to_string(&catalog_source)
        .with_context(|| format!("cannot read {}", catalog_source.display()))?;
    if !original.contains(CATALOG_MARKER) {
        bail!(
            "{} has no line `{CATALOG_MARKER}` in its catalog() list; nothing was changed",
            project.settings.catalog_source
        );
    }
    let sample_path = project.samples_dir().join(format!("{stem}.json"));
    if sample_path.exists() {
        bail!(
            "{} already exists; nothing was changed",
            relative(&project, &sample_path)
        );
    }
    let mut text = original.replace(
        CATALOG_MARKER,
        &format!("entry::<{detail_type}>(\"{stem}\"),\n        {CATALOG_MARKER}"),
    );
    text.push_str(&format!(
        r#"
/// {detail_type}: describe the fact this event records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct {detail_type} {{
    /// What the event is about.
    pub id: String,
}}
catalog_event!({detail_type}, "{source}");

impl Validate for {detail_type} {{
    fn validate(&self) -> Result<(), ValidationError> {{
        non_empty("id", &self.id)
    }}
}}
"#
    ));
    let key = eventrail_contract::derive_key(&[&stem, "sample"]);
    let sample = serde_json::json!({
        "version": "0",
        "id": format!("00000000-0000-4000-8000-{}", &key[..12]),
        "detail-type": detail_type,
        "source": source,
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "metadata": {
                "schema_version": 1,
                "correlation_id": format!("corr-{stem}"),
                "causation_id": null,
                "idempotency_key": key,
            },
            "data": {"id": format!("{stem}-1")}
        }
    });
    let mut sample_text = serde_json::to_string_pretty(&sample)?;
    sample_text.push('\n');

    std::fs::write(&catalog_source, &text)?;
    std::fs::write(&sample_path, &sample_text)?;
    // The catalog crate's tests named `checked_in*` regenerate its schemas and index when
    // EVENTRAIL_BLESS is set; then its whole suite must pass on the new event. No other test
    // may have `checked_in` in its name (the filter matches substrings), and the blessing run
    // is single-threaded, so nothing reads a schema file while it is being written.
    eprintln!(
        "eventrail: regenerating the schemas and catalog index, then checking the catalog \
         (cargo test -p {}; compiles the catalog crate, under a minute when the workspace is built)",
        project.settings.catalog_crate
    );
    let cargo_test = |bless: bool| {
        let mut command =
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
        command.current_dir(&project.root).args([
            "test",
            "--quiet",
            "-p",
            &project.settings.catalog_crate,
        ]);
        if bless {
            command
                .env("EVENTRAIL_BLESS", "1")
                .args(["--", "checked_in", "--test-threads=1"]);
        }
        matches!(command.status(), Ok(s) if s.success())
    };
    // The routing index lists every sample: regenerate it (it needs the new catalog index)
    // before the catalog's own checks run.
    let accepted = cargo_test(true)
        && App::load(&project.root)
            .and_then(|app| app.write_infrastructure())
            .is_ok()
        && cargo_test(false);
    let index_has_it = App::load(&project.root)
        .map(|a| a.catalog.event(&detail_type).is_some())
        .unwrap_or(false);
    if !accepted || !index_has_it {
        std::fs::write(&catalog_source, &original)?;
        let _ = std::fs::remove_file(&sample_path);
        let _ = std::fs::remove_file(
            project
                .catalog_path()
                .parent()
                .unwrap_or(&project.root)
                .join(format!("schemas/{stem}.json")),
        );
        let _ = cargo_test(true);
        let _ = App::load(&project.root).and_then(|app| app.write_infrastructure());
        bail!(
            "the catalog crate did not accept the new event (see cargo's output above); the \
             changes were rolled back"
        );
    }
    let stale_docs = App::load(&project.root)?.write_infrastructure()?;
    println!(
        "added {detail_type} (source {source}) to {}",
        project.settings.catalog_source
    );
    println!("  {}", relative(&project, &sample_path));
    println!("  regenerated the schemas and {}", project.settings.catalog);
    println!(
        "next: give {detail_type} its fields, then `EVENTRAIL_BLESS=1 cargo test -p {}`",
        project.settings.catalog_crate
    );
    stale_docs_hint(&project, &stale_docs);
    Ok(ExitCode::SUCCESS)
}
