//! What lint reports: the kinds of finding, their severity, and one finding naming the file
//! and the rule, event or function it is about.

use std::fmt;

use serde::Serialize;

/// The kinds of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// An event a function declares it emits reaches no rule.
    EmittedEventUnrouted,
    /// A rule no catalog event can match (by its source, detail-type and schema).
    RuleMatchesNothing,
    /// A function consumes an event no function emits.
    ConsumedEventNeverEmitted,
    /// A catalog event no function emits.
    CatalogEventNeverEmitted,
    /// A sample that fails its event's schema (or names no catalog event).
    SampleInvalid,
    /// A rule's content filter tests a field the event's schema does not have.
    FilterUnknownField,
    /// Two rules of one function can match the same event (it would run twice).
    OverlappingRules,
    /// A declaration names an event the catalog does not have.
    UnknownEvent,
    /// A rule's pattern is not a valid EventBridge pattern.
    InvalidPattern,
    /// A generated file (the template's generated part, the routing index, the embedded
    /// graph in the docs) is not what the declarations give.
    GeneratedStale,
    /// A consumer declares a version of an event that is not the catalog's.
    ConsumerVersionMismatch,
    /// A breaking schema change against the baseline, without a version bump.
    BreakingChangeWithoutVersionBump,
    /// A declared exception that matches no finding, or has no reason.
    InvalidException,
    /// An HTTP function's `request` is not a command any function declares.
    HttpRequestNotACommand,
    /// Two functions declare the same HTTP route.
    HttpRouteConflict,
    /// A scheduled function emits no event (warning).
    ScheduledEmitsNothing,
    /// A stage overrides a schedule (samconfig `<Function>Schedule`) with an expression
    /// Scheduler does not accept.
    ScheduleOverrideInvalid,
    /// A buffered consumer has no `max-concurrency`: its buffer does not cap what reaches the
    /// downstream (warning).
    BufferWithoutCap,
    /// A queue trigger names a queue the template does not have.
    QueueNotInTemplate,
    /// A queue trigger's queue (written in the template) has no redrive policy: a record that
    /// keeps failing is retried until it expires, and no failure queue keeps it (warning).
    QueueWithoutRedrive,
    /// Against a baseline whose metadata rejects unknown fields, the app's producers write
    /// trace context (`trace-context = "write"`): consumers deployed from the baseline would
    /// treat every new event as poison; the rollout takes two deploys.
    TraceContextRollout,
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Something to fix: the report is not clean (exit 1).
    Error,
    /// Likely not meant, yet it works: reported, and the report stays clean.
    Warning,
}

impl FindingKind {
    /// Every kind.
    pub const ALL: [FindingKind; 21] = [
        FindingKind::EmittedEventUnrouted,
        FindingKind::RuleMatchesNothing,
        FindingKind::ConsumedEventNeverEmitted,
        FindingKind::CatalogEventNeverEmitted,
        FindingKind::SampleInvalid,
        FindingKind::FilterUnknownField,
        FindingKind::OverlappingRules,
        FindingKind::UnknownEvent,
        FindingKind::InvalidPattern,
        FindingKind::GeneratedStale,
        FindingKind::ConsumerVersionMismatch,
        FindingKind::BreakingChangeWithoutVersionBump,
        FindingKind::InvalidException,
        FindingKind::HttpRequestNotACommand,
        FindingKind::HttpRouteConflict,
        FindingKind::ScheduledEmitsNothing,
        FindingKind::ScheduleOverrideInvalid,
        FindingKind::BufferWithoutCap,
        FindingKind::QueueNotInTemplate,
        FindingKind::QueueWithoutRedrive,
        FindingKind::TraceContextRollout,
    ];

    /// Whether the kind is an error or a warning.
    pub fn severity(self) -> Severity {
        match self {
            FindingKind::ScheduledEmitsNothing
            | FindingKind::BufferWithoutCap
            | FindingKind::QueueWithoutRedrive => Severity::Warning,
            _ => Severity::Error,
        }
    }

    /// The kebab-case name (what exceptions name).
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::EmittedEventUnrouted => "emitted-event-unrouted",
            FindingKind::RuleMatchesNothing => "rule-matches-nothing",
            FindingKind::ConsumedEventNeverEmitted => "consumed-event-never-emitted",
            FindingKind::CatalogEventNeverEmitted => "catalog-event-never-emitted",
            FindingKind::SampleInvalid => "sample-invalid",
            FindingKind::FilterUnknownField => "filter-unknown-field",
            FindingKind::OverlappingRules => "overlapping-rules",
            FindingKind::UnknownEvent => "unknown-event",
            FindingKind::InvalidPattern => "invalid-pattern",
            FindingKind::GeneratedStale => "generated-stale",
            FindingKind::ConsumerVersionMismatch => "consumer-version-mismatch",
            FindingKind::BreakingChangeWithoutVersionBump => "breaking-change-without-version-bump",
            FindingKind::InvalidException => "invalid-exception",
            FindingKind::HttpRequestNotACommand => "http-request-not-a-command",
            FindingKind::HttpRouteConflict => "http-route-conflict",
            FindingKind::ScheduledEmitsNothing => "scheduled-emits-nothing",
            FindingKind::ScheduleOverrideInvalid => "schedule-override-invalid",
            FindingKind::BufferWithoutCap => "buffer-without-cap",
            FindingKind::QueueNotInTemplate => "queue-not-in-template",
            FindingKind::QueueWithoutRedrive => "queue-without-redrive",
            FindingKind::TraceContextRollout => "trace-context-rollout",
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Its kind.
    pub kind: FindingKind,
    /// Error or warning (the kind's).
    pub severity: Severity,
    /// The file to change, relative to the project root.
    pub file: String,
    /// What it is about (what an exception names): the rule id, the event, the function,
    /// the sample or the file, depending on the kind.
    pub subject: String,
    /// The rule concerned, if any (its logical id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The event concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// The function concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.severity {
            Severity::Error => write!(f, "{}: {} [{}]", self.file, self.message, self.kind),
            Severity::Warning => write!(
                f,
                "{}: warning: {} [{}]",
                self.file, self.message, self.kind
            ),
        }
    }
}
