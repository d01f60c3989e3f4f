//! Names more than one crate must spell the same way: the environment variables the template
//! sets and the runtime reads, and the template's names the generator writes and the checks
//! look for. Each is written here once; the generator, the checks and the runtime import it.

/// Bus the function publishes to; set only for a function that emits.
pub const BUS_NAME_VAR: &str = "EVENTRAIL_BUS_NAME";
/// Queue that receives poison events (the function's on-failure queue).
pub const DLQ_URL_VAR: &str = "EVENTRAIL_DLQ_URL";
/// Bucket a dead letter's event goes to when the letter is too large for a queue message.
pub const FAILED_EVENTS_BUCKET_VAR: &str = "EVENTRAIL_FAILED_EVENTS_BUCKET";
/// The variable that tells a function where, in the failed-events bucket, the events of its
/// dead letters too large for a queue message go: the template sets it to
/// [`crate::declaration::failed_events_prefix`] of the function's declared name, and limits
/// the function's role to `s3:PutObject` under that same prefix, so the key the runtime writes
/// and the resource the role may write are one statement.
pub const FAILED_EVENTS_PREFIX_VAR: &str = "EVENTRAIL_FAILED_EVENTS_PREFIX";
/// `1`/`true`: return emitted events and dead letters in the response instead of sending them.
pub const DRY_RUN_VAR: &str = "EVENTRAIL_DRY_RUN";
/// The DynamoDB table of a function's idempotency records; set when it declares one.
pub const IDEMPOTENCY_TABLE_VAR: &str = "EVENTRAIL_IDEMPOTENCY_TABLE";
/// How long the idempotency records live, in seconds.
pub const IDEMPOTENCY_TTL_VAR: &str = "EVENTRAIL_IDEMPOTENCY_TTL_SECONDS";
/// An SQS-fed function's receives before SQS redrives a record to its failure queue: on the
/// last one the runtime writes the dead letter with the reason itself.
pub const MAX_RECEIVE_COUNT_VAR: &str = "EVENTRAIL_MAX_RECEIVE_COUNT";
/// The app's business key (`business-key` of `[workspace.metadata.eventrail]`: a field name,
/// or a JSON pointer, looked up in an event's `data`); set only when the app declares one.
/// The runtime puts its value on each event's span as `eventrail.business_key`.
pub const BUSINESS_KEY_VAR: &str = "EVENTRAIL_BUSINESS_KEY";
/// `trace-context` of `[workspace.metadata.eventrail]`
/// ([`crate::project::TraceContextMode`]): `accept` or `write`; the template sets it only
/// for `accept`, and a function without it writes trace context (the default).
pub const TRACE_CONTEXT_VAR: &str = "EVENTRAIL_TRACE_CONTEXT";

/// Logical id of the generated REST API (API Gateway v1) that serves the `http` triggers.
pub const REST_API: &str = "RestApi";
/// The stack output with the REST API's base URL (`https://<id>.execute-api.<region>.amazonaws.com/<stage>`).
pub const REST_API_URL_OUTPUT: &str = "RestApiUrl";
/// The stack output with the REST API's id (LocalStack's URL is built from it).
pub const REST_API_ID_OUTPUT: &str = "RestApiId";
/// The stack output with the REST API's stage name.
pub const REST_API_STAGE_OUTPUT: &str = "RestApiStage";

/// Logical id of the generated bucket that keeps failed events too large for a queue message.
pub const FAILED_EVENTS_BUCKET: &str = "FailedEventsBucket";
/// Logical id of the generated bus policy statement that keeps the app's sources to its roles.
pub const APP_SOURCES_POLICY: &str = "EventBusAppSourcesPolicy";
/// Template parameter listing principals (operators, CI) also allowed to put the app's sources.
pub const TRUSTED_PUBLISHERS_PARAMETER: &str = "TrustedPublisherArns";
/// The template condition that holds when `TrustedPublisherArns` lists someone: the bus
/// policy names them only then, so an empty parameter adds no empty value to the exemption.
pub const HAS_TRUSTED_PUBLISHERS_CONDITION: &str = "HasTrustedPublishers";

/// The stack output with the event bus's name.
pub const EVENT_BUS_NAME_OUTPUT: &str = "EventBusName";

/// The stack outputs the generator writes for each function, by the function's logical id
/// ([`crate::declaration::logical_id`] of its declared name): what the operating tools read
/// to find a deployed function and its queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionOutputs<'a> {
    /// The function's logical id (`GiftWrap`).
    pub logical_id: &'a str,
}

impl FunctionOutputs<'_> {
    /// The deployed function's name (`<Function>FunctionName`).
    pub fn function_name(&self) -> String {
        format!("{}FunctionName", self.logical_id)
    }

    /// Its on-failure queue's URL (`<Function>FailureQueueUrl`).
    pub fn failure_queue_url(&self) -> String {
        format!("{}FailureQueueUrl", self.logical_id)
    }

    /// Its rule target's dead-letter queue's URL (`<Function>DeliveryDlqUrl`).
    pub fn delivery_dlq_url(&self) -> String {
        format!("{}DeliveryDlqUrl", self.logical_id)
    }

    /// The URL of a queue it declares, by the queue's logical id (`<Function><Queue>QueueUrl`).
    pub fn queue_url(&self, queue_logical_id: &str) -> String {
        format!("{}{queue_logical_id}QueueUrl", self.logical_id)
    }

    /// A buffered consumer's buffer queue's URL (`<Function>BufferQueueUrl`).
    pub fn buffer_queue_url(&self) -> String {
        format!("{}BufferQueueUrl", self.logical_id)
    }

    /// A queue-triggered function's own source queue's URL (`<Function>SourceQueueUrl`).
    pub fn source_queue_url(&self) -> String {
        format!("{}SourceQueueUrl", self.logical_id)
    }

    /// A scheduled function's schedule's name (`<Function>ScheduleName`).
    pub fn schedule_name(&self) -> String {
        format!("{}ScheduleName", self.logical_id)
    }

    /// The template parameter holding a scheduled function's expression
    /// (`<Function>Schedule`), which a stage overrides in samconfig.
    pub fn schedule_parameter(&self) -> String {
        format!("{}Schedule", self.logical_id)
    }

    /// Its idempotency table's name (`<Function>IdempotencyTableName`).
    pub fn idempotency_table_name(&self) -> String {
        format!("{}IdempotencyTableName", self.logical_id)
    }
}
