//! The whole system as one model for the offline tools (`eventrail graph`, `lint`,
//! `catalog`): the declarations, the catalog with each event's schema, and every rule (the
//! ones the declarations generate, computed from the declarations themselves, plus the
//! template's hand-written ones), with the pattern analysis that says which catalog events a
//! rule can match, decided against each event's source, detail-type and schema.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use eventrail_contract::{CatalogEvent, FunctionDeclaration};
use eventrail_pattern::{Alternative, Domain, FieldTest, Pattern};
use serde_json::Value;

use crate::app::{App, AppError};
use crate::declared::rule_pattern;
use crate::error::TemplateError;
use crate::resources::RuleOrigin;
use crate::samconfig::SamConfig;
use crate::schema::{Lookup, Schema, SchemaError};
use crate::template::Template;
use crate::triggers::{FunctionTrigger, failure_queue, trigger_of};

/// The SAM CLI's configuration, at the project's root.
const SAMCONFIG: &str = "samconfig.toml";

/// Envelope fields EventBridge always sets (a test on them holds for some value).
const ALWAYS_PRESENT: [&str; 5] = ["version", "id", "account", "time", "region"];

/// A problem loading the system; names the file.
#[derive(Debug, thiserror::Error)]
pub enum SystemError {
    /// Settings, catalog index, declarations.
    #[error(transparent)]
    App(#[from] AppError),
    /// The template.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// An event's schema.
    #[error(transparent)]
    Schema(#[from] SchemaError),
}

/// One rule of the system.
#[derive(Debug, Clone)]
pub struct FlowRule {
    /// Logical id of the `AWS::Events::Rule` (SAM's `<Function><Event>` for a declared rule).
    pub id: String,
    /// The name people use: the declared rule name (`FlaggedTaskCreated`), or the id.
    pub name: String,
    /// Names of the functions it invokes.
    pub functions: Vec<String>,
    /// Logical ids of its other targets (queues, buses, ...).
    pub targets: Vec<String>,
    /// The event pattern.
    pub pattern: Value,
    /// The compiled pattern.
    pub compiled: Pattern,
    /// Where it is written: the declaring `Cargo.toml`, or the template.
    pub file: PathBuf,
    /// The function whose declaration generates it, if any.
    pub declared_by: Option<String>,
    /// Logical id of its targets' delivery dead-letter queue, as the template has it.
    pub dead_letter: Option<String>,
    /// Logical id of the queue it reaches its functions through (a buffered consumer's
    /// buffer: rule -> queue -> function), if any.
    pub buffer: Option<String>,
}

impl FlowRule {
    /// The `detail` part of the pattern (the content filter), if any.
    pub fn filter(&self) -> Option<&Value> {
        self.pattern.get("detail")
    }

    /// The content filter in short form, paths shortened to what tells fields apart
    /// (`priority > 3 or team not in [core, ops, …]`).
    pub fn filter_summary(&self) -> Option<String> {
        let filter = self.filter()?;
        let pattern = Pattern::from_value(&serde_json::json!({ "detail": filter })).ok()?;
        let alternatives = pattern.alternatives();
        let paths: Vec<&str> = alternatives
            .iter()
            .flat_map(|a| a.fields.iter().map(|f| f.path.as_str()))
            .collect();
        let common = common_prefix(&paths);
        Some(
            alternatives
                .iter()
                .map(|a| {
                    a.summary_with(|p| {
                        let short = p.strip_prefix(common.as_str()).unwrap_or(p);
                        if short.is_empty() {
                            p.rsplit('.').next().unwrap_or(p).to_owned()
                        } else {
                            short.to_owned()
                        }
                    })
                })
                .collect::<Vec<_>>()
                .join(" or "),
        )
    }
}

/// The longest prefix of dotted segments (ending with `.`) shared by all paths, keeping at
/// least the last segment of each.
fn common_prefix(paths: &[&str]) -> String {
    let Some(first) = paths.first() else {
        return String::new();
    };
    let mut segments: Vec<&str> = first.split('.').collect();
    segments.pop();
    for path in &paths[1..] {
        let other: Vec<&str> = path.split('.').collect();
        let shared = segments
            .iter()
            .zip(other.iter().take(other.len().saturating_sub(1)))
            .take_while(|(a, b)| a == b)
            .count();
        segments.truncate(shared);
    }
    if segments.is_empty() {
        String::new()
    } else {
        format!("{}.", segments.join("."))
    }
}

/// A field a rule's filter tests that an event's schema does not have.
#[derive(Debug, Clone, PartialEq)]
pub struct UnknownField {
    /// The pattern's path (`detail.data.task.budgt_cents`).
    pub path: String,
    /// What the schema says (the existing names, a suggestion).
    pub lookup: Lookup,
}

/// The system: declarations, catalog, schemas, template and rules.
#[derive(Debug, Clone)]
pub struct System {
    /// Declarations, catalog index, project settings.
    pub app: App,
    /// The template.
    pub template: Template,
    /// Each catalog event's schema, by detail-type.
    pub schemas: BTreeMap<String, Schema>,
    /// Every rule: the declared ones (from the declarations, in function order), then the
    /// template's others.
    pub rules: Vec<FlowRule>,
    /// Rules whose pattern does not compile: (file, rule, message).
    pub invalid_rules: Vec<(PathBuf, String, String)>,
    /// `samconfig.toml` at the project's root, when there is one (the stages' overrides).
    pub samconfig: Option<SamConfig>,
}

impl System {
    /// Loads the system rooted at `root`.
    pub fn load(root: impl Into<PathBuf>) -> Result<Self, SystemError> {
        let app = App::load(root)?;
        let template = Template::load(app.project.template_path())?;
        Self::from_parts(app, template)
    }

    /// The system of an already loaded application and template (schemas are read).
    pub fn from_parts(app: App, template: Template) -> Result<Self, SystemError> {
        let index_dir = app
            .project
            .catalog_path()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| app.project.root.clone());
        let mut schemas = BTreeMap::new();
        for event in &app.catalog.events {
            schemas.insert(
                event.detail_type.clone(),
                Schema::load(index_dir.join(&event.schema))?,
            );
        }
        let samconfig_path = app.project.root.join(SAMCONFIG);
        let samconfig = if samconfig_path.is_file() {
            Some(SamConfig::load(&samconfig_path)?)
        } else {
            None
        };
        let mut system = Self {
            app,
            template,
            schemas,
            rules: Vec::new(),
            invalid_rules: Vec::new(),
            samconfig,
        };
        system.collect_rules();
        Ok(system)
    }

    fn collect_rules(&mut self) {
        let mut rules = Vec::new();
        let mut invalid = Vec::new();
        let catalog = &self.app.catalog;
        let settings = &self.app.project.settings;
        for f in self
            .app
            .functions
            .iter()
            .filter(|f| f.declaration.is_consumer())
        {
            let d = &f.declaration;
            let mut known = f.clone();
            known
                .declaration
                .consumes
                .retain(|t| d.consumes_everything() || catalog.event(t).is_some());
            if known.declaration.consumes.is_empty() {
                continue;
            }
            let manifest = f.dir.join("Cargo.toml");
            let id = format!("{}{}", f.logical_id(), d.rule_name());
            let Ok(pattern) = rule_pattern(&known, catalog, settings) else {
                continue;
            };
            let buffer = self.trigger_of(f).queue().map(|q| q.queue.clone());
            match Pattern::from_value(&pattern) {
                Ok(compiled) => rules.push(FlowRule {
                    dead_letter: self.dead_letter_of(&id, buffer.as_deref()),
                    buffer,
                    id,
                    name: d.rule_name(),
                    functions: vec![f.name.clone()],
                    targets: Vec::new(),
                    pattern,
                    compiled,
                    file: manifest,
                    declared_by: Some(f.name.clone()),
                }),
                Err(e) => invalid.push((manifest, id, format!("filter: {e}"))),
            }
        }
        for rule in self.template.rules() {
            // A declared function's resources are all generated: its rule is the declared one
            // (even when the template is stale, which lint reports on its own).
            if let RuleOrigin::FunctionEvent { function, .. } = &rule.origin
                && self
                    .app
                    .functions
                    .iter()
                    .any(|f| f.logical_id() == *function)
            {
                continue;
            }
            // So is a buffered consumer's rule, which targets its buffer queue.
            if self.targets_declared_buffer(rule) {
                continue;
            }
            let Some(pattern) = rule.pattern.clone() else {
                continue;
            };
            let name = match &rule.origin {
                RuleOrigin::FunctionEvent { event, .. } => event.clone(),
                RuleOrigin::Resource => rule.logical_id.clone(),
            };
            let mut functions: Vec<String> = rule
                .target_functions()
                .map(|id| self.function_name(id))
                .collect();
            let mut targets = Vec::new();
            let mut buffer = None;
            for queue in rule
                .targets
                .iter()
                .filter(|t| t.function.is_none())
                .filter_map(|t| t.resource.clone())
            {
                let polled_by: Vec<String> = self
                    .template
                    .mappings_from(&queue)
                    .map(|m| self.function_name(&m.function))
                    .collect();
                if polled_by.is_empty() || buffer.is_some() {
                    targets.push(queue);
                } else {
                    functions.extend(polled_by);
                    buffer = Some(queue);
                }
            }
            match Pattern::from_value(&pattern) {
                Ok(compiled) => rules.push(FlowRule {
                    id: rule.logical_id.clone(),
                    name,
                    functions,
                    targets,
                    pattern,
                    compiled,
                    file: self.template.file().to_path_buf(),
                    declared_by: None,
                    dead_letter: self.dead_letter_of(&rule.logical_id, None),
                    buffer,
                }),
                Err(e) => invalid.push((
                    self.template.file().to_path_buf(),
                    rule.logical_id.clone(),
                    format!("event pattern: {e}"),
                )),
            }
        }
        self.rules = rules;
        self.invalid_rules = invalid;
    }

    /// The delivery dead-letter queue of the template's rule with this id, or of the one
    /// that targets `buffer`.
    fn dead_letter_of(&self, rule_id: &str, buffer: Option<&str>) -> Option<String> {
        let rules = self.template.rules();
        let rule = rules.iter().find(|r| r.logical_id == rule_id).or_else(|| {
            let buffer = buffer?;
            rules.iter().find(|r| {
                r.targets
                    .iter()
                    .any(|t| t.resource.as_deref() == Some(buffer))
            })
        })?;
        rule.targets
            .iter()
            .find_map(|t| t.dead_letter.as_ref()?.queue.clone())
    }

    /// Whether a template rule targets the buffer queue of a declared buffered consumer (the
    /// rule its declaration generates).
    fn targets_declared_buffer(&self, rule: &crate::resources::Rule) -> bool {
        self.app.functions.iter().any(|f| {
            let FunctionTrigger::Buffered(buffer) = self.trigger_of(f) else {
                return false;
            };
            rule.targets
                .iter()
                .any(|t| t.resource.as_deref() == Some(buffer.queue.as_str()))
        })
    }

    fn trigger_of(&self, f: &FunctionDeclaration) -> FunctionTrigger {
        trigger_of(f, &self.template, self.samconfig.as_ref())
    }

    /// What starts the declared function `name` (its rule, buffer, route, schedule or queue,
    /// with the template's queues and samconfig's overrides); `None` for an undeclared one.
    pub fn trigger(&self, name: &str) -> Option<FunctionTrigger> {
        self.app.function(name).map(|f| self.trigger_of(f))
    }

    /// Logical id of the declared function's failure queue (its on-failure destination, or
    /// the queue its `EVENTRAIL_DLQ_URL` names: a buffer's or source queue's redrive target).
    pub fn failure_queue(&self, name: &str) -> Option<String> {
        self.app
            .function(name)
            .map(|f| failure_queue(f, &self.template))
    }

    /// A template function's name as the declarations know it (its binary), else its id.
    pub fn function_name(&self, logical_id: &str) -> String {
        self.app
            .functions
            .iter()
            .find(|f| f.logical_id() == logical_id)
            .map(|f| f.name.clone())
            .or_else(|| {
                self.template
                    .function(logical_id)
                    .map(|f| f.display_name().to_owned())
            })
            .unwrap_or_else(|| logical_id.to_owned())
    }

    /// A path relative to the project root, for messages.
    pub fn relative(&self, path: &Path) -> String {
        path.strip_prefix(&self.app.project.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// The catalog event with this detail-type.
    pub fn event(&self, detail_type: &str) -> Option<&CatalogEvent> {
        self.app.catalog.event(detail_type)
    }

    /// The fields of `detail_type`'s `detail` its schema marks personal (`"x-personal":
    /// true`), as paths under `detail` (`data.customer.email`; `[]`: each element of an
    /// array); empty for an unknown detail-type.
    pub fn personal_paths(&self, detail_type: &str) -> Vec<String> {
        self.schemas
            .get(detail_type)
            .map(crate::schema::Schema::personal_paths)
            .unwrap_or_default()
    }

    /// The functions that declare they emit `detail_type`.
    pub fn emitters(&self, detail_type: &str) -> Vec<&FunctionDeclaration> {
        self.app
            .functions
            .iter()
            .filter(|f| f.declaration.emits.iter().any(|e| e == detail_type))
            .collect()
    }

    /// The rules that can match events of type `detail_type`.
    pub fn rules_for(&self, detail_type: &str) -> Vec<&FlowRule> {
        match self.event(detail_type) {
            Some(event) => self
                .rules
                .iter()
                .filter(|r| self.matches(r, event))
                .collect(),
            None => Vec::new(),
        }
    }

    /// The catalog events a rule can match.
    pub fn events_of(&self, rule: &FlowRule) -> Vec<&CatalogEvent> {
        self.app
            .catalog
            .events
            .iter()
            .filter(|e| self.matches(rule, e))
            .collect()
    }

    /// Whether some valid event of this type (its source, detail-type and schema) can match
    /// the rule.
    pub fn matches(&self, rule: &FlowRule, event: &CatalogEvent) -> bool {
        rule.compiled
            .alternatives()
            .iter()
            .any(|a| self.alternative_holds(a, event))
    }

    /// Whether the envelope tests of an alternative (source, detail-type) hold for the event:
    /// whether the alternative is meant for this event at all.
    fn aimed_at(&self, alternative: &Alternative, event: &CatalogEvent) -> bool {
        alternative.fields.iter().all(|f| match f.path.as_str() {
            "source" => f
                .conditions
                .iter()
                .any(|c| c.matches_value(&event.source.clone().into())),
            "detail-type" => f
                .conditions
                .iter()
                .any(|c| c.matches_value(&event.detail_type.clone().into())),
            _ => true,
        })
    }

    fn alternative_holds(&self, alternative: &Alternative, event: &CatalogEvent) -> bool {
        alternative
            .fields
            .iter()
            .all(|f| self.field_holds(f, event))
    }

    /// What the schema says about a field the pattern tests: its domains and whether it may
    /// be absent, or `None` when the event has no such field.
    fn field_domain(&self, path: &str, event: &CatalogEvent) -> Option<(Vec<Domain>, bool)> {
        match path {
            "source" => Some((
                vec![Domain::Values(vec![event.source.clone().into()])],
                false,
            )),
            "detail-type" => Some((
                vec![Domain::Values(vec![event.detail_type.clone().into()])],
                false,
            )),
            p if ALWAYS_PRESENT.contains(&p) => Some((vec![Domain::String], false)),
            "resources" | "replay-name" => Some((vec![Domain::String], true)),
            p => {
                let rest = p.strip_prefix("detail.")?;
                match self.schemas.get(&event.detail_type)?.lookup(rest) {
                    Lookup::Found { domains, required } => Some((domains, !required)),
                    Lookup::Missing { .. } => None,
                }
            }
        }
    }

    fn field_holds(&self, test: &FieldTest, event: &CatalogEvent) -> bool {
        match self.field_domain(&test.path, event) {
            Some((domains, may_be_absent)) => {
                test.admits(&domains) || (may_be_absent && test.holds_when_absent())
            }
            None => test.holds_when_absent(),
        }
    }

    /// The fields a rule's content filter tests that the event's schema lacks, for the
    /// alternatives aimed at this event (by source and detail-type).
    pub fn unknown_fields(&self, rule: &FlowRule, event: &CatalogEvent) -> Vec<UnknownField> {
        let Some(schema) = self.schemas.get(&event.detail_type) else {
            return Vec::new();
        };
        let mut out: Vec<UnknownField> = Vec::new();
        for alternative in rule.compiled.alternatives() {
            if !self.aimed_at(&alternative, event) {
                continue;
            }
            for field in &alternative.fields {
                let Some(rest) = field.path.strip_prefix("detail.") else {
                    continue;
                };
                let lookup = schema.lookup(rest);
                if matches!(lookup, Lookup::Missing { .. })
                    && !out.iter().any(|u| u.path == field.path)
                {
                    out.push(UnknownField {
                        path: field.path.clone(),
                        lookup,
                    });
                }
            }
        }
        out
    }

    /// Whether one valid event of this type can match both rules.
    pub fn overlap(&self, a: &FlowRule, b: &FlowRule, event: &CatalogEvent) -> bool {
        let (left, right) = (a.compiled.alternatives(), b.compiled.alternatives());
        left.iter().any(|x| {
            right.iter().any(|y| {
                self.alternative_holds(x, event)
                    && self.alternative_holds(y, event)
                    && x.fields.iter().all(|fx| match y.field(&fx.path) {
                        None => true,
                        Some(fy) => match self.field_domain(&fx.path, event) {
                            Some((domains, may_be_absent)) => {
                                fx.overlaps(fy, &domains, may_be_absent)
                            }
                            None => fx.holds_when_absent() && fy.holds_when_absent(),
                        },
                    })
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_prefixes_keep_a_segment() {
        assert_eq!(
            common_prefix(&[
                "detail.data.task.budget_cents",
                "detail.data.task.a.country"
            ]),
            "detail.data.task."
        );
        assert_eq!(common_prefix(&["detail.data.x"]), "detail.data.");
        assert_eq!(common_prefix(&["a.b", "c.d"]), "");
    }
}
