//! The template's generated part, written between marker lines in the checked-in template, so
//! the result stays reviewable and plain `sam build && sam deploy` keeps working.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use eventrail_contract::names::FAILED_EVENTS_BUCKET;
use eventrail_contract::{AppSettings, CatalogIndex, FunctionDeclaration, Trigger};
use eventrail_model::declared::{GenerateError, function_error};

use crate::bus::{app_sources_bus_policy, failed_events_bucket};
use crate::facts::Facts;
use crate::function::function_resources;
use crate::http::rest_api;
use crate::outputs::function_outputs;
use crate::rollout::rollout_parameter;
use crate::schedule::schedule_parameter;

/// The line that opens the generated resources.
pub const RESOURCES_BEGIN: &str = "  # ==== generated functions: begin (`eventrail infra generate`; edit functions/*/Cargo.toml [package.metadata.eventrail], not these lines) ====";

/// The line that closes them.
pub const RESOURCES_END: &str = "  # ==== generated functions: end ====";

/// The line that opens the generated outputs.
pub const OUTPUTS_BEGIN: &str =
    "  # ==== generated outputs: begin (`eventrail infra generate`) ====";

/// The line that closes them.
pub const OUTPUTS_END: &str = "  # ==== generated outputs: end ====";

/// The line that opens the generated parameters (a scheduled function's expression, a `jwt`
/// function's user pool). A template without them takes no generated parameter.
pub const PARAMETERS_BEGIN: &str =
    "  # ==== generated parameters: begin (`eventrail infra generate`) ====";

/// The line that closes them.
pub const PARAMETERS_END: &str = "  # ==== generated parameters: end ====";

pub(crate) fn replace_between(
    text: &str,
    begin: &str,
    end: &str,
    body: &str,
    file: &str,
) -> Result<String, GenerateError> {
    let missing = |marker: &str| GenerateError {
        file: file.to_owned(),
        message: format!(
            "the marker line `{}` is missing; the generated part of the template sits between \
             the begin and end markers (see README, \"Add a function\")",
            marker.trim()
        ),
    };
    let start = text.find(begin).ok_or_else(|| missing(begin))?;
    let after_begin = start + begin.len();
    let stop = text[after_begin..]
        .find(end)
        .map(|i| after_begin + i)
        .ok_or_else(|| missing(end))?;
    let mut out = String::with_capacity(text.len() + body.len());
    out.push_str(&text[..after_begin]);
    out.push('\n');
    out.push_str(body.trim_start_matches('\n'));
    if !body.is_empty() && !body.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&text[stop..]);
    Ok(out)
}

/// Rewrites the generated sections of `template` (its text; `file` names it in errors) from the
/// declarations. Everything outside the markers is left as it is.
pub fn generate_template(
    template: &str,
    file: &str,
    functions: &[FunctionDeclaration],
    catalog: &CatalogIndex,
    settings: &AppSettings,
) -> Result<String, GenerateError> {
    let outside = strip_between(template, RESOURCES_BEGIN, RESOURCES_END);
    let facts = Facts::read(&strip_between(&outside, OUTPUTS_BEGIN, OUTPUTS_END), file)?;
    let mut ids = BTreeSet::new();
    let mut resources = String::new();
    let mut outputs = String::new();
    let mut parameters = String::new();
    for f in functions {
        let id = f.logical_id();
        if !ids.insert(id.clone()) {
            return Err(function_error(
                f,
                format!("two functions map to the logical id {id}; rename one"),
            ));
        }
        if outside.lines().any(|l| l.trim_end() == format!("  {id}:")) {
            return Err(function_error(
                f,
                format!(
                    "the logical id {id} is already a hand-written resource of {file}; rename the function"
                ),
            ));
        }
        resources.push_str(&function_resources(f, catalog, settings, &facts)?);
        outputs.push_str(&function_outputs(f));
        if let Trigger::Schedule(s) = f.declaration.trigger() {
            parameters.push_str(&schedule_parameter(f, &s));
        }
    }
    parameters.push_str(&rollout_parameter(functions));
    let api = rest_api(functions)?;
    resources.push_str(&api.resources);
    outputs.push_str(&api.outputs);
    parameters.push_str(&api.parameters);
    resources.push_str(&app_sources_bus_policy(
        functions, settings, &outside, file,
    )?);
    if functions
        .iter()
        .any(|f| f.declaration.is_consumer() || f.declaration.trigger().is_sqs_fed())
    {
        resources.push_str(&failed_events_bucket());
        let _ = write!(
            outputs,
            "  {FAILED_EVENTS_BUCKET}Name:\n    Description: Bucket of failed events too large for a queue message (dead letters point at them)\n    Value: !Ref {FAILED_EVENTS_BUCKET}\n"
        );
    }
    let text = replace_between(template, RESOURCES_BEGIN, RESOURCES_END, &resources, file)?;
    let text = replace_between(&text, OUTPUTS_BEGIN, OUTPUTS_END, &outputs, file)?;
    // Templates written before the parameters' markers keep working while they need none.
    if !parameters.is_empty() || text.contains(PARAMETERS_BEGIN) {
        return replace_between(&text, PARAMETERS_BEGIN, PARAMETERS_END, &parameters, file);
    }
    Ok(text)
}

pub(crate) fn strip_between(text: &str, begin: &str, end: &str) -> String {
    match (text.find(begin), text.find(end)) {
        (Some(a), Some(b)) if a < b => format!("{}{}", &text[..a], &text[b..]),
        _ => text.to_owned(),
    }
}
