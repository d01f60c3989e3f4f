//! Which functions receive an event: the template's rules, matched offline by the pattern
//! engine (the same rules the deployed bus runs).

use std::path::Path;

use eventrail_pattern::{Pattern, RuleMachine};
use eventrail_template::Template;
use serde_json::Value;

/// The rules of a template, compiled.
#[derive(Debug, Clone)]
pub struct Routes {
    machine: RuleMachine<Vec<String>>,
}

impl Routes {
    /// Compiles every rule of `template` that has a pattern; the error names the rule.
    pub fn from_template(template: &Template) -> Result<Self, String> {
        let mut machine = RuleMachine::new();
        for rule in template.rules() {
            let Some(pattern) = &rule.pattern else {
                continue;
            };
            let compiled = Pattern::from_value(pattern).map_err(|e| {
                format!(
                    "{}: rule {} has an invalid pattern: {e}",
                    template.file().display(),
                    rule.logical_id
                )
            })?;
            let functions = rule
                .target_functions()
                .map(|id| {
                    template
                        .function(id)
                        .map_or(id, |f| f.display_name())
                        .to_owned()
                })
                .collect();
            machine.add_rule(functions, &compiled);
        }
        Ok(Self { machine })
    }

    /// Loads `infra/template.yaml` (or another template) and compiles its rules.
    pub fn load(path: &Path) -> Result<Self, String> {
        let template = Template::load(path).map_err(|e| e.to_string())?;
        Self::from_template(&template)
    }

    /// The functions `event` is delivered to, sorted, each once.
    pub fn functions_for(&self, event: &Value) -> Vec<String> {
        let mut functions: Vec<String> = self
            .machine
            .matching_rules(event)
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        functions.sort();
        functions.dedup();
        functions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn repo_file(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(path)
    }

    fn sample(name: &str) -> Value {
        let text = std::fs::read_to_string(repo_file(&format!("events/samples/{name}"))).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn routes_the_samples_as_the_catalog_documents() {
        let routes = Routes::load(&repo_file("infra/template.yaml")).unwrap();
        let consumers: serde_json::Map<String, Value> = serde_json::from_str(
            &std::fs::read_to_string(repo_file("events/consumers.json")).unwrap(),
        )
        .unwrap();
        for (name, expected) in consumers {
            let expected: Vec<String> = serde_json::from_value(expected).unwrap();
            assert_eq!(routes.functions_for(&sample(&name)), expected, "{name}");
        }
    }
}
