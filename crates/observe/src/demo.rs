//! The demo an application declares: `demo = "<file>"` in `[workspace.metadata.eventrail]`
//! names a JSON file saying which function each flow invokes with which command, how the
//! function's answer names the flow, and a poison event to put on the bus directly.
//! `eventrail demo` runs it; the toolkit knows nothing else of the application.
//!
//! ```json
//! {
//!   "invoke": "intake",
//!   "subject": "task",
//!   "id-prefix": "t-",
//!   "answer": {"correlation-id": "/correlation_id", "event-id": "/event_id", "event": "TaskCreated"},
//!   "flows": [
//!     {"label": "quick task", "trigger": "one step", "command": {"task": {"id": "{id}", "steps": 1}}}
//!   ],
//!   "poison": {"sample": "samples/poison/task-created-no-steps.json",
//!              "trigger": "a TaskCreated without steps", "fresh-id": ["/data/task/id"]}
//! }
//! ```

use std::path::{Path, PathBuf};

use eventrail_contract::Project;
use serde::Deserialize;
use serde_json::Value;

use crate::bus::BusEvent;
use crate::error::{ObserveError, Result};

/// What in a command is replaced by the flow's fresh id, in every string of it.
pub const ID_PLACEHOLDER: &str = "{id}";

/// An application's demo declaration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DemoPlan {
    /// The function every flow invokes directly with its command, waiting for the answer.
    pub invoke: String,
    /// What a flow is about, for people: flows are titled `<subject> <id> · <label>`.
    pub subject: String,
    /// Fresh ids are this prefix and 16 hex digits.
    pub id_prefix: String,
    /// Where the function's answer names the flow.
    pub answer: AnswerFields,
    /// The flows, started at once and shown in turn.
    pub flows: Vec<DemoFlow>,
    /// An event put on the bus directly after the flows, which must be dead-lettered.
    #[serde(default)]
    pub poison: Option<PoisonEvent>,
    /// The declaration's folder: the poison sample's path is relative to it.
    #[serde(skip)]
    pub dir: PathBuf,
}

/// JSON pointers into the invoked function's answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AnswerFields {
    /// The flow's correlation id: every event of the flow carries it.
    pub correlation_id: String,
    /// The id of the event that started the flow, when the answer has one.
    pub event_id: String,
    /// The detail-type of that event, for people.
    pub event: String,
}

/// What the invoked function's answer says of the flow it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The flow's correlation id.
    pub correlation_id: String,
    /// The id of the event that started it, when the answer has one.
    pub event_id: Option<String>,
}

/// One flow of the demo.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DemoFlow {
    /// Short name (`quick task`).
    pub label: String,
    /// What decides its outcome, for people.
    pub trigger: String,
    /// The command the function is invoked with; [`ID_PLACEHOLDER`] in any of its strings is
    /// replaced by the flow's fresh id.
    pub command: Value,
}

/// The poison event of the demo: a sample envelope put on the bus with fresh ids.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PoisonEvent {
    /// The sample envelope, relative to the declaration's folder.
    pub sample: String,
    /// What makes it poison, for people.
    pub trigger: String,
    /// JSON pointers into its `detail` set to the fresh id (beside the metadata's correlation
    /// id and idempotency key, always fresh).
    #[serde(default)]
    pub fresh_id: Vec<String>,
}

impl DemoPlan {
    /// The demo `project` declares; an error when it declares none.
    pub fn of_project(project: &Project) -> Result<Self> {
        let path = project.demo_path().ok_or_else(|| ObserveError::NoDemo {
            root: project.root.clone(),
        })?;
        Self::load(&path)
    }

    /// Reads a demo declaration.
    pub fn load(path: &Path) -> Result<Self> {
        let mut plan: Self = read_json(path)?;
        plan.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(plan)
    }

    /// A fresh, unique id: the declared prefix and 16 hex digits.
    pub fn fresh_id(&self) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        format!("{}{}", self.id_prefix, id.get(..16).unwrap_or(&id))
    }

    /// A flow's title: `<subject> <id> · <label>`.
    pub fn title(&self, id: &str, flow: &DemoFlow) -> String {
        format!("{} {id} · {}", self.subject, flow.label)
    }

    /// What the invoked function's `answer` says of the flow it started.
    pub fn started(&self, answer: &Value) -> Result<Started> {
        let text = |pointer: &str| answer.pointer(pointer).and_then(Value::as_str);
        let correlation_id =
            text(&self.answer.correlation_id).ok_or_else(|| ObserveError::DemoAnswer {
                function: self.invoke.clone(),
                pointer: self.answer.correlation_id.clone(),
                answer: answer.to_string(),
            })?;
        Ok(Started {
            correlation_id: correlation_id.to_owned(),
            event_id: text(&self.answer.event_id).map(str::to_owned),
        })
    }

    /// The poison event with fresh ids (`id` in the declared places, `corr-poison-<id>` and
    /// `k-poison-<id>` in the metadata), and its correlation id; `None` when none is declared.
    pub fn poison_event(&self, id: &str) -> Result<Option<(BusEvent, String)>> {
        let Some(poison) = &self.poison else {
            return Ok(None);
        };
        let path = self.dir.join(&poison.sample);
        let sample: Sample = read_json(&path)?;
        let correlation_id = format!("corr-poison-{id}");
        let mut detail = sample.detail;
        if let Some(metadata) = detail.get_mut("metadata").and_then(Value::as_object_mut) {
            metadata.insert("correlation_id".into(), correlation_id.clone().into());
            metadata.insert("idempotency_key".into(), format!("k-poison-{id}").into());
        }
        for pointer in &poison.fresh_id {
            if let Some(place) = detail.pointer_mut(pointer) {
                *place = id.into();
            }
        }
        let event = BusEvent {
            source: sample.source,
            detail_type: sample.detail_type,
            detail,
            time: None,
        };
        Ok(Some((event, correlation_id)))
    }
}

impl DemoFlow {
    /// The command with `id` in place of every [`ID_PLACEHOLDER`].
    pub fn command(&self, id: &str) -> Value {
        with_id(&self.command, id)
    }
}

/// The parts of a sample envelope the poison event is made of.
#[derive(Deserialize)]
struct Sample {
    source: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    detail: Value,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| ObserveError::DemoRead {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| ObserveError::DemoInvalid {
        path: path.to_owned(),
        source,
    })
}

fn with_id(value: &Value, id: &str) -> Value {
    match value {
        Value::String(text) => Value::String(text.replace(ID_PLACEHOLDER, id)),
        Value::Array(items) => Value::Array(items.iter().map(|v| with_id(v, id)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, v)| (key.clone(), with_id(v, id)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn plan(dir: &Path) -> DemoPlan {
        let declaration = json!({
            "invoke": "intake",
            "subject": "task",
            "id-prefix": "t-",
            "answer": {"correlation-id": "/flow/correlation", "event-id": "/event_id",
                       "event": "TaskCreated"},
            "flows": [{"label": "quick task", "trigger": "one step",
                       "command": {"task": {"id": "{id}", "owner": "owner-{id}",
                                            "steps": [{"name": "s", "count": 1}]}}}],
            "poison": {"sample": "samples/no-steps.json", "trigger": "no steps",
                       "fresh-id": ["/data/task/id", "/data/absent"]}
        });
        std::fs::create_dir_all(dir.join("samples")).unwrap();
        std::fs::write(dir.join("demo.json"), declaration.to_string()).unwrap();
        std::fs::write(
            dir.join("samples/no-steps.json"),
            json!({"source": "app.intake", "detail-type": "TaskCreated", "id": "x",
                   "detail": {"metadata": {"correlation_id": "c-old", "idempotency_key": "k-old",
                                           "causation_id": null},
                              "data": {"task": {"id": "t-old", "steps": []}}}})
            .to_string(),
        )
        .unwrap();
        DemoPlan::load(&dir.join("demo.json")).unwrap()
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("observe-demo-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_flow_is_its_command_with_a_fresh_id_in_every_string() {
        let dir = scratch("flow");
        let plan = plan(&dir);
        let id = plan.fresh_id();
        assert!(id.starts_with("t-") && id.len() == 18, "{id}");
        assert_ne!(id, plan.fresh_id());
        let flow = &plan.flows[0];
        assert_eq!(
            flow.command(&id),
            json!({"task": {"id": id, "owner": format!("owner-{id}"),
                            "steps": [{"name": "s", "count": 1}]}})
        );
        assert_eq!(plan.title("t-1", flow), "task t-1 · quick task");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_answer_names_the_flow_where_the_declaration_says() {
        let dir = scratch("answer");
        let plan = plan(&dir);
        let started = plan
            .started(&json!({"flow": {"correlation": "c-1"}, "event_id": "e-1"}))
            .unwrap();
        assert_eq!(started.correlation_id, "c-1");
        assert_eq!(started.event_id.as_deref(), Some("e-1"));
        let dry = plan
            .started(&json!({"flow": {"correlation": "c-2"}}))
            .unwrap();
        assert_eq!(dry.event_id, None);
        let error = plan
            .started(&json!({"correlation_id": "c-3"}))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("intake") && error.contains("/flow/correlation"),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_poison_event_is_its_sample_with_fresh_ids() {
        let dir = scratch("poison");
        let plan = plan(&dir);
        let (event, correlation_id) = plan.poison_event("t-9").unwrap().unwrap();
        assert_eq!(correlation_id, "corr-poison-t-9");
        assert_eq!(event.source, "app.intake");
        assert_eq!(event.detail_type, "TaskCreated");
        assert_eq!(
            event.detail,
            json!({"metadata": {"correlation_id": "corr-poison-t-9",
                                "idempotency_key": "k-poison-t-9", "causation_id": null},
                   "data": {"task": {"id": "t-9", "steps": []}}})
        );
        let without = DemoPlan {
            poison: None,
            ..plan
        };
        assert!(without.poison_event("t-9").unwrap().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_application_without_a_demo_is_told_how_to_declare_one() {
        let dir = scratch("none");
        std::fs::create_dir_all(&dir).unwrap();
        let settings = "[workspace]\n[workspace.metadata.eventrail]\nsource-prefix = \"app.\"\n\
            catalog-crate = \"events\"\ncatalog-source = \"events/src/lib.rs\"\n\
            catalog = \"events/catalog.json\"\nsamples = \"events/samples\"\n\
            template = \"infra/template.yaml\"\nfunctions = \"functions\"\n\
            consumers = \"events/consumers.json\"\n";
        std::fs::write(dir.join("Cargo.toml"), settings).unwrap();
        let project = Project::load(&dir).unwrap();
        let error = DemoPlan::of_project(&project).unwrap_err();
        assert!(matches!(error, ObserveError::NoDemo { .. }), "{error}");
        assert!(error.to_string().contains("demo = "), "{error}");

        std::fs::write(
            dir.join("Cargo.toml"),
            format!("{settings}demo = \"demo.json\"\n"),
        )
        .unwrap();
        let project = Project::load(&dir).unwrap();
        let missing = DemoPlan::of_project(&project).unwrap_err();
        assert!(
            matches!(&missing, ObserveError::DemoRead { path, .. } if path.ends_with("demo.json")),
            "{missing}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_declaration_with_an_unknown_field_or_a_missing_file_is_refused() {
        let dir = scratch("refused");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("demo.json");
        std::fs::write(
            &path,
            json!({"invoke": "f", "subject": "s", "id-prefix": "p-", "flows": [],
                   "answer": {"correlation-id": "/c", "event-id": "/e", "event": "E"},
                   "watch": "LedgerQueueUrl"})
            .to_string(),
        )
        .unwrap();
        let error = DemoPlan::load(&path).unwrap_err();
        assert!(matches!(error, ObserveError::DemoInvalid { .. }), "{error}");
        assert!(
            format!("{:?}", std::error::Error::source(&error)).contains("watch"),
            "the cause names the unknown field: {error:?}"
        );
        let missing = DemoPlan::load(&dir.join("absent.json")).unwrap_err();
        assert!(
            matches!(missing, ObserveError::DemoRead { .. }),
            "{missing}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
