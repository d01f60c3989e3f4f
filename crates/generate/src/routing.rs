//! The routing index: which functions each sample reaches, from the declarations alone.

use std::collections::{BTreeMap, BTreeSet};

use eventrail_contract::{AppSettings, CatalogIndex, FunctionDeclaration};
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
