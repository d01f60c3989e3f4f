//! Why a pattern matched an event, or why not: per alternative, the value and condition
//! that satisfied each field, or the first field (in path order) and operator that
//! failed, as typed values (for a user interface) that also read as text:
//!
//! ```
//! use eventrail_pattern::{AlternativeOutcome, FailureReason, Pattern};
//! let pattern = Pattern::parse(r#"{"detail": {"total_cents": [{"numeric": [">", 100000]}]}}"#).unwrap();
//! let explanation = pattern.explain_json(br#"{"detail": {"total_cents": 4000}}"#).unwrap();
//! assert!(!explanation.matched());
//! let failure = explanation.failures().next().unwrap();
//! assert_eq!(failure.test.path, "detail.total_cents");
//! assert!(matches!(failure.reason, FailureReason::NoValueMatches { .. }));
//! assert_eq!(failure.to_string(), "detail.total_cents: 4000 is not > 100000");
//! assert_eq!(explanation.to_string(), "no match\n  detail.total_cents: 4000 is not > 100000\n");
//! ```
//!
//! The explanation reads the event exactly as the engine does (the same leaves, through
//! the pattern's own path index: numbers written more precisely than a double, dotted
//! keys, empty keys, arrays) and decides each alternative with the same rules as the
//! machine, so its verdict is the engine's (`tests/explain.rs` checks it on every case
//! of the conformance corpora).

use std::fmt;

use serde_json::Value;

use crate::analysis::{Alternative, Condition, FieldTest};
use crate::error::EventError;
use crate::explain_search::{Search, Verdict, satisfies};
use crate::explain_words::{EventValue, fails_all, holds, holds_any, values};
use crate::flatten::{FlatEvent, MAX_EVENT_DEPTH, flatten_bytes_serde, flatten_value};
use crate::matcher::Matcher;
use crate::parse::FieldCondition;
use crate::pattern::Pattern;
use crate::scan::scan_into;

/// Why a pattern matched an event or did not: what each of its alternatives (one
/// without `$or`) did with the event. The pattern matches when one alternative does.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// One per alternative, in the pattern's order ([`Pattern::alternatives`]).
    pub alternatives: Vec<AlternativeExplanation>,
}

/// What one alternative did with the event.
#[derive(Debug, Clone, PartialEq)]
pub struct AlternativeExplanation {
    /// The alternative's field tests.
    pub alternative: Alternative,
    /// Whether it matched, and how; or the field it failed on.
    pub outcome: AlternativeOutcome,
}

/// An alternative's outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum AlternativeOutcome {
    /// Every field test held: how each did, in path order.
    Matched(Vec<FieldMatch>),
    /// The first field test that failed (in path order).
    Failed(FieldFailure),
}

/// How one field test held.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldMatch {
    /// Dotted path of the field.
    pub path: String,
    /// The event's value that satisfied the test (one element of an array); `None` when
    /// the field is absent and the test asks for that (`exists: false`).
    pub value: Option<EventValue>,
    /// The condition of the match list it satisfied.
    pub condition: Condition,
}

/// The field test an alternative failed on, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldFailure {
    /// The failed test: the field's path and its match list.
    pub test: FieldTest,
    /// Why it failed.
    pub reason: FailureReason,
}

/// Why a field test failed.
#[derive(Debug, Clone, PartialEq)]
pub enum FailureReason {
    /// The event has no value at the field (an empty array or an object there counts as
    /// none), and the test needs one.
    Absent,
    /// The test asks for the field's absence (`exists: false`), and the event has these
    /// values there.
    Present {
        /// The values found (all elements of the arrays on the path).
        values: Vec<EventValue>,
    },
    /// No value at the field satisfies any condition of the test.
    NoValueMatches {
        /// The values found (all elements of the arrays on the path).
        values: Vec<EventValue>,
    },
    /// Values satisfy the test, but none in the same array element as values
    /// satisfying the tests of `with` (fields of one pattern found inside the same
    /// array must come from the same element). Each of the tests holds alone; together
    /// they do not, and without any one of `with` the failed test would hold.
    NotInSameElement {
        /// The values that satisfy the failed test on their own.
        values: Vec<EventValue>,
        /// The tests it cannot hold together with, in path order.
        with: Vec<FieldTest>,
    },
}

impl Pattern {
    /// Why the pattern matches a parsed event, or why not ([`Pattern::try_matches`] gives
    /// the same verdict, and the same errors past the engine's limits).
    pub fn explain(&self, event: &Value) -> Result<Explanation, EventError> {
        let flat = flatten_value(self.path_index(), event);
        if flat.too_deep {
            return Err(EventError::TooDeep {
                limit: MAX_EVENT_DEPTH,
            });
        }
        self.explain_flat(&flat)
    }

    /// Why the pattern matches an event given as raw JSON, or why not
    /// ([`Pattern::matches_json`] gives the same verdict, and the same errors).
    pub fn explain_json(&self, event: &[u8]) -> Result<Explanation, EventError> {
        let mut flat = FlatEvent::from_buffers();
        if scan_into(self.path_index(), event, &mut flat) {
            return self.explain_flat(&flat);
        }
        drop(flat);
        self.explain_flat(&flatten_bytes_serde(self.path_index(), event)?)
    }

    fn explain_flat(&self, event: &FlatEvent<'_>) -> Result<Explanation, EventError> {
        let mut search = Search::new(event, self.path_index());
        let mut explained = Vec::new();
        for (conditions, alternative) in self.sub_rules().iter().zip(self.alternatives()) {
            let outcome = match search.alternative(conditions)? {
                Verdict::Matched(picks) => AlternativeOutcome::Matched(
                    conditions
                        .iter()
                        .zip(picks)
                        .map(|(condition, pick)| field_match(&search, condition, pick))
                        .collect(),
                ),
                Verdict::FailsAlone(at) => {
                    AlternativeOutcome::Failed(fails_alone(&search, &conditions[at]))
                }
                Verdict::FailsTogether { at, with } => {
                    let condition = &conditions[at];
                    let values = search
                        .leaves(condition)
                        .iter()
                        .filter(|leaf| satisfies(condition, leaf))
                        .map(|leaf| EventValue::from_leaf(&leaf.value))
                        .collect();
                    AlternativeOutcome::Failed(FieldFailure {
                        test: field_test(condition),
                        reason: FailureReason::NotInSameElement {
                            values,
                            with: with.iter().map(|&c| field_test(&conditions[c])).collect(),
                        },
                    })
                }
            };
            explained.push(AlternativeExplanation {
                alternative,
                outcome,
            });
        }
        Ok(Explanation {
            alternatives: explained,
        })
    }
}

fn field_test(condition: &FieldCondition) -> FieldTest {
    FieldTest {
        path: condition.path.clone(),
        conditions: condition.matchers.iter().cloned().map(Condition).collect(),
    }
}

/// How the condition held with the leaf picked for it (`None`: the field's absence).
fn field_match(
    search: &Search<'_, '_>,
    condition: &FieldCondition,
    pick: Option<usize>,
) -> FieldMatch {
    let leaf = pick.and_then(|at| search.leaves(condition).get(at));
    let matcher = match leaf {
        Some(leaf) => condition.matchers.iter().find(|m| m.matches(&leaf.value)),
        None => condition
            .matchers
            .iter()
            .find(|m| **m == Matcher::Exists(false)),
    };
    FieldMatch {
        path: condition.path.clone(),
        value: leaf.map(|leaf| EventValue::from_leaf(&leaf.value)),
        condition: Condition(matcher.cloned().unwrap_or(Matcher::Exists(leaf.is_some()))),
    }
}

/// Why a condition holds for no leaf of its path.
fn fails_alone(search: &Search<'_, '_>, condition: &FieldCondition) -> FieldFailure {
    let found: Vec<EventValue> = search
        .leaves(condition)
        .iter()
        .map(|leaf| EventValue::from_leaf(&leaf.value))
        .collect();
    let only_absence = condition
        .matchers
        .iter()
        .all(|m| *m == Matcher::Exists(false));
    let reason = if found.is_empty() {
        FailureReason::Absent
    } else if only_absence {
        FailureReason::Present { values: found }
    } else {
        FailureReason::NoValueMatches { values: found }
    };
    FieldFailure {
        test: field_test(condition),
        reason,
    }
}

impl Explanation {
    /// Whether the pattern matched the event (some alternative did).
    pub fn matched(&self) -> bool {
        self.matching().is_some()
    }

    /// The first alternative that matched, with its position.
    pub fn matching(&self) -> Option<(usize, &AlternativeExplanation)> {
        self.alternatives
            .iter()
            .enumerate()
            .find(|(_, a)| matches!(a.outcome, AlternativeOutcome::Matched(_)))
    }

    /// The failure of each alternative that failed, in order.
    pub fn failures(&self) -> impl Iterator<Item = &FieldFailure> {
        self.alternatives.iter().filter_map(|a| match &a.outcome {
            AlternativeOutcome::Failed(failure) => Some(failure),
            AlternativeOutcome::Matched(_) => None,
        })
    }
}

fn matchers(test: &FieldTest) -> Vec<&Matcher> {
    test.conditions.iter().map(|c| &c.0).collect()
}

impl FieldFailure {
    /// Dotted path of the failed field.
    pub fn path(&self) -> &str {
        &self.test.path
    }
}

impl fmt::Display for FieldFailure {
    /// `detail.total_cents: 4000 is not > 100000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let asks = matchers(&self.test);
        write!(f, "{}: ", self.test.path)?;
        match &self.reason {
            FailureReason::Absent => {
                if asks.iter().all(|m| **m == Matcher::Exists(true)) {
                    f.write_str("field is absent but the pattern requires it")
                } else {
                    write!(
                        f,
                        "field is absent but the pattern requires a value that {}",
                        holds_any(&asks)
                    )
                }
            }
            FailureReason::Present { values: found } => write!(
                f,
                "field is present ({}) but the pattern requires it to be absent",
                listed(found)
            ),
            FailureReason::NoValueMatches { values: found } => match found.as_slice() {
                [one] => write!(f, "{one} {}", fails_all(&asks, one)),
                _ => write!(f, "none of {} {}", values(found), holds_any(&asks)),
            },
            FailureReason::NotInSameElement {
                values: found,
                with,
            } => {
                let others: Vec<String> = with
                    .iter()
                    .map(|test| format!("{} {}", test.path, holds_any(&matchers(test))))
                    .collect();
                write!(
                    f,
                    "{} {}, but not in the same array element where {}",
                    listed(found),
                    holds_any(&asks),
                    others.join(" and ")
                )
            }
        }
    }
}

/// One value as itself, several as a list.
fn listed(found: &[EventValue]) -> String {
    match found {
        [one] => one.to_string(),
        _ => values(found),
    }
}

impl fmt::Display for FieldMatch {
    /// `detail.total_cents: 250000 is > 100000`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(f, "{}: {value} {}", self.path, holds(&self.condition.0)),
            None => write!(f, "{}: field is absent, as the pattern requires", self.path),
        }
    }
}

impl fmt::Display for Explanation {
    /// `match` or `no match`, then how each field held (the first alternative that
    /// matched) or the field each alternative failed on, one per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.alternatives.len();
        if let Some((at, matched)) = self.matching() {
            if count > 1 {
                writeln!(
                    f,
                    "match (alternative {} of {count}: {})",
                    at + 1,
                    matched.alternative
                )?;
            } else {
                writeln!(f, "match")?;
            }
            if let AlternativeOutcome::Matched(fields) = &matched.outcome {
                for field in fields {
                    writeln!(f, "  {field}")?;
                }
            }
            return Ok(());
        }
        if count == 1 {
            writeln!(f, "no match")?;
            for failure in self.failures() {
                writeln!(f, "  {failure}")?;
            }
            return Ok(());
        }
        writeln!(f, "no match (none of the {count} alternatives)")?;
        for (at, explained) in self.alternatives.iter().enumerate() {
            writeln!(f, "  alternative {}: {}", at + 1, explained.alternative)?;
            if let AlternativeOutcome::Failed(failure) = &explained.outcome {
                writeln!(f, "    {failure}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "explain_tests.rs"]
mod tests;
