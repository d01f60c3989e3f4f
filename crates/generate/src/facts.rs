//! What the generator reads from the hand-written part of the template: the functions' default
//! timeout (`Globals.Function.Timeout`), the queues written there (a `queue = "<id>"` trigger
//! names one), and whether the operators' parameter exists.

use std::collections::BTreeMap;
use std::path::Path;

use eventrail_contract::names::{HAS_TRUSTED_PUBLISHERS_CONDITION, TRUSTED_PUBLISHERS_PARAMETER};
use eventrail_model::declared::GenerateError;
use serde_json::Value;

/// Lambda's own default timeout, when neither the function nor `Globals` sets one.
const LAMBDA_DEFAULT_TIMEOUT: u32 = 3;

/// Facts of the hand-written template.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    /// `Globals.Function.Timeout`, else Lambda's default.
    pub(crate) default_timeout: u32,
    /// Resource types by logical id (the hand-written resources only).
    pub(crate) resources: BTreeMap<String, String>,
    /// The template has `TrustedPublisherArns` and `HasTrustedPublishers`.
    pub(crate) trusted_publishers: bool,
}

impl Facts {
    /// Reads them from the template text with its generated part taken out.
    pub(crate) fn read(outside: &str, file: &str) -> Result<Self, GenerateError> {
        let json =
            eventrail_model::yaml_to_json(outside, Path::new(file)).map_err(|e| GenerateError {
                file: file.to_owned(),
                message: format!("cannot read the template: {e}"),
            })?;
        let default_timeout = json
            .pointer("/Globals/Function/Timeout")
            .and_then(Value::as_u64)
            .and_then(|t| u32::try_from(t).ok())
            .unwrap_or(LAMBDA_DEFAULT_TIMEOUT);
        let resources = json
            .get("Resources")
            .and_then(Value::as_object)
            .map(|r| {
                r.iter()
                    .filter_map(|(id, v)| Some((id.clone(), v.get("Type")?.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        let has = |section: &str, key: &str| {
            json.get(section)
                .and_then(Value::as_object)
                .is_some_and(|s| s.contains_key(key))
        };
        Ok(Facts {
            default_timeout,
            resources,
            trusted_publishers: has("Parameters", TRUSTED_PUBLISHERS_PARAMETER)
                && has("Conditions", HAS_TRUSTED_PUBLISHERS_CONDITION),
        })
    }
}
