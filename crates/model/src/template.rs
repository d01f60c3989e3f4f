//! The template: its long-form JSON and the typed model extracted from it, kept in step.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{TemplateError, read_text};
use crate::extract::{Model, extract};
use crate::resources::{Alarm, Archive, Function, Output, Parameter, Queue, QueuePolicy, Rule};
use crate::sources::{ApiRoute, QueueMapping, RestApi, Schedule};
use crate::yaml::yaml_to_json;

/// A parsed template: its long-form JSON and the typed model built from it.
///
/// The model always describes the JSON it holds: change the JSON through
/// [`Template::from_json`] (or [`Template::set_code_uri`]) and the model follows.
#[derive(Debug, Clone)]
pub struct Template {
    file: PathBuf,
    json: Value,
    model: Model,
}

impl Template {
    /// Reads and parses a template file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, TemplateError> {
        let path = path.as_ref();
        Self::parse(&read_text(path)?, path)
    }

    /// Parses template text; `file` names it in error messages.
    pub fn parse(text: &str, file: impl AsRef<Path>) -> Result<Self, TemplateError> {
        let file = file.as_ref();
        let json = yaml_to_json(text, file)?;
        Self::from_json(json, file)
    }

    /// Builds the model from long-form JSON (for instance a modified [`Template::json`]).
    pub fn from_json(json: Value, file: impl AsRef<Path>) -> Result<Self, TemplateError> {
        let file = file.as_ref().to_path_buf();
        let model = extract(&json, &file)?;
        Ok(Template { file, json, model })
    }

    /// The file the template came from (as given to [`Template::load`]/[`Template::parse`]).
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The whole template as long-form JSON (short-form tags normalised, nothing else changed).
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// Gives up the model and returns the JSON.
    pub fn into_json(self) -> Value {
        self.json
    }

    /// The JSON as a compact string, ready for CloudFormation's `TemplateBody`.
    pub fn to_json_string(&self) -> String {
        self.json.to_string()
    }

    /// `Parameters`, by name (lists follow the JSON map's order: sorted, unless serde_json's
    /// `preserve_order` feature is on somewhere in the build).
    pub fn parameters(&self) -> &[Parameter] {
        &self.model.parameters
    }

    /// Functions (`AWS::Serverless::Function` and `AWS::Lambda::Function`), by logical id.
    pub fn functions(&self) -> &[Function] {
        &self.model.functions
    }

    /// A function by logical id (`Planner`).
    pub fn function(&self, logical_id: &str) -> Option<&Function> {
        self.functions().iter().find(|f| f.logical_id == logical_id)
    }

    /// A function by binary (crate) name (`planner`).
    pub fn function_by_binary(&self, binary: &str) -> Option<&Function> {
        self.functions()
            .iter()
            .find(|f| f.binary.as_deref() == Some(binary))
    }

    /// EventBridge rules: SAM `EventBridgeRule` events first (by function logical id), then
    /// `AWS::Events::Rule` resources (by logical id).
    pub fn rules(&self) -> &[Rule] {
        &self.model.rules
    }

    /// Rules with a target that invokes the function with this logical id.
    pub fn rules_for(&self, function: &str) -> impl Iterator<Item = &Rule> {
        self.rules()
            .iter()
            .filter(move |r| r.target_functions().any(|f| f == function))
    }

    /// `AWS::SQS::Queue` resources.
    pub fn queues(&self) -> &[Queue] {
        &self.model.queues
    }

    /// A queue by logical id.
    pub fn queue(&self, logical_id: &str) -> Option<&Queue> {
        self.queues().iter().find(|q| q.logical_id == logical_id)
    }

    /// REST APIs (`AWS::Serverless::Api`, `AWS::ApiGateway::RestApi`).
    pub fn rest_apis(&self) -> &[RestApi] {
        &self.model.sources.rest_apis
    }

    /// The routes of the REST APIs: the functions' SAM `Api` events.
    pub fn api_routes(&self) -> &[ApiRoute] {
        &self.model.sources.api_routes
    }

    /// Schedules that invoke a function of the template (SAM `ScheduleV2` events, then
    /// `AWS::Scheduler::Schedule` resources).
    pub fn schedules(&self) -> &[Schedule] {
        &self.model.sources.schedules
    }

    /// SQS queues feeding functions (SAM `SQS` events, then `AWS::Lambda::EventSourceMapping`
    /// resources).
    pub fn queue_mappings(&self) -> &[QueueMapping] {
        &self.model.sources.queue_mappings
    }

    /// The mappings that read the queue with this logical id.
    pub fn mappings_from(&self, queue: &str) -> impl Iterator<Item = &QueueMapping> {
        self.queue_mappings()
            .iter()
            .filter(move |m| m.queue.as_deref() == Some(queue))
    }

    /// The mappings that feed the function with this logical id.
    pub fn mappings_to(&self, function: &str) -> impl Iterator<Item = &QueueMapping> {
        self.queue_mappings()
            .iter()
            .filter(move |m| m.function == function)
    }

    /// `AWS::SQS::QueuePolicy` resources.
    pub fn queue_policies(&self) -> &[QueuePolicy] {
        &self.model.queue_policies
    }

    /// `AWS::CloudWatch::Alarm` resources.
    pub fn alarms(&self) -> &[Alarm] {
        &self.model.alarms
    }

    /// `AWS::Events::Archive` resources.
    pub fn archives(&self) -> &[Archive] {
        &self.model.archives
    }

    /// `Outputs`, by name.
    pub fn outputs(&self) -> &[Output] {
        &self.model.outputs
    }

    /// The resource with this logical id, as long-form JSON.
    pub fn resource(&self, logical_id: &str) -> Option<&Value> {
        self.json.get("Resources")?.get(logical_id)
    }

    /// The `Type` of the resource with this logical id.
    pub fn resource_type(&self, logical_id: &str) -> Option<&str> {
        self.resource(logical_id)?.get("Type")?.as_str()
    }

    /// Replaces a function's code location: `CodeUri` for a SAM function (an
    /// `s3://bucket/key` string or `{"Bucket": .., "Key": ..}`), `Code` for a plain Lambda
    /// function. Build `Metadata` is left alone.
    pub fn set_code_uri(&mut self, logical_id: &str, code: Value) -> Result<(), TemplateError> {
        let known = || {
            self.functions()
                .iter()
                .map(|f| f.logical_id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(function) = self.function(logical_id) else {
            return Err(TemplateError::NotFound {
                file: self.file.clone(),
                what: "function",
                name: logical_id.to_owned(),
                known: known(),
            });
        };
        let key = if function.resource_type == "AWS::Lambda::Function" {
            "Code"
        } else {
            "CodeUri"
        };
        let props = self
            .json
            .get_mut("Resources")
            .and_then(|r| r.get_mut(logical_id))
            .and_then(Value::as_object_mut)
            .map(|r| {
                r.entry("Properties")
                    .or_insert_with(|| Value::Object(Default::default()))
            })
            .and_then(Value::as_object_mut)
            .ok_or_else(|| {
                TemplateError::invalid(
                    &self.file,
                    format!("Resources.{logical_id}.Properties"),
                    "must be a mapping",
                )
            })?;
        props.insert(key.to_owned(), code.clone());
        if let Some(f) = self
            .model
            .functions
            .iter_mut()
            .find(|f| f.logical_id == logical_id)
        {
            f.code_uri = Some(code);
        }
        Ok(())
    }
}
