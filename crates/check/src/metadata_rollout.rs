//! The rollout of trace context into the events' metadata, as `lint --against` judges it.
//!
//! Metadata was closed (`additionalProperties: false`, strict decoding) until trace context
//! came. A consumer deployed from such a build treats an event whose metadata carries
//! `traceparent` as poison, so the producers may write it only once every consumer accepts
//! it: first a deploy with `trace-context = "accept"` (every function reads and continues
//! trace context, none writes it), then one with `"write"`. A version bump changes nothing
//! here: the metadata is the same for every version of every event.

use eventrail_contract::TraceContextMode;

/// The metadata fields that carry trace context, as schema field paths.
pub const TRACE_CONTEXT_FIELDS: [&str; 2] = ["metadata.traceparent", "metadata.tracestate"];

/// Whether `path` is a field of the trace context in the metadata.
pub fn is_trace_context_field(path: &str) -> bool {
    TRACE_CONTEXT_FIELDS.contains(&path)
}

/// The verdict on a trace context field the baseline's metadata does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether consumers deployed from the baseline fail on it.
    pub breaking: bool,
    /// Why, and what to do.
    pub detail: String,
}

/// The verdict on a trace context field added since a baseline whose metadata is closed
/// (`baseline_closed`) or open, for an app whose producers write trace context or only accept
/// it (`mode`).
pub fn classify(baseline_closed: bool, mode: TraceContextMode) -> Verdict {
    match (baseline_closed, mode) {
        (false, _) => Verdict {
            breaking: false,
            detail: "the baseline's metadata allows unknown fields: its consumers ignore it"
                .to_owned(),
        },
        (true, TraceContextMode::Accept) => Verdict {
            breaking: false,
            detail: format!(
                "trace-context = \"{}\": consumers accept it and producers do not write it yet; \
                 once every function runs this build, set trace-context = \"{}\"",
                TraceContextMode::Accept,
                TraceContextMode::Write
            ),
        },
        (true, TraceContextMode::Write) => Verdict {
            breaking: true,
            detail: format!(
                "consumers deployed from the baseline reject unknown metadata fields \
                 (additionalProperties: false) and this app's producers write it \
                 (trace-context = \"{}\")",
                TraceContextMode::Write
            ),
        },
    }
}

/// What to do about a breaking verdict: the two-step rollout.
pub fn rollout_advice() -> String {
    format!(
        "roll out in two steps: deploy with trace-context = \"{}\" first \
         ([workspace.metadata.eventrail] in Cargo.toml: every function accepts trace context, \
         none writes it), then with \"{}\" once that deploy is everywhere",
        TraceContextMode::Accept,
        TraceContextMode::Write
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_closed_baseline_with_producers_that_write_breaks() {
        assert!(classify(true, TraceContextMode::Write).breaking);
        assert!(!classify(true, TraceContextMode::Accept).breaking);
        assert!(!classify(false, TraceContextMode::Write).breaking);
        assert!(!classify(false, TraceContextMode::Accept).breaking);
        assert!(
            classify(true, TraceContextMode::Accept)
                .detail
                .contains("trace-context = \"write\"")
        );
        let advice = rollout_advice();
        assert!(
            advice.contains("\"accept\" first") && advice.contains("then with \"write\""),
            "{advice}"
        );
    }

    #[test]
    fn the_trace_context_fields_are_the_metadata_ones() {
        assert!(is_trace_context_field("metadata.traceparent"));
        assert!(is_trace_context_field("metadata.tracestate"));
        assert!(!is_trace_context_field("data.traceparent"));
    }
}
