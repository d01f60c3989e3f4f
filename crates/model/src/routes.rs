//! Offline routing: every rule of a template compiled into one pattern machine, so an event's
//! receivers are found the way the bus finds them, without AWS. A rule that targets a queue
//! a function polls (a buffered consumer's buffer) reaches that function through the queue.

use std::path::Path;

use eventrail_pattern::{Pattern, RuleMachine};
use serde_json::Value;

use crate::error::TemplateError;
use crate::template::Template;

/// One rule of the template and the functions it targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The rule's logical id (for SAM events: function id + event name).
    pub rule: String,
    /// The functions the rule reaches, by binary name where known: the ones it invokes, then
    /// the ones polling a queue it targets.
    pub functions: Vec<String>,
    /// Logical ids of the queues it reaches functions through (a buffered consumer's buffer).
    pub queues: Vec<String>,
}

/// All the template's rules with an event pattern, compiled into one machine.
#[derive(Debug, Clone)]
pub struct Router {
    machine: RuleMachine<Route>,
}

impl Router {
    /// Compiles every rule with an event pattern; an invalid pattern is an error naming its rule.
    pub fn from_template(template: &Template) -> Result<Self, TemplateError> {
        let mut machine = RuleMachine::new();
        for rule in template.rules() {
            let Some(pattern) = &rule.pattern else {
                continue;
            };
            let compiled = Pattern::from_value(pattern).map_err(|e| TemplateError::Invalid {
                file: template.file().to_path_buf(),
                path: format!("rule {}", rule.logical_id),
                message: format!("invalid event pattern: {e}"),
            })?;
            let name = |id: &str| {
                template
                    .function(id)
                    .map_or(id, |f| f.display_name())
                    .to_owned()
            };
            let mut functions: Vec<String> = rule.target_functions().map(name).collect();
            let mut queues = Vec::new();
            for queue in rule.targets.iter().filter_map(|t| t.resource.as_deref()) {
                for mapping in template.mappings_from(queue) {
                    if !queues.iter().any(|q| q == queue) {
                        queues.push(queue.to_owned());
                    }
                    let function = name(&mapping.function);
                    if !functions.contains(&function) {
                        functions.push(function);
                    }
                }
            }
            let route = Route {
                rule: rule.logical_id.clone(),
                functions,
                queues,
            };
            machine.add_rule(route, &compiled);
        }
        Ok(Self { machine })
    }

    /// Loads a template and compiles its rules.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, TemplateError> {
        Self::from_template(&Template::load(path.as_ref())?)
    }

    /// The rules matching `event`, in template order.
    pub fn routes(&self, event: &Value) -> Vec<&Route> {
        self.machine.matching_rules(event)
    }

    /// The rules matching an event given as JSON text, in template order: the engine's
    /// one reading of event text (`RuleMachine::matching_rules_json`), which `eventrail
    /// pattern test` and `pattern conformance` use too. Prefer it to [`Router::routes`]
    /// wherever the text is at hand: a parsed value keeps only the double of a number
    /// that its text wrote more precisely (EventBridge compares such a number by text).
    pub fn routes_json(&self, event: &[u8]) -> Result<Vec<&Route>, eventrail_pattern::EventError> {
        self.machine.matching_rules_json(event)
    }

    /// The functions `event` is delivered to, sorted, each once.
    pub fn functions_for(&self, event: &Value) -> Vec<String> {
        let mut functions: Vec<String> = self
            .routes(event)
            .into_iter()
            .flat_map(|route| route.functions.iter().cloned())
            .collect();
        functions.sort();
        functions.dedup();
        functions
    }
}
