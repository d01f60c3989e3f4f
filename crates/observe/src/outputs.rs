//! The deployed stack's outputs (infra/template.yaml `Outputs`), read from a JSON file.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use eventrail_contract::declaration::logical_id;
use eventrail_contract::names::{EVENT_BUS_NAME_OUTPUT, FunctionOutputs};
use eventrail_contract::{Project, WatchedQueue};

use crate::error::{ObserveError, Result};
use crate::watched::WatchedQueueUrl;

/// Environment variable naming LocalStack's base URL.
pub const ENDPOINT_VAR: &str = "EVENTRAIL_ENDPOINT";
/// Environment variable naming the stack outputs JSON file.
pub const OUTPUTS_VAR: &str = "EVENTRAIL_STACK_OUTPUTS";

/// The outputs of the deployed stack, plus where it runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StackOutputs {
    /// Stack name, when known.
    pub stack_name: Option<String>,
    /// Region, when the file names one.
    pub region: Option<String>,
    /// Endpoint, when the file names one.
    pub endpoint: Option<String>,
    /// Output key -> value.
    pub outputs: BTreeMap<String, String>,
    /// The application's function names, from their declarations ([`StackOutputs::with_project`]).
    pub functions: Vec<String>,
    /// The prefix of the application's event sources, from its settings.
    pub source_prefix: Option<String>,
    /// The queues the application declares watched, from its settings.
    pub watched: Vec<WatchedQueue>,
}

/// A queue of the stack where failures land, with the function it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureQueue {
    /// Function display name (`worker`).
    pub function: String,
    /// Which layer of failure the queue collects.
    pub layer: FailureLayer,
    /// Queue URL.
    pub url: String,
}

/// The two failure layers of a consumer (design brief: "Two failure layers exist").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureLayer {
    /// The function's on-failure destination (handler errors after retries) and poison events.
    Function,
    /// The rule target's dead-letter queue (EventBridge could not deliver).
    Delivery,
}

impl FailureLayer {
    /// How the queue is called for people.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Function => "failure queue",
            Self::Delivery => "delivery dead-letter queue",
        }
    }
}

impl StackOutputs {
    /// Outputs from a map.
    pub fn from_map(outputs: BTreeMap<String, String>) -> Self {
        Self {
            outputs,
            ..Self::default()
        }
    }

    /// Adds what the application declares: its function names (outputs are found by the
    /// logical ids the template generator derives from them), its source prefix and the
    /// queues it declares watched.
    pub fn with_project(mut self, project: &Project) -> Result<Self> {
        let functions = project.functions().map_err(|e| ObserveError::Project {
            message: e.to_string(),
        })?;
        self.functions = functions.into_iter().map(|f| f.name).collect();
        self.source_prefix = Some(project.settings.source_prefix.clone());
        self.watched = project.settings.watch.clone();
        Ok(self)
    }

    /// The application's source prefix; an error when no project was added.
    pub fn source_prefix(&self) -> Result<&str> {
        self.source_prefix
            .as_deref()
            .ok_or_else(|| ObserveError::Project {
                message: "the stack outputs were read without the application's settings \
                          (StackOutputs::with_project)"
                    .to_owned(),
            })
    }

    /// Reads the file named by `EVENTRAIL_STACK_OUTPUTS`.
    pub fn from_env() -> Result<Self> {
        let path = std::env::var_os(OUTPUTS_VAR)
            .filter(|v| !v.is_empty())
            .ok_or(ObserveError::MissingEnvironment {
                variable: OUTPUTS_VAR,
            })?;
        Self::load(Path::new(&path))
    }

    /// Reads a stack outputs file (see [`StackOutputs::parse`] for the shapes accepted).
    pub fn load(path: &Path) -> Result<Self> {
        let fail = |message: String| ObserveError::OutputsFile {
            path: path.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            fail(format!(
                "{e}; `cargo xtask test` writes it after deploying the stack"
            ))
        })?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| fail(format!("not JSON: {e}")))?;
        Self::parse(&value).map_err(fail)
    }

    /// Accepts `{"stack_name", "region", "endpoint", "outputs": {key: value}}`, a flat
    /// `{key: value}` object, a list of `{"OutputKey", "OutputValue"}`, or a DescribeStacks
    /// answer `{"Stacks": [{"Outputs": [...]}]}`.
    pub fn parse(value: &Value) -> Result<Self, String> {
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        if let Some(stacks) = value.get("Stacks").and_then(Value::as_array) {
            let stack = stacks
                .first()
                .ok_or_else(|| "`Stacks` is empty".to_owned())?;
            let mut parsed = Self::parse(stack.get("Outputs").unwrap_or(&Value::Null))?;
            parsed.stack_name = stack
                .get("StackName")
                .and_then(Value::as_str)
                .map(str::to_owned);
            return Ok(parsed);
        }
        let outputs = match value {
            Value::Array(items) => list_outputs(items)?,
            Value::Object(map) => match map.get("outputs").or_else(|| map.get("Outputs")) {
                Some(Value::Object(inner)) => flat_outputs(inner)?,
                Some(Value::Array(items)) => list_outputs(items)?,
                Some(_) => return Err("`outputs` must be an object or a list".to_owned()),
                None => flat_outputs(map)?,
            },
            _ => {
                return Err(
                    "expected an object of outputs (see /work/notes/e2e-env.md for the shape)"
                        .to_owned(),
                );
            }
        };
        if outputs.is_empty() {
            return Err("no outputs in the file".to_owned());
        }
        Ok(Self {
            functions: Vec::new(),
            source_prefix: None,
            watched: Vec::new(),
            stack_name: text("stack_name").or_else(|| text("StackName")),
            region: text("region"),
            endpoint: text("endpoint"),
            outputs,
        })
    }

    /// One output, or an error naming it and listing the ones present.
    pub fn get(&self, key: &str) -> Result<&str> {
        self.outputs
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| ObserveError::MissingOutput {
                key: key.to_owned(),
                present: self.outputs.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }

    /// The event bus name (`EventBusName`).
    pub fn bus_name(&self) -> Result<&str> {
        self.get(EVENT_BUS_NAME_OUTPUT)
    }

    /// The archive ARN (`ArchiveArn`).
    pub fn archive_arn(&self) -> Result<&str> {
        self.get("ArchiveArn")
    }

    /// The archive name (`ArchiveName`).
    pub fn archive_name(&self) -> Result<&str> {
        self.get("ArchiveName")
    }

    /// The event bus ARN (`EventBusArn`).
    pub fn bus_arn(&self) -> Result<&str> {
        self.get("EventBusArn")
    }

    /// The URLs of the queues the application declares watched, in their declared order; an
    /// error names a declared queue whose output the stack lacks.
    pub fn watched_queues(&self) -> Result<Vec<WatchedQueueUrl>> {
        self.watched
            .iter()
            .map(|queue| {
                Ok(WatchedQueueUrl {
                    name: queue.name.clone(),
                    url: self.get(&queue.output)?.to_owned(),
                })
            })
            .collect()
    }

    /// `function` when the application declares it, else an error listing the functions.
    pub fn declared_function<'a>(&self, function: &'a str) -> Result<&'a str> {
        if self.functions.iter().any(|f| f == function) {
            Ok(function)
        } else {
            Err(ObserveError::UnknownFunction {
                name: function.to_owned(),
                known: self.functions.join(", "),
            })
        }
    }

    /// The deployed name of `function` (`worker` -> output `WorkerFunctionName`).
    pub fn function_name(&self, function: &str) -> Result<&str> {
        self.get(&names_of(&logical_id(function)).function_name())
    }

    /// The failure queue URL of `function` (`<Function>FailureQueueUrl`).
    pub fn failure_queue_url(&self, function: &str) -> Result<&str> {
        self.get(&names_of(&logical_id(function)).failure_queue_url())
    }

    /// The rule-target dead-letter queue URL of `function` (`<Function>DeliveryDlqUrl`).
    pub fn delivery_dlq_url(&self, function: &str) -> Result<&str> {
        self.get(&names_of(&logical_id(function)).delivery_dlq_url())
    }

    /// Every failure queue and delivery dead-letter queue of the stack, by function.
    pub fn failure_queues(&self) -> Vec<FailureQueue> {
        let mut queues = Vec::new();
        for function in &self.functions {
            let id = logical_id(function);
            let names = names_of(&id);
            for (layer, key) in [
                (FailureLayer::Function, names.failure_queue_url()),
                (FailureLayer::Delivery, names.delivery_dlq_url()),
            ] {
                if let Some(url) = self.outputs.get(&key) {
                    queues.push(FailureQueue {
                        function: function.clone(),
                        layer,
                        url: url.clone(),
                    });
                }
            }
        }
        queues.sort_by(|a, b| (&a.function, a.layer).cmp(&(&b.function, b.layer)));
        queues
    }
}

fn flat_outputs(map: &serde_json::Map<String, Value>) -> Result<BTreeMap<String, String>, String> {
    let mut outputs = BTreeMap::new();
    for (key, value) in map {
        match value {
            Value::String(s) => {
                outputs.insert(key.clone(), s.clone());
            }
            Value::Number(n) => {
                outputs.insert(key.clone(), n.to_string());
            }
            // Metadata fields next to the outputs in a flat file.
            _ if matches!(key.as_str(), "stack_name" | "region" | "endpoint") => {}
            other => return Err(format!("output `{key}` is not a string: {other}")),
        }
    }
    for meta in ["stack_name", "region", "endpoint"] {
        outputs.remove(meta);
    }
    Ok(outputs)
}

fn list_outputs(items: &[Value]) -> Result<BTreeMap<String, String>, String> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let key = item.get("OutputKey").and_then(Value::as_str);
            let value = item.get("OutputValue").and_then(Value::as_str);
            match (key, value) {
                (Some(k), Some(v)) => Ok((k.to_owned(), v.to_owned())),
                _ => Err(format!(
                    "outputs[{i}] needs string fields OutputKey and OutputValue"
                )),
            }
        })
        .collect()
}

/// The output names of a function's resources: the generator writes them from the same type.
fn names_of(logical_id: &str) -> FunctionOutputs<'_> {
    FunctionOutputs { logical_id }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_preferred_shape() {
        let parsed = StackOutputs::parse(&json!({
            "stack_name": "eventrail-local",
            "region": "us-east-1",
            "endpoint": "http://127.0.0.1:4566",
            "outputs": {
                "EventBusName": "eventrail-local",
                "WorkerFailureQueueUrl": "http://q/worker-failure",
                "WorkerDeliveryDlqUrl": "http://q/worker-dlq",
                "IntakeFailureQueueUrl": "http://q/intake-failure",
                "WorkerFunctionName": "eventrail-local-worker"
            }
        }))
        .unwrap();
        assert_eq!(parsed.stack_name.as_deref(), Some("eventrail-local"));
        assert_eq!(parsed.bus_name().unwrap(), "eventrail-local");
        assert_eq!(
            parsed.function_name("worker").unwrap(),
            "eventrail-local-worker"
        );
        assert_eq!(
            parsed.failure_queue_url("worker").unwrap(),
            "http://q/worker-failure"
        );
        let mut parsed = parsed;
        parsed.functions = vec!["intake".into(), "worker".into(), "gift-wrap".into()];
        parsed.outputs.insert(
            "GiftWrapFailureQueueUrl".into(),
            "http://q/gift-wrap".into(),
        );
        let queues = parsed.failure_queues();
        let summary: Vec<_> = queues
            .iter()
            .map(|q| (q.function.as_str(), q.layer))
            .collect();
        assert_eq!(
            summary,
            [
                ("gift-wrap", FailureLayer::Function),
                ("intake", FailureLayer::Function),
                ("worker", FailureLayer::Function),
                ("worker", FailureLayer::Delivery),
            ]
        );
    }

    #[test]
    fn reads_flat_and_cloudformation_shapes() {
        let flat =
            StackOutputs::parse(&json!({"EventBusName": "b", "region": "eu-west-1"})).unwrap();
        assert_eq!(flat.bus_name().unwrap(), "b");
        assert_eq!(flat.region.as_deref(), Some("eu-west-1"));
        assert!(!flat.outputs.contains_key("region"));

        let described = StackOutputs::parse(&json!({"Stacks": [{
            "StackName": "s",
            "Outputs": [{"OutputKey": "EventBusName", "OutputValue": "b2"}]
        }]}))
        .unwrap();
        assert_eq!(described.bus_name().unwrap(), "b2");
        assert_eq!(described.stack_name.as_deref(), Some("s"));

        let list =
            StackOutputs::parse(&json!([{"OutputKey": "NoticesQueueUrl", "OutputValue": "u"}]))
                .unwrap();
        assert_eq!(list.get("NoticesQueueUrl").unwrap(), "u");
    }

    #[test]
    fn errors_name_the_missing_output_and_the_bad_field() {
        let parsed = StackOutputs::parse(&json!({"outputs": {"EventBusName": "b"}})).unwrap();
        let error = parsed.get("NoticesQueueUrl").unwrap_err().to_string();
        assert!(error.contains("`NoticesQueueUrl`"), "{error}");
        assert!(error.contains("EventBusName"), "{error}");

        let error = StackOutputs::parse(&json!([{"OutputKey": "x"}])).unwrap_err();
        assert!(error.contains("outputs[0]"), "{error}");
        let error = StackOutputs::parse(&json!({"outputs": {}})).unwrap_err();
        assert!(error.contains("no outputs"), "{error}");
    }

    #[test]
    fn watches_the_queues_the_app_declares_and_no_other() {
        let outputs = StackOutputs::parse(&json!({"outputs": {
            "EventBusName": "b",
            "NoticesQueueUrl": "http://q/notices",
            "AuditQueueUrl": "http://q/audit"
        }}))
        .unwrap();
        assert!(
            outputs.watched_queues().unwrap().is_empty(),
            "an app that declares no watched queue has none, whatever its outputs"
        );
        let declare = |name: &str, output: &str| WatchedQueue {
            name: name.to_owned(),
            output: output.to_owned(),
        };
        let declared = StackOutputs {
            watched: vec![
                declare("notices", "NoticesQueueUrl"),
                declare("audit", "AuditQueueUrl"),
            ],
            ..outputs.clone()
        };
        assert_eq!(
            declared.watched_queues().unwrap(),
            [
                WatchedQueueUrl {
                    name: "notices".into(),
                    url: "http://q/notices".into()
                },
                WatchedQueueUrl {
                    name: "audit".into(),
                    url: "http://q/audit".into()
                },
            ]
        );
        let missing = StackOutputs {
            watched: vec![declare("ledger", "LedgerQueueUrl")],
            ..outputs
        };
        let error = missing.watched_queues().unwrap_err().to_string();
        assert!(error.contains("`LedgerQueueUrl`"), "{error}");
    }
}
