//! The environment a function reads. Missing variables are reported by name, with what to set.

use eventrail_contract::{Declaration, TraceContextMode};

// The variables the template sets, named once in the contract (the generator writes them).
pub use eventrail_contract::names::{
    BUS_NAME_VAR, BUSINESS_KEY_VAR, DLQ_URL_VAR, DRY_RUN_VAR, FAILED_EVENTS_BUCKET_VAR,
    FAILED_EVENTS_PREFIX_VAR, MAX_RECEIVE_COUNT_VAR, TRACE_CONTEXT_VAR,
};
/// Name Lambda gives the function.
pub const FUNCTION_NAME_VAR: &str = "AWS_LAMBDA_FUNCTION_NAME";

/// A variable the function needs is missing, empty or invalid.
#[derive(Debug, thiserror::Error)]
#[error(
    "environment variable {var} {}: {purpose}. Set it (the SAM template does this when deployed), \
     or set {DRY_RUN_VAR}=1 to run without AWS and get the results in the response",
    invalid.as_deref().map_or_else(|| "is not set".to_owned(), |why| format!("is invalid ({why})"))
)]
pub struct ConfigError {
    /// The missing variable.
    pub var: &'static str,
    /// What the function needs it for.
    pub purpose: &'static str,
    /// What is wrong with its value, when it is set.
    pub invalid: Option<String>,
}

/// What the runtime kit reads from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Name of this function, for logs and dead letters.
    pub function_name: String,
    /// `None` only in dry-run mode.
    pub bus_name: Option<String>,
    /// `None` only in dry-run mode.
    pub dead_letter_queue_url: Option<String>,
    /// Where dead letters too large for the queue keep their event; without it such a dead
    /// letter fails the invocation (and Lambda's failure record keeps the event).
    pub failed_events_bucket: Option<String>,
    /// The key prefix of its events in that bucket ([`FAILED_EVENTS_PREFIX_VAR`]); without it,
    /// the prefix of the function's Lambda name.
    pub failed_events_prefix: Option<String>,
    /// Receives of a record before SQS redrives it to the failure queue (an SQS-fed
    /// function's `EVENTRAIL_MAX_RECEIVE_COUNT`); `None` for other functions and in dry-run
    /// mode when unset.
    pub max_receive_count: Option<u32>,
    /// Do not call AWS; report instead.
    pub dry_run: bool,
    /// Where the app's business key is in an event's data ([`BUSINESS_KEY_VAR`]: a field name
    /// or a JSON pointer), when the app declares one.
    pub business_key: Option<String>,
    /// Whether published events carry trace context ([`TRACE_CONTEXT_VAR`]: `accept` writes
    /// none; unset or anything else, the default, writes it).
    pub trace_context: TraceContextMode,
}

impl RuntimeConfig {
    /// Reads the configuration `declaration` calls for from the process environment: the bus
    /// when the function emits events, the dead-letter queue when a rule subscribes it or a
    /// queue feeds it (a producer started by a request, a schedule or a direct invoke answers
    /// or fails instead of dead-lettering), and the max receive count when a queue feeds it.
    pub fn from_env(declaration: &Declaration) -> Result<Self, ConfigError> {
        Self::from_lookup(declaration, |name| std::env::var(name).ok())
    }

    /// Reads from any lookup (tests pass a map).
    pub fn from_lookup(
        declaration: &Declaration,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let emits = declaration.emits_events();
        let sqs_fed = declaration.trigger().is_sqs_fed();
        let dead_letters = declaration.is_consumer() || sqs_fed;
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let dry_run = get(DRY_RUN_VAR).is_some_and(|v| switched_on(&v));
        let function_name = get(FUNCTION_NAME_VAR).unwrap_or_else(|| "local".to_owned());
        let require = |var: &'static str, purpose: &'static str| match get(var) {
            Some(value) => Ok(Some(value)),
            None if dry_run => Ok(None),
            None => Err(ConfigError {
                var,
                purpose,
                invalid: None,
            }),
        };
        let bus_name = if emits {
            require(BUS_NAME_VAR, "the event bus this function publishes to")?
        } else {
            None
        };
        let dead_letter_queue_url = if dead_letters {
            require(DLQ_URL_VAR, "the SQS queue URL that receives poison events")?
        } else {
            None
        };
        let max_receive_count = if sqs_fed {
            let purpose = "the receives of a record before SQS redrives it to the failure queue \
                           (on the last one the function dead-letters it with the reason)";
            match require(MAX_RECEIVE_COUNT_VAR, purpose)? {
                Some(text) => {
                    Some(text.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                        ConfigError {
                            var: MAX_RECEIVE_COUNT_VAR,
                            purpose,
                            invalid: Some(format!("`{text}` is not a whole number of at least 1")),
                        }
                    })?)
                }
                None => None,
            }
        } else {
            None
        };
        Ok(Self {
            function_name,
            bus_name,
            dead_letter_queue_url,
            max_receive_count,
            failed_events_bucket: if dead_letters {
                get(FAILED_EVENTS_BUCKET_VAR)
            } else {
                None
            },
            failed_events_prefix: if dead_letters {
                get(FAILED_EVENTS_PREFIX_VAR)
            } else {
                None
            },
            dry_run,
            business_key: get(BUSINESS_KEY_VAR),
            trace_context: get(TRACE_CONTEXT_VAR)
                .and_then(|mode| mode.parse().ok())
                .unwrap_or_default(),
        })
    }
}

/// Reads a variable the function itself needs, e.g. notifier' outbox queue URL.
pub fn require_var(var: &'static str, purpose: &'static str) -> Result<String, ConfigError> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError {
            var,
            purpose,
            invalid: None,
        })
}

/// `1` or `true` (any case) switch a flag variable on.
fn switched_on(value: &str) -> bool {
    value == "1" || value.eq_ignore_ascii_case("true")
}

/// Whether dry-run mode is on.
pub fn dry_run() -> bool {
    std::env::var(DRY_RUN_VAR).is_ok_and(|v| switched_on(v.trim()))
}

/// An environment for tests: `pairs` as the only variables set.
#[cfg(test)]
pub(crate) fn test_lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

#[cfg(test)]
mod tests {
    use super::test_lookup as lookup;
    use super::*;

    use eventrail_contract::Invoke;

    fn declared(emits: bool, invoke: Invoke) -> Declaration {
        Declaration {
            consumes: if invoke == Invoke::Rule {
                vec!["In".into()]
            } else {
                vec![]
            },
            emits: if emits { vec!["Out".into()] } else { vec![] },
            invoke,
            ..Declaration::default()
        }
    }

    #[test]
    fn missing_bus_names_the_variable() {
        let err = RuntimeConfig::from_lookup(
            &declared(true, Invoke::Rule),
            lookup(&[(DLQ_URL_VAR, "http://q")]),
        )
        .unwrap_err();
        assert_eq!(err.var, BUS_NAME_VAR);
        assert!(err.to_string().contains("EVENTRAIL_BUS_NAME is not set"));
    }

    #[test]
    fn missing_dlq_names_the_variable_even_for_non_emitters() {
        let err =
            RuntimeConfig::from_lookup(&declared(false, Invoke::Rule), lookup(&[])).unwrap_err();
        assert_eq!(err.var, DLQ_URL_VAR);
    }

    #[test]
    fn producer_needs_only_the_bus() {
        let cfg = RuntimeConfig::from_lookup(
            &declared(true, Invoke::Direct),
            lookup(&[(BUS_NAME_VAR, "bus")]),
        )
        .unwrap();
        assert_eq!(cfg.dead_letter_queue_url, None);
        let err =
            RuntimeConfig::from_lookup(&declared(true, Invoke::Direct), lookup(&[])).unwrap_err();
        assert_eq!(err.var, BUS_NAME_VAR);
    }

    #[test]
    fn the_business_key_and_the_trace_context_mode_are_read_with_the_rest() {
        let producer = declared(true, Invoke::Direct);
        let read =
            |pairs: &[(&str, &str)]| RuntimeConfig::from_lookup(&producer, lookup(pairs)).unwrap();
        let plain = read(&[(BUS_NAME_VAR, "bus")]);
        assert_eq!(plain.business_key, None);
        assert_eq!(plain.trace_context, TraceContextMode::Write);
        let set = read(&[
            (BUS_NAME_VAR, "bus"),
            (BUSINESS_KEY_VAR, " task_id "),
            (TRACE_CONTEXT_VAR, "Accept"),
        ]);
        assert_eq!(set.business_key.as_deref(), Some("task_id"));
        assert_eq!(set.trace_context, TraceContextMode::Accept);
        // Anything but `accept` writes, as the default does.
        let other = read(&[(BUS_NAME_VAR, "bus"), (TRACE_CONTEXT_VAR, "sometimes")]);
        assert_eq!(other.trace_context, TraceContextMode::Write);
    }

    fn sqs_fed(delivery: eventrail_contract::Delivery) -> Declaration {
        Declaration {
            consumes: vec!["In".into()],
            delivery,
            ..Declaration::default()
        }
    }

    #[test]
    fn an_sqs_fed_function_needs_its_dead_letter_queue_and_max_receive_count() {
        let buffered = sqs_fed(eventrail_contract::Delivery::Queue);
        let err = RuntimeConfig::from_lookup(&buffered, lookup(&[(DLQ_URL_VAR, "http://q")]))
            .unwrap_err();
        assert_eq!(err.var, MAX_RECEIVE_COUNT_VAR);
        let err = RuntimeConfig::from_lookup(
            &buffered,
            lookup(&[(DLQ_URL_VAR, "http://q"), (MAX_RECEIVE_COUNT_VAR, "zero")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("is invalid"), "{err}");
        let cfg = RuntimeConfig::from_lookup(
            &buffered,
            lookup(&[(DLQ_URL_VAR, "http://q"), (MAX_RECEIVE_COUNT_VAR, "3")]),
        )
        .unwrap();
        assert_eq!(cfg.max_receive_count, Some(3));
        let queue = Declaration {
            queue: Some(eventrail_contract::QueueSource::New),
            ..Declaration::default()
        };
        let err = RuntimeConfig::from_lookup(&queue, lookup(&[(MAX_RECEIVE_COUNT_VAR, "3")]))
            .unwrap_err();
        assert_eq!(err.var, DLQ_URL_VAR);
        let direct = sqs_fed(eventrail_contract::Delivery::Direct);
        let cfg =
            RuntimeConfig::from_lookup(&direct, lookup(&[(DLQ_URL_VAR, "http://q")])).unwrap();
        assert_eq!(cfg.max_receive_count, None);
    }

    #[test]
    fn dry_run_needs_nothing() {
        let cfg = RuntimeConfig::from_lookup(
            &declared(true, Invoke::Rule),
            lookup(&[(DRY_RUN_VAR, "1")]),
        )
        .unwrap();
        assert!(cfg.dry_run);
        assert_eq!(cfg.bus_name, None);
    }

    #[test]
    fn full_config_is_read() {
        let cfg = RuntimeConfig::from_lookup(
            &declared(true, Invoke::Rule),
            lookup(&[
                (BUS_NAME_VAR, "bus"),
                (DLQ_URL_VAR, "http://q"),
                (FUNCTION_NAME_VAR, "stack-planner"),
                (FAILED_EVENTS_BUCKET_VAR, "failed"),
                (FAILED_EVENTS_PREFIX_VAR, "planner/"),
            ]),
        )
        .unwrap();
        assert_eq!(cfg.bus_name.as_deref(), Some("bus"));
        assert_eq!(cfg.function_name, "stack-planner");
        assert_eq!(cfg.failed_events_bucket.as_deref(), Some("failed"));
        assert_eq!(cfg.failed_events_prefix.as_deref(), Some("planner/"));
        assert!(!cfg.dry_run);
    }
}
