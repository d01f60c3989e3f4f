//! Where an application's parts are: `[workspace.metadata.eventrail]` in the workspace's
//! `Cargo.toml` names the catalog index, the samples, the template and the functions folder,
//! and the prefix every source of the application starts with. Tools and test helpers find
//! everything from there; nothing is hard-coded.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::declaration::{Declaration, DeclarationError, FunctionDeclaration};

/// `[workspace.metadata.eventrail]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AppSettings {
    /// Every `source` of the application starts with it (`eventrail.`).
    pub source_prefix: String,
    /// The catalog crate's package name (`events`): functions depend on it.
    pub catalog_crate: String,
    /// The catalog crate's source file that `eventrail new event` adds event types to.
    pub catalog_source: String,
    /// The catalog index, generated from the catalog crate (`events/catalog.json`).
    pub catalog: String,
    /// Sample envelopes (`events/samples`).
    pub samples: String,
    /// The SAM template (`infra/template.yaml`).
    pub template: String,
    /// The folder holding one crate per function (`functions`).
    pub functions: String,
    /// The generated routing index: which functions each sample reaches (`events/consumers.json`).
    pub consumers: String,
    /// `eventrail lint` settings: the deliberate exceptions.
    #[serde(default)]
    pub lint: LintSettings,
    /// The app's demo declaration (`events/demo.json`), which `eventrail demo` runs; `None`:
    /// the app declares no demo.
    #[serde(default)]
    pub demo: Option<String>,
    /// Queues of the deployed stack that a watch reads beside the tap and the failure queues
    /// (`[[workspace.metadata.eventrail.watch]]`): where the app's functions send messages out.
    #[serde(default)]
    pub watch: Vec<WatchedQueue>,
    /// The field that names one flow for the people who run the app (a booking reference):
    /// a field name of an event's `data` (`booking_ref`), or a JSON pointer into it
    /// (`/customer/id`).
    /// `eventrail trace <key>` finds a flow by it; `None`: the app declares none.
    #[serde(default)]
    pub business_key: Option<String>,
    /// Whether the app's producers write trace context into the events they publish
    /// (`write`, the default) or only continue the trace context of the events they receive
    /// (`accept`: the first step of a rollout to consumers that reject unknown metadata).
    #[serde(default)]
    pub trace_context: TraceContextMode,
}

/// `trace-context` of `[workspace.metadata.eventrail]`: how far the app's functions go with
/// W3C trace context in the events' metadata. Turning tracing on where consumers still run a
/// build whose metadata rejects unknown fields takes two deploys: `accept` first (every
/// function reads and continues trace context, none writes it), then `write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TraceContextMode {
    /// Producers write `traceparent`/`tracestate` into every event they publish.
    #[default]
    Write,
    /// Consumers continue the trace context of the events they receive; producers write none.
    Accept,
}

impl TraceContextMode {
    /// The setting's spelling (`write`, `accept`), also the value of
    /// [`crate::names::TRACE_CONTEXT_VAR`].
    pub fn as_str(self) -> &'static str {
        match self {
            TraceContextMode::Write => "write",
            TraceContextMode::Accept => "accept",
        }
    }

    /// Whether producers write trace context into the events they publish.
    pub fn writes(self) -> bool {
        self == TraceContextMode::Write
    }
}

impl std::fmt::Display for TraceContextMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `trace-context` value that is neither `write` nor `accept`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trace context mode `{0}` is neither `write` nor `accept`")]
pub struct UnknownTraceContextMode(pub String);

impl std::str::FromStr for TraceContextMode {
    type Err = UnknownTraceContextMode;

    /// `write` or `accept` (surrounding blanks ignored, any case).
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "write" => Ok(TraceContextMode::Write),
            "accept" => Ok(TraceContextMode::Accept),
            _ => Err(UnknownTraceContextMode(value.to_owned())),
        }
    }
}

/// The business key's value in an event's `data`, as text: a string as it is, a number as
/// JSON writes it; `None` when the event has no such field, or holds something else there.
///
/// `key` is a JSON pointer (RFC 6901, `/customer/id`: exactly that field), or a field name
/// (`booking_ref`): the shallowest field of that name in `data`'s objects, so one name finds
/// the key whether an event carries it at the top (`data.booking_ref`) or inside the entity it
/// carries (`data.booking.booking_ref`). Arrays are not searched: a field of a list's elements
/// names no single flow.
pub fn business_key_value(data: &serde_json::Value, key: &str) -> Option<String> {
    let found = if key.starts_with('/') {
        data.pointer(key)
    } else {
        let mut level = vec![data];
        let mut found = None;
        while found.is_none() && !level.is_empty() {
            let objects: Vec<_> = level.iter().filter_map(|v| v.as_object()).collect();
            found = objects.iter().find_map(|o| o.get(key));
            level = objects.iter().flat_map(|o| o.values()).collect();
        }
        found
    };
    match found? {
        serde_json::Value::String(text) => Some(text.clone()),
        value @ serde_json::Value::Number(_) => Some(value.to_string()),
        _ => None,
    }
}

/// A queue the app's functions send messages to, which a watch reads (the demo, the
/// end-to-end tests). Its messages are JSON objects naming at least their `kind`, the
/// `correlation_id` of their flow, and the `event_id` and `idempotency_key` of the event that
/// caused them.
///
/// ```toml
/// [[workspace.metadata.eventrail.watch]]
/// name = "notices"
/// output = "NoticesQueueUrl"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WatchedQueue {
    /// What people call it (shown before each of its messages).
    pub name: String,
    /// The stack output holding its URL.
    pub output: String,
}

/// `[workspace.metadata.eventrail.lint]`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LintSettings {
    /// Findings that are deliberate, each with its reason
    /// (`[[workspace.metadata.eventrail.lint.allow]]`).
    #[serde(default)]
    pub allow: Vec<LintException>,
}

/// A deliberate exception to `eventrail lint`: the finding kind, what it is about, and why.
///
/// ```toml
/// [[workspace.metadata.eventrail.lint.allow]]
/// finding = "catalog-event-never-emitted"
/// subject = "LegacyImported"
/// reason = "put on the bus by the ERP, outside this repository"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LintException {
    /// The finding's kind (`catalog-event-never-emitted`).
    pub finding: String,
    /// The rule, event or function the finding names (its subject).
    pub subject: String,
    /// Why it is deliberate; required.
    pub reason: String,
}

/// One event type of the catalog index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CatalogEvent {
    /// `detail-type`.
    pub detail_type: String,
    /// `source`.
    pub source: String,
    /// Schema version.
    pub version: u32,
    /// Its JSON Schema, relative to the index's folder.
    pub schema: String,
}

/// The catalog index: every event type of the application (generated from the catalog's
/// types by its tests, so tools need not compile the catalog to read it).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogIndex {
    /// The event types.
    pub events: Vec<CatalogEvent>,
}

impl CatalogIndex {
    /// The event with this detail-type.
    pub fn event(&self, detail_type: &str) -> Option<&CatalogEvent> {
        self.events.iter().find(|e| e.detail_type == detail_type)
    }

    /// Detail-types, comma-separated, for error messages.
    pub fn known(&self) -> String {
        self.events
            .iter()
            .map(|e| e.detail_type.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A problem finding or reading the project's parts; names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// No workspace with `[workspace.metadata.eventrail]` above the start folder.
    #[error(
        "no eventrail workspace found from {0}: run this inside a Cargo workspace whose Cargo.toml \
         has a [workspace.metadata.eventrail] table"
    )]
    NotFound(PathBuf),
    /// A file could not be read or parsed.
    #[error("{file}: {message}")]
    File {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A function's declaration.
    #[error(transparent)]
    Declaration(#[from] DeclarationError),
}

#[derive(Deserialize)]
struct RootManifest {
    workspace: Option<Workspace>,
}

#[derive(Deserialize)]
struct Workspace {
    metadata: Option<WorkspaceMetadata>,
}

#[derive(Deserialize)]
struct WorkspaceMetadata {
    eventrail: Option<AppSettings>,
}

/// An eventrail application: its root folder and settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// The workspace root.
    pub root: PathBuf,
    /// `[workspace.metadata.eventrail]`.
    pub settings: AppSettings,
}

fn read(path: &Path) -> Result<String, ProjectError> {
    std::fs::read_to_string(path).map_err(|e| ProjectError::File {
        file: path.to_owned(),
        message: format!("cannot read: {e}"),
    })
}

impl Project {
    /// The project whose root is `root`.
    pub fn load(root: impl AsRef<Path>) -> Result<Self, ProjectError> {
        let root = root.as_ref();
        let manifest = root.join("Cargo.toml");
        let parsed: RootManifest =
            toml::from_str(&read(&manifest)?).map_err(|e| ProjectError::File {
                file: manifest.clone(),
                message: e.message().to_owned(),
            })?;
        let settings = parsed
            .workspace
            .and_then(|w| w.metadata)
            .and_then(|m| m.eventrail)
            .ok_or_else(|| ProjectError::NotFound(root.to_owned()))?;
        Ok(Self {
            root: root.to_owned(),
            settings,
        })
    }

    /// The nearest project at or above `start`.
    pub fn discover(start: impl AsRef<Path>) -> Result<Self, ProjectError> {
        let start = start.as_ref();
        let mut dir = Some(start);
        while let Some(d) = dir {
            if d.join("Cargo.toml").is_file()
                && let Ok(project) = Self::load(d)
            {
                return Ok(project);
            }
            dir = d.parent();
        }
        Err(ProjectError::NotFound(start.to_owned()))
    }

    /// A path of the settings, made absolute.
    fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// The catalog index file.
    pub fn catalog_path(&self) -> PathBuf {
        self.path(&self.settings.catalog)
    }

    /// The samples folder.
    pub fn samples_dir(&self) -> PathBuf {
        self.path(&self.settings.samples)
    }

    /// The template.
    pub fn template_path(&self) -> PathBuf {
        self.path(&self.settings.template)
    }

    /// The functions folder.
    pub fn functions_dir(&self) -> PathBuf {
        self.path(&self.settings.functions)
    }

    /// The routing index.
    pub fn consumers_path(&self) -> PathBuf {
        self.path(&self.settings.consumers)
    }

    /// The demo declaration, when the app declares one.
    pub fn demo_path(&self) -> Option<PathBuf> {
        self.settings.demo.as_deref().map(|demo| self.path(demo))
    }

    /// Reads the catalog index.
    pub fn catalog(&self) -> Result<CatalogIndex, ProjectError> {
        let path = self.catalog_path();
        serde_json::from_str(&read(&path)?).map_err(|e| ProjectError::File {
            file: path,
            message: format!("not a catalog index: {e}"),
        })
    }

    /// Every function's declaration, sorted by name. A crate in the functions folder without
    /// a declaration is an error that says what to add.
    pub fn functions(&self) -> Result<Vec<FunctionDeclaration>, ProjectError> {
        let dir = self.functions_dir();
        let entries = std::fs::read_dir(&dir).map_err(|e| ProjectError::File {
            file: dir.clone(),
            message: format!("cannot list: {e}"),
        })?;
        let mut functions = Vec::new();
        for entry in entries.flatten() {
            let manifest = entry.path().join("Cargo.toml");
            if !manifest.is_file() {
                continue;
            }
            match Declaration::load(&manifest)? {
                Some((name, declaration)) => functions.push(FunctionDeclaration {
                    name,
                    dir: entry.path(),
                    declaration,
                }),
                None => {
                    return Err(ProjectError::File {
                        file: manifest,
                        message: "no [package.metadata.eventrail] declaration: every crate in the \
                                  functions folder is a function and declares what it consumes \
                                  and emits"
                            .to_owned(),
                    });
                }
            }
        }
        functions.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(functions)
    }
}

/// The file stem of a catalog name: `TaskCreated` -> `task-created`, `CreateTask` ->
/// `create-task` (samples, schemas and command files are named so).
pub fn kebab_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('-');
        }
        out.extend(c.to_lowercase());
    }
    out
}

#[cfg(test)]
mod settings_tests {
    use super::*;

    fn settings(extra: &str) -> AppSettings {
        let text = format!(
            "source-prefix = \"app.\"\ncatalog-crate = \"events\"\n\
             catalog-source = \"events/src/lib.rs\"\ncatalog = \"events/catalog.json\"\n\
             samples = \"events/samples\"\ntemplate = \"infra/template.yaml\"\n\
             functions = \"functions\"\nconsumers = \"events/consumers.json\"\n{extra}"
        );
        toml::from_str(&text).unwrap()
    }

    #[test]
    fn business_key_and_trace_context_default_to_none_and_write() {
        let s = settings("");
        assert_eq!(s.business_key, None);
        assert_eq!(s.trace_context, TraceContextMode::Write);
        assert!(s.trace_context.writes());
    }

    #[test]
    fn business_key_and_trace_context_are_read() {
        let s = settings("business-key = \"/customer/id\"\ntrace-context = \"accept\"\n");
        assert_eq!(s.business_key.as_deref(), Some("/customer/id"));
        assert_eq!(s.trace_context, TraceContextMode::Accept);
        assert!(!s.trace_context.writes());
        let bad = format!(
            "{}trace-context = \"sometimes\"\n",
            "source-prefix = \"a.\"\ncatalog-crate = \"e\"\ncatalog-source = \"e\"\n\
             catalog = \"e\"\nsamples = \"e\"\ntemplate = \"e\"\nfunctions = \"f\"\n\
             consumers = \"c\"\n"
        );
        assert!(toml::from_str::<AppSettings>(&bad).is_err());
    }

    #[test]
    fn trace_context_mode_parses_its_own_spelling() {
        for mode in [TraceContextMode::Write, TraceContextMode::Accept] {
            assert_eq!(mode.as_str().parse::<TraceContextMode>(), Ok(mode));
        }
        assert_eq!(" Accept ".parse(), Ok(TraceContextMode::Accept));
        assert_eq!(
            "off".parse::<TraceContextMode>(),
            Err(UnknownTraceContextMode("off".into()))
        );
    }

    #[test]
    fn a_business_key_is_a_field_name_or_a_pointer() {
        let data = serde_json::json!({
            "ref": "r-1", "n": 42, "flag": true,
            "customer": {"id": "c-7", "ref": "deeper"}, "list": [{"sku": "s"}], "none": null
        });
        assert_eq!(business_key_value(&data, "ref").as_deref(), Some("r-1"));
        assert_eq!(business_key_value(&data, "n").as_deref(), Some("42"));
        assert_eq!(
            business_key_value(&data, "/customer/id").as_deref(),
            Some("c-7")
        );
        assert_eq!(
            business_key_value(&data, "/customer/ref").as_deref(),
            Some("deeper")
        );
        // A name finds the field inside the entity an event carries.
        assert_eq!(business_key_value(&data, "id").as_deref(), Some("c-7"));
        for nothing in ["customer", "list", "sku", "none", "flag", "missing", "/id"] {
            assert_eq!(business_key_value(&data, nothing), None, "{nothing}");
        }
    }

    #[test]
    fn a_business_key_name_takes_the_shallowest_field() {
        let nested = serde_json::json!({"a": {"b": {"key": "deep"}}, "z": {"key": "shallow"}});
        assert_eq!(
            business_key_value(&nested, "key").as_deref(),
            Some("shallow")
        );
    }
}

#[cfg(test)]
mod kebab_case_tests {
    #[test]
    fn catalog_names_map_to_kebab_case_file_stems() {
        assert_eq!(super::kebab_case("CreateTask"), "create-task");
        assert_eq!(super::kebab_case("TaskCreated"), "task-created");
        assert_eq!(super::kebab_case("Ship"), "ship");
    }
}
