//! The routing index: which functions each sample reaches, from the declarations alone; and the
//! triggers index: which function each HTTP route, schedule and queue starts.

use std::collections::{BTreeMap, BTreeSet};

use eventrail_contract::{AppSettings, CatalogIndex, FunctionDeclaration, QueueSource, Trigger};
use eventrail_model::declared::{GenerateError, function_error, rule_pattern};
use serde_json::Value;

/// The routing index: for each sample (file name), the functions whose declared rule matches
/// it, computed with the pattern engine from the declarations alone. Checked in beside the
/// samples so a change of routing shows in review; the routing tests compare it with the
/// template's rules.
pub fn consumers_index(
    functions: &[FunctionDeclaration],
    catalog: &CatalogIndex,
    settings: &AppSettings,
    samples: &[(String, Value)],
) -> Result<BTreeMap<String, BTreeSet<String>>, GenerateError> {
    let mut machine = eventrail_pattern::RuleMachine::new();
    for f in functions.iter().filter(|f| f.declaration.is_consumer()) {
        let pattern = rule_pattern(f, catalog, settings)?;
        let compiled = eventrail_pattern::Pattern::from_value(&pattern).map_err(|e| {
            function_error(
                f,
                format!("[package.metadata.eventrail] filter: not a valid event pattern: {e}"),
            )
        })?;
        machine.add_rule(f.name.clone(), &compiled);
    }
    Ok(samples
        .iter()
        .map(|(name, event)| {
            let receivers = machine.matching_rules(event).into_iter().cloned().collect();
            (name.clone(), receivers)
        })
        .collect())
}

/// The routing index as the checked-in file's text.
pub fn consumers_index_text(index: &BTreeMap<String, BTreeSet<String>>) -> String {
    let mut text = serde_json::to_string_pretty(index).unwrap_or_default();
    text.push('\n');
    text
}

/// The triggers index: each HTTP route (`POST /tasks`) with the function it reaches, each
/// scheduled function with its declared expression (a stage may override it), each
/// queue-triggered function with its queue's logical id. Checked in beside the routing index,
/// so a change of what starts a producer shows in review.
pub fn triggers_index(functions: &[FunctionDeclaration]) -> Result<Value, GenerateError> {
    let mut routes = serde_json::Map::new();
    let mut schedules = serde_json::Map::new();
    let mut queues = serde_json::Map::new();
    for f in functions {
        match f.declaration.trigger() {
            Trigger::Http(h) => {
                let route = h.route().map_err(|m| {
                    function_error(f, format!("[package.metadata.eventrail] http: {m}"))
                })?;
                routes.insert(route.to_string(), Value::String(f.name.clone()));
            }
            Trigger::Schedule(s) => {
                schedules.insert(f.name.clone(), Value::String(s.expression));
            }
            Trigger::Queue(q) => {
                let queue = match q {
                    QueueSource::New => format!("{}SourceQueue", f.logical_id()),
                    QueueSource::Existing(id) => id,
                };
                queues.insert(f.name.clone(), Value::String(queue));
            }
            _ => {}
        }
    }
    Ok(serde_json::json!({
        "routes": routes,
        "schedules": schedules,
        "queues": queues,
    }))
}

/// The triggers index as the checked-in file's text.
pub fn triggers_index_text(index: &Value) -> String {
    let mut text = serde_json::to_string_pretty(index).unwrap_or_default();
    text.push('\n');
    text
}
