//! One compiled event pattern, and how a pattern joins a [`RuleMachine`].

use std::str::FromStr;

use serde_json::Value;

use crate::error::{EventError, PatternError};
use crate::machine::RuleMachine;
use crate::numbers::number_spellings;
use crate::parse::{SubRule, parse_pattern, parse_pattern_with};
use crate::paths::PathIndex;
use crate::reference;

/// A validated, compiled EventBridge event pattern.
///
/// ```
/// use eventrail_pattern::Pattern;
/// let pattern = Pattern::parse(r#"{"detail": {"total": [{"numeric": [">", 100]}]}}"#).unwrap();
/// assert!(pattern.matches(&serde_json::json!({"detail": {"total": 250}})));
/// assert!(!pattern.matches(&serde_json::json!({"detail": {"total": "250"}})));
/// let error = Pattern::parse(r#"{"detail": {"total": [{"numeric": [">"]}]}}"#).unwrap_err();
/// assert_eq!(error.to_string(), "detail.total: numeric expects an operator followed by a number");
/// ```
#[derive(Debug, Clone)]
pub struct Pattern {
    alternatives: Vec<SubRule>,
    machine: RuleMachine<()>,
}

impl Pattern {
    /// Parses and validates pattern JSON text.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let value: Value = serde_json::from_str(text).map_err(PatternError::Json)?;
        Ok(Self::compile(parse_pattern_with(
            &value,
            number_spellings(text),
        )?))
    }

    /// Validates and compiles a pattern given as a JSON value.
    ///
    /// A value holds numbers as doubles only; [`Pattern::parse`] also refuses numbers that
    /// the text wrote more precisely than a double holds, as EventBridge does.
    pub fn from_value(pattern: &Value) -> Result<Self, PatternError> {
        Ok(Self::compile(parse_pattern(pattern)?))
    }

    /// The pattern with its one-rule machine, built from the alternatives once.
    fn compile(alternatives: Vec<SubRule>) -> Self {
        let mut machine = RuleMachine::new();
        machine.add_alternatives((), &alternatives);
        Self {
            alternatives,
            machine,
        }
    }

    /// Whether the pattern matches a parsed event (an event that is not a JSON object
    /// matches nothing, and so does one past a limit of the engine: see
    /// [`Pattern::try_matches`]).
    pub fn matches(&self, event: &Value) -> bool {
        !self.machine.matching_rules(event).is_empty()
    }

    /// Whether the pattern matches a parsed event, or the limit the event went past
    /// ([`EventError::TooDeep`], [`EventError::TooComplex`]).
    pub fn try_matches(&self, event: &Value) -> Result<bool, EventError> {
        Ok(!self.machine.try_matching_rules(event)?.is_empty())
    }

    /// Whether the pattern matches an event given as raw JSON bytes.
    pub fn matches_json(&self, event: &[u8]) -> Result<bool, EventError> {
        Ok(!self.machine.matching_rules_json(event)?.is_empty())
    }

    /// Number of alternatives the pattern expands to through `$or` (1 without `$or`).
    pub fn alternative_count(&self) -> usize {
        self.alternatives.len()
    }

    /// A straightforward evaluator that does not use the machine: one backtracking
    /// search per alternative. Slow; exists to cross-check the machine in tests.
    #[doc(hidden)]
    pub fn matches_reference(&self, event: &Value) -> bool {
        reference::matches(&self.alternatives, event)
    }

    pub(crate) fn sub_rules(&self) -> &[SubRule] {
        &self.alternatives
    }

    /// The paths the pattern names, as its machine reads events by them.
    pub(crate) fn path_index(&self) -> &PathIndex {
        self.machine.path_index()
    }
}

impl<R> RuleMachine<R> {
    /// Adds a rule: `id` is returned for every event the pattern matches.
    pub fn add_rule(&mut self, id: R, pattern: &Pattern) {
        self.add_alternatives(id, &pattern.alternatives);
    }
}

impl FromStr for Pattern {
    type Err = PatternError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}
