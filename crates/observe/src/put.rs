//! What `eventrail put` and the studio's put page send: a JSON document read as events (a
//! full EventBridge envelope, a list of them, an event's `detail` with a detail-type) or as a
//! command sample (not an event: no `detail`) for the function that declares the command;
//! checked against the catalog (an event) or the command's schema, when it has one
//! (`schemas/<kebab-name>-command.json`), before anything is sent.

use eventrail_contract::{Invoke, Project};
use eventrail_model::Router;
use eventrail_model::schema::Schema;
use serde_json::Value;

use crate::catalog::CatalogCheck;

/// The most entries one PutEvents call takes.
pub const MAX_ENTRIES: usize = 10;

/// What the caller says about the document, beyond its JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutOverrides {
    /// The detail-type: overrides the envelope's, or makes the document an event's `detail`.
    pub detail_type: Option<String>,
    /// The source (default: the envelope's, else the catalog's for the detail-type).
    pub source: Option<String>,
    /// The command a non-event document is (default: the application's only declared one).
    pub command: Option<String>,
}

/// What a document turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum PutDocument {
    /// Events for the bus (1 to [`MAX_ENTRIES`]), completed with their source.
    Events(Vec<Value>),
    /// A command for the directly invoked function that declares it.
    Command {
        /// The command (`CreateTask`).
        name: String,
        /// The function that declares it (as declared: `intake`).
        function: String,
        /// The command's body.
        body: Value,
    },
}

/// A document that cannot be put.
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    /// An entry of the document is not a JSON object.
    #[error("every entry must be a JSON object")]
    NotAnObject,
    /// A list with no entry or more than one PutEvents call takes.
    #[error("a list holds 1 to {MAX_ENTRIES} events (one PutEvents call); it has {len}")]
    ListSize {
        /// Its length.
        len: usize,
    },
    /// Not an event, and no (single) declared command it could be.
    #[error(
        "not an EventBridge event (no `detail`). Give a detail-type (and a source) to send it \
         as an event's detail, or a command, one of the declared commands: {commands}"
    )]
    NotAnEvent {
        /// The declared commands with their functions (`CreateTask (intake)`), or `none`.
        commands: String,
    },
    /// The application's declarations or a command's schema cannot be read.
    #[error("the application's declarations: {message}")]
    Project {
        /// What is wrong.
        message: String,
    },
}

/// The directly invoked functions' commands: `(command, function)`.
fn declared_commands(project: &Project) -> Result<Vec<(String, String)>, PutError> {
    let functions = project.functions().map_err(|e| PutError::Project {
        message: e.to_string(),
    })?;
    Ok(functions
        .into_iter()
        .filter(|f| f.declaration.invoke == Invoke::Direct)
        .flat_map(|f| {
            f.declaration
                .commands
                .iter()
                .map(|c| (c.clone(), f.name.clone()))
                .collect::<Vec<_>>()
        })
        .collect())
}

impl PutDocument {
    /// Reads `value` as events or a command, as `eventrail put` does: a list is events, an
    /// object with `detail` an event, anything with a detail-type override an event's
    /// `detail`; anything else a command for the function that declares it.
    pub fn classify(
        value: Value,
        overrides: &PutOverrides,
        project: &Project,
        catalog: &CatalogCheck,
    ) -> Result<Self, PutError> {
        let complete = |mut event: Value| -> Result<Value, PutError> {
            let Some(object) = event.as_object_mut() else {
                return Err(PutError::NotAnObject);
            };
            if let Some(detail_type) = &overrides.detail_type {
                object.insert("detail-type".into(), detail_type.clone().into());
            }
            if let Some(source) = &overrides.source {
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
            if items.is_empty() || items.len() > MAX_ENTRIES {
                return Err(PutError::ListSize { len: items.len() });
            }
            return Ok(Self::Events(
                items.into_iter().map(complete).collect::<Result<_, _>>()?,
            ));
        }
        if value.get("detail").is_some() {
            return Ok(Self::Events(vec![complete(value)?]));
        }
        if overrides.detail_type.is_some() {
            let event = serde_json::json!({ "detail": value });
            return Ok(Self::Events(vec![complete(event)?]));
        }
        let producers = declared_commands(project)?;
        let chosen = match &overrides.command {
            Some(name) => producers.iter().find(|(c, _)| c == name),
            None if producers.len() == 1 => producers.first(),
            None => None,
        };
        match chosen {
            Some((name, function)) => Ok(Self::Command {
                name: name.clone(),
                function: function.clone(),
                body: value,
            }),
            None => Err(PutError::NotAnEvent {
                commands: if producers.is_empty() {
                    "none".to_owned()
                } else {
                    producers
                        .iter()
                        .map(|(c, f)| format!("{c} ({f})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            }),
        }
    }

    /// Every reason the document would be refused (empty: it may be sent): each event checked
    /// against the catalog (`entry <i>: ...`, naming the field), a command against its schema.
    pub fn problems(
        &self,
        project: &Project,
        catalog: &CatalogCheck,
    ) -> Result<Vec<String>, PutError> {
        Ok(match self {
            Self::Events(events) => events
                .iter()
                .enumerate()
                .filter_map(|(i, e)| catalog.check(e).err().map(|p| format!("entry {i}: {p}")))
                .collect(),
            Self::Command { name, body, .. } => check_command(project, name, body)?,
        })
    }
}

/// A command's schema, when the catalog has one (`schemas/<kebab-name>-command.json`).
fn check_command(project: &Project, name: &str, body: &Value) -> Result<Vec<String>, PutError> {
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
    let project_error = |message: String| PutError::Project { message };
    let schema = Schema::load(&path).map_err(|e| project_error(e.to_string()))?;
    Ok(schema
        .validate(body)
        .map_err(|e| project_error(e.to_string()))?
        .into_iter()
        .map(|e| format!("{name} fails {} {e}", path.display()))
        .collect())
}

/// The functions an entry reaches, sorted, each once: found from the entry's JSON text
/// (the text put on the bus), through the engine's one reading of event text, as
/// `eventrail routes` and `pattern test` find them.
pub fn functions_reached(router: &Router, event: &Value) -> Vec<String> {
    let text = serde_json::to_vec(event).unwrap_or_default();
    functions_reached_by_text(router, &text)
}

/// The same for an event already held as its JSON text (no second serialisation).
pub fn functions_reached_by_text(router: &Router, text: &[u8]) -> Vec<String> {
    let mut functions: Vec<String> = router
        .routes_json(text)
        .unwrap_or_default()
        .into_iter()
        .flat_map(|route| route.functions.iter().cloned())
        .collect();
    functions.sort();
    functions.dedup();
    functions
}
