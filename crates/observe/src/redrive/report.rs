//! What a redrive did with each record, and its report for people.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::outputs::FailureLayer;

/// What happened to one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedriveOutcome {
    /// Redelivered (to `to`) and deleted from its queue.
    Redriven {
        /// `function <name>` or `bus <name>`.
        to: String,
    },
    /// Would be redelivered to `to` (dry run); nothing was sent or deleted.
    WouldRedrive {
        /// Where.
        to: String,
    },
    /// Left in the queue on purpose (poison that still fails the current catalog).
    Left {
        /// Why.
        reason: String,
    },
    /// The record could not be read, was refused (an event the function does not consume, a
    /// claim check outside the function's place), or its redelivery or delete failed; the
    /// message is still in the queue.
    Failed {
        /// The error.
        reason: String,
    },
}

/// One record handled by a redrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedriveEntry {
    /// SQS message id.
    pub message_id: String,
    /// The original event's id, when known.
    pub event_id: Option<String>,
    /// `poison`, `handler-failure`, ...
    pub kind: &'static str,
    /// The queue's layer.
    pub layer: FailureLayer,
    /// The outcome.
    pub outcome: RedriveOutcome,
}

/// The report at the end of a redrive.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RedriveReport {
    /// Every record handled, in order.
    pub entries: Vec<RedriveEntry>,
}

impl RedriveReport {
    /// Records redriven (or, in a dry run, that would be).
    pub fn redriven(&self) -> usize {
        self.count(|o| {
            matches!(
                o,
                RedriveOutcome::Redriven { .. } | RedriveOutcome::WouldRedrive { .. }
            )
        })
    }

    /// Records left in place on purpose.
    pub fn left(&self) -> usize {
        self.count(|o| matches!(o, RedriveOutcome::Left { .. }))
    }

    /// Records that could not be read, were refused, or whose redelivery or delete failed.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, RedriveOutcome::Failed { .. }))
    }

    fn count(&self, pick: impl Fn(&RedriveOutcome) -> bool) -> usize {
        self.entries.iter().filter(|e| pick(&e.outcome)).count()
    }

    /// The report for people: each record, then the totals with the reasons grouped.
    pub fn render(&self, dry_run: bool) -> String {
        let mut out = String::new();
        for entry in &self.entries {
            let event = entry.event_id.as_deref().unwrap_or("?");
            let what = match &entry.outcome {
                RedriveOutcome::Redriven { to } => format!("redriven to {to}, deleted"),
                RedriveOutcome::WouldRedrive { to } => format!("would be redriven to {to}"),
                RedriveOutcome::Left { reason } => format!("left in place: {reason}"),
                RedriveOutcome::Failed { reason } => format!("FAILED, still queued: {reason}"),
            };
            let _ = writeln!(
                out,
                "  {} {} (event {event}, {}): {what}",
                entry.message_id,
                entry.kind,
                entry.layer.describe()
            );
        }
        let _ = writeln!(
            out,
            "{}: {} {}, {} left, {} failed",
            if dry_run { "dry run" } else { "redrive" },
            self.redriven(),
            if dry_run {
                "would be redriven"
            } else {
                "redriven"
            },
            self.left(),
            self.failed()
        );
        let mut reasons: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for entry in &self.entries {
            match &entry.outcome {
                RedriveOutcome::Left { reason } => {
                    *reasons.entry(("left", reason)).or_default() += 1
                }
                RedriveOutcome::Failed { reason } => {
                    *reasons.entry(("failed", reason)).or_default() += 1;
                }
                _ => {}
            }
        }
        for ((what, reason), count) in reasons {
            let _ = writeln!(out, "  {what} ×{count}: {reason}");
        }
        out
    }
}
