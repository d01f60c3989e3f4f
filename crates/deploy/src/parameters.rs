//! The stack's parameters: samconfig's environment, with the operator's values on top, key by
//! key.
//!
//! Why this exists: with the pinned SAM CLI, `sam deploy --config-env prod
//! --parameter-overrides A=1` *replaces* the environment's `parameter_overrides` instead of
//! adding to them (aws-sam-cli #2380), so a prod deploy that adds the alarm topic silently
//! loses `Stage=prod` and gets the template's defaults. Here an operator's value replaces only
//! the parameter it names.

use std::collections::{BTreeMap, BTreeSet};

use eventrail_model::split_words;

/// Where a parameter's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The samconfig environment's `parameter_overrides`.
    Samconfig,
    /// The operator (`--parameter-overrides`, or an answer of `--guided`).
    Operator,
}

/// The parameters a deploy sends, each with where it came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parameters {
    values: BTreeMap<String, (String, Source)>,
}

impl Parameters {
    /// samconfig's values, then the operator's on top (an operator's key replaces only that key).
    pub fn merge(
        samconfig: &BTreeMap<String, String>,
        operator: &BTreeMap<String, String>,
    ) -> Self {
        let mut values: BTreeMap<String, (String, Source)> = samconfig
            .iter()
            .map(|(k, v)| (k.clone(), (v.clone(), Source::Samconfig)))
            .collect();
        for (key, value) in operator {
            values.insert(key.clone(), (value.clone(), Source::Operator));
        }
        Self { values }
    }

    /// Sets one value (the host's `Architecture` on LocalStack, say).
    pub fn set(&mut self, key: &str, value: &str, source: Source) {
        self.values
            .insert(key.to_owned(), (value.to_owned(), source));
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|(v, _)| v.as_str())
    }

    /// Where `key`'s value came from.
    pub fn source(&self, key: &str) -> Option<Source> {
        self.values.get(key).map(|(_, s)| *s)
    }

    /// The values the template declares (CloudFormation refuses a parameter it does not
    /// declare); the others are returned as the second element, to be reported.
    pub fn for_template(
        &self,
        declared: &BTreeSet<String>,
    ) -> (BTreeMap<String, String>, Vec<String>) {
        let mut sent = BTreeMap::new();
        let mut unknown = Vec::new();
        for (key, (value, _)) in &self.values {
            if declared.contains(key) {
                sent.insert(key.clone(), value.clone());
            } else {
                unknown.push(key.clone());
            }
        }
        (sent, unknown)
    }

    /// Every value, by key.
    pub fn values(&self) -> BTreeMap<String, String> {
        self.values
            .iter()
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect()
    }
}

/// A `--parameter-overrides` entry that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error(
    "--parameter-overrides: `{entry}` is not `Key=Value` (or SAM's `ParameterKey=Key,ParameterValue=Value`)"
)]
pub struct BadOverride {
    /// The entry as given.
    pub entry: String,
}

/// The operator's `--parameter-overrides` entries: `Key=Value`, or SAM's
/// `ParameterKey=Key,ParameterValue=Value`; a value may hold `=` and be quoted; one argument
/// may hold several entries separated by spaces, as SAM's does.
pub fn parse_overrides(arguments: &[String]) -> Result<BTreeMap<String, String>, BadOverride> {
    let mut values = BTreeMap::new();
    for argument in arguments {
        let entries = split_words(argument).ok_or_else(|| BadOverride {
            entry: argument.clone(),
        })?;
        for entry in entries {
            let (key, value) = parse_one(&entry).ok_or(BadOverride { entry })?;
            values.insert(key, value);
        }
    }
    Ok(values)
}

fn parse_one(entry: &str) -> Option<(String, String)> {
    let entry = entry.trim();
    if let Some(rest) = entry.strip_prefix("ParameterKey=") {
        let (key, value) = rest.split_once(",ParameterValue=")?;
        return valid(key, value);
    }
    let (key, value) = entry.split_once('=')?;
    valid(key, value)
}

fn valid(key: &str, value: &str) -> Option<(String, String)> {
    let key = key.trim();
    if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let value = value.trim();
    let unquoted = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    Some((key.to_owned(), unquoted.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn an_operator_value_replaces_only_its_own_key() {
        let samconfig = map(&[
            ("Stage", "prod"),
            ("BusName", "bus-prod"),
            ("AlarmTopicArn", ""),
        ]);
        let operator = map(&[("AlarmTopicArn", "arn:aws:sns:us-east-1:1:oncall")]);
        let merged = Parameters::merge(&samconfig, &operator);
        assert_eq!(merged.get("Stage"), Some("prod"));
        assert_eq!(merged.get("BusName"), Some("bus-prod"));
        assert_eq!(
            merged.get("AlarmTopicArn"),
            Some("arn:aws:sns:us-east-1:1:oncall")
        );
        assert_eq!(merged.source("Stage"), Some(Source::Samconfig));
        assert_eq!(merged.source("AlarmTopicArn"), Some(Source::Operator));
    }

    #[test]
    fn undeclared_parameters_are_left_out_and_named() {
        let merged = Parameters::merge(&map(&[("Stage", "dev"), ("Typo", "x")]), &BTreeMap::new());
        let declared: BTreeSet<String> = ["Stage".to_owned()].into();
        let (sent, unknown) = merged.for_template(&declared);
        assert_eq!(sent, map(&[("Stage", "dev")]));
        assert_eq!(unknown, vec!["Typo".to_owned()]);
    }

    #[test]
    fn overrides_read_both_spellings_and_quotes() {
        let parsed = parse_overrides(&[
            "AlarmTopicArn=arn:aws:sns:us-east-1:1:t".to_owned(),
            "ParameterKey=TrustedPublisherArns,ParameterValue=arn:aws:iam::1:role/a".to_owned(),
            "Schedule=\"rate(1 minute)\"".to_owned(),
            "Expr=a=b".to_owned(),
            "One=1 Two=\"x y\"".to_owned(),
        ])
        .unwrap_or_default();
        assert_eq!(parsed["AlarmTopicArn"], "arn:aws:sns:us-east-1:1:t");
        assert_eq!(parsed["TrustedPublisherArns"], "arn:aws:iam::1:role/a");
        assert_eq!(parsed["Schedule"], "rate(1 minute)");
        assert_eq!(parsed["Expr"], "a=b");
        assert_eq!(parsed["One"], "1");
        assert_eq!(parsed["Two"], "x y");
    }

    #[test]
    fn a_bad_override_is_named() {
        let error = parse_overrides(&["novalue".to_owned()]).err();
        assert!(error.is_some_and(|e| e.to_string().contains("`novalue`")));
        assert!(parse_overrides(&["bad key=1".to_owned()]).is_err());
    }
}
