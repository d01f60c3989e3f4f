//! The typed model built from a normalised (long-form JSON) template.
//!
//! The model is read-only and keeps values that CloudFormation resolves at deploy time
//! (`{"Ref": ...}`, `{"Fn::GetAtt": ...}`) as JSON; [`crate::refs::direct_ref`] tells which
//! logical id such a value points at.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::refs::direct_ref;

/// A template parameter (`Parameters.<Name>`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Parameter {
    /// Parameter name.
    pub name: String,
    /// `Type` (`String`, `Number`, ...).
    pub kind: String,
    /// `Default`, as written.
    pub default: Option<Value>,
    /// `MinValue` (numbers only).
    pub min_value: Option<f64>,
    /// `MaxValue` (numbers only).
    pub max_value: Option<f64>,
    /// `AllowedValues`.
    pub allowed_values: Vec<Value>,
}

/// An integer setting that may be a literal or a reference to a numeric parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Setting {
    /// A number written in the template.
    Literal(i64),
    /// `{"Ref": name}` to a parameter; CloudFormation enforces `MinValue`/`MaxValue` at deploy.
    Parameter {
        /// Parameter name.
        name: String,
        /// Its default, when it is an integer.
        default: Option<i64>,
        /// Its `MinValue`.
        min: Option<i64>,
        /// Its `MaxValue`.
        max: Option<i64>,
    },
    /// Anything else (an `Fn::If`, a string that is not a number, ...), kept as written.
    Other(Value),
}

impl Setting {
    /// The smallest and largest value this setting can take at deploy time, when bounded:
    /// a literal is its own range; a parameter is bounded only when it declares both
    /// `MinValue` and `MaxValue` and its default (if any) lies between them.
    pub fn bounds(&self) -> Option<(i64, i64)> {
        match self {
            Setting::Literal(v) => Some((*v, *v)),
            Setting::Parameter {
                default,
                min: Some(min),
                max: Some(max),
                ..
            } => {
                let default_ok = default.is_none_or(|d| (*min..=*max).contains(&d));
                default_ok.then_some((*min, *max))
            }
            _ => None,
        }
    }
}

/// How a function gets its execution role.
#[derive(Debug, Clone, PartialEq)]
pub enum RoleSource {
    /// No `Role` property: SAM generates a role, attaching `AWSLambdaBasicExecutionRole`
    /// (logs on `Resource: "*"`) plus the function's `Policies`.
    Generated,
    /// `Role` points at an `AWS::IAM::Role` declared in this template (logical id).
    Resource(String),
    /// `Role` is something else (an ARN string, a parameter), kept as written.
    External(Value),
}

/// One IAM policy statement, flattened.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Statement {
    /// `Sid`.
    pub sid: Option<String>,
    /// `Effect` (`Allow` / `Deny`).
    pub effect: String,
    /// `Action` (or `NotAction` when [`Statement::not_action`]).
    pub actions: Vec<String>,
    /// True when the statement used `NotAction`.
    pub not_action: bool,
    /// `Resource` items (or `NotResource` when [`Statement::not_resource`]); each may be an intrinsic.
    pub resources: Vec<Value>,
    /// True when the statement used `NotResource`.
    pub not_resource: bool,
    /// `Principal`, for resource policies.
    pub principal: Option<Value>,
    /// `Condition`, as written.
    pub condition: Option<Value>,
}

impl Statement {
    /// True when the statement allows one of `actions` (case-insensitive, `service:*` honoured).
    pub fn allows_any(&self, actions: &[&str]) -> bool {
        self.effect == "Allow"
            && !self.not_action
            && self
                .actions
                .iter()
                .any(|a| actions.iter().any(|wanted| action_matches(a, wanted)))
    }
}

/// Whether a policy action (`sqs:SendMessage`, `sqs:*`, `*`) covers `wanted`.
fn action_matches(action: &str, wanted: &str) -> bool {
    let action = action.to_ascii_lowercase();
    let wanted = wanted.to_ascii_lowercase();
    if action == "*" || action == wanted {
        return true;
    }
    match action.strip_suffix('*') {
        Some(prefix) => wanted.starts_with(prefix),
        None => false,
    }
}

/// The permissions a function's role carries, as far as the template shows them.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Permissions {
    /// Inline statements (SAM `Policies` documents, the role's `Policies`,
    /// and `AWS::IAM::Policy`/`AWS::IAM::RolePolicy` resources attached to the role).
    pub statements: Vec<Statement>,
    /// Managed policies and SAM policy templates, as written; a SAM-generated role
    /// lists `"AWSLambdaBasicExecutionRole"` here because SAM always attaches it.
    pub managed: Vec<Value>,
}

/// A Lambda async-invocation destination.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Destination {
    /// SAM `Type` (`SQS`, `SNS`, `Lambda`, `EventBridge`, `S3Bucket`), when given.
    pub kind: Option<String>,
    /// `Destination` ARN, as written.
    pub destination: Option<Value>,
    /// Logical id the destination refers to, when it is a reference to a resource.
    pub resource: Option<String>,
}

/// Lambda's asynchronous invocation settings (handler failures).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EventInvokeConfig {
    /// `MaximumRetryAttempts` (Lambda allows 0..=2).
    pub maximum_retry_attempts: Option<Setting>,
    /// `MaximumEventAgeInSeconds` (Lambda allows 60..=21600).
    pub maximum_event_age_in_seconds: Option<Setting>,
    /// `DestinationConfig.OnFailure`.
    pub on_failure: Option<Destination>,
    /// `DestinationConfig.OnSuccess`.
    pub on_success: Option<Destination>,
}

/// A Lambda function (`AWS::Serverless::Function` or `AWS::Lambda::Function`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Function {
    /// Logical id (`Planner`).
    pub logical_id: String,
    /// Resource type.
    pub resource_type: String,
    /// Binary (crate) name: `Metadata.BuildProperties.Binary`, else the last part of `CodeUri`.
    pub binary: Option<String>,
    /// `Metadata.BuildMethod` (`rust-cargolambda`).
    pub build_method: Option<String>,
    /// `CodeUri` (SAM) or `Code` (plain Lambda), as written.
    pub code_uri: Option<Value>,
    /// `FunctionName`, when set.
    pub function_name: Option<Value>,
    /// `Runtime` (after SAM `Globals`).
    pub runtime: Option<Value>,
    /// `Handler` (after SAM `Globals`).
    pub handler: Option<Value>,
    /// `Architectures` (after SAM `Globals`).
    pub architectures: Option<Value>,
    /// Environment variables (SAM `Globals` merged under the function's own).
    pub environment: BTreeMap<String, Value>,
    /// Where the execution role comes from.
    pub role: RoleSource,
    /// What the role may do.
    pub permissions: Permissions,
    /// Async invocation settings (SAM `EventInvokeConfig` or an `AWS::Lambda::EventInvokeConfig`).
    pub event_invoke_config: Option<EventInvokeConfig>,
}

impl Function {
    /// The name to show people: the binary name when known, else the logical id.
    pub fn display_name(&self) -> &str {
        self.binary.as_deref().unwrap_or(&self.logical_id)
    }
}

/// Where a rule was declared.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleOrigin {
    /// An `EventBridgeRule` (or `CloudWatchEvent`) event of a SAM function; SAM names the
    /// generated `AWS::Events::Rule` `<function logical id><event name>`.
    FunctionEvent {
        /// Function logical id.
        function: String,
        /// Event name under `Events`.
        event: String,
    },
    /// An `AWS::Events::Rule` resource.
    Resource,
}

/// A dead-letter queue setting on a rule target.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeadLetter {
    /// `Arn`, as written (absent when SAM creates the queue).
    pub arn: Option<Value>,
    /// Logical id of the queue: the one `arn` refers to, or the one SAM generates.
    pub queue: Option<String>,
    /// True when SAM creates the queue (`Type: SQS`), outside this template's control.
    pub generated: bool,
}

/// EventBridge's retry policy for a rule target (delivery failures).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// `MaximumEventAgeInSeconds` (EventBridge allows 60..=86400).
    pub maximum_event_age_in_seconds: Option<Setting>,
    /// `MaximumRetryAttempts` (EventBridge allows 0..=185).
    pub maximum_retry_attempts: Option<Setting>,
}

/// One target of a rule.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Target {
    /// Target `Id`, when given.
    pub id: Option<String>,
    /// Target ARN, as written.
    pub arn: Value,
    /// Logical id of the function in this template the target invokes, if any.
    pub function: Option<String>,
    /// Logical id of any other resource of this template the target ARN refers to.
    pub resource: Option<String>,
    /// `DeadLetterConfig`.
    pub dead_letter: Option<DeadLetter>,
    /// `RetryPolicy`.
    pub retry_policy: Option<RetryPolicy>,
}

/// An EventBridge rule with its pattern and targets.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Rule {
    /// Logical id of the `AWS::Events::Rule` (for SAM events, the one SAM generates).
    pub logical_id: String,
    /// Where the rule was declared.
    pub origin: RuleOrigin,
    /// The rule's name (`Name`, or SAM's `RuleName`), when set; otherwise CloudFormation generates one.
    pub name: Option<Value>,
    /// `EventBusName`, as written (`None` means the account's default bus).
    pub event_bus: Option<Value>,
    /// Logical id of the bus resource `event_bus` refers to, if any.
    pub bus_resource: Option<String>,
    /// `EventPattern` / `Pattern` as JSON (a pattern written as a JSON string is parsed).
    pub pattern: Option<Value>,
    /// `ScheduleExpression`, when the rule is scheduled.
    pub schedule: Option<Value>,
    /// `State` (`ENABLED`, `DISABLED`, ...), when given.
    pub state: Option<Value>,
    /// Targets.
    pub targets: Vec<Target>,
}

impl Rule {
    /// Logical ids of the template's functions this rule invokes.
    pub fn target_functions(&self) -> impl Iterator<Item = &str> {
        self.targets.iter().filter_map(|t| t.function.as_deref())
    }
}

/// An `AWS::SQS::Queue`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Queue {
    /// Logical id.
    pub logical_id: String,
    /// `QueueName`, when set.
    pub queue_name: Option<Value>,
    /// `FifoQueue: true`.
    pub fifo: bool,
    /// `SqsManagedSseEnabled: true`.
    pub sqs_managed_sse: bool,
    /// `KmsMasterKeyId`, when set.
    pub kms_master_key_id: Option<Value>,
    /// Logical id of the dead-letter queue in `RedrivePolicy`, if any.
    pub redrive_dead_letter: Option<String>,
    /// `RedrivePolicy.maxReceiveCount`: receives before SQS moves a message there.
    pub max_receive_count: Option<Setting>,
    /// `VisibilityTimeout` in seconds.
    pub visibility_timeout: Option<Setting>,
    /// The resource's `Condition`, if any.
    pub condition: Option<String>,
}

impl Queue {
    /// True when messages are encrypted at rest (SQS-managed keys or KMS).
    pub fn encrypted(&self) -> bool {
        self.sqs_managed_sse || self.kms_master_key_id.is_some()
    }
}

/// An `AWS::SQS::QueuePolicy`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct QueuePolicy {
    /// Logical id.
    pub logical_id: String,
    /// Logical ids of the queues in `Queues`.
    pub queues: Vec<String>,
    /// The policy's statements.
    pub statements: Vec<Statement>,
}

/// An `AWS::CloudWatch::Alarm` on a single metric.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Alarm {
    /// Logical id.
    pub logical_id: String,
    /// `Namespace` (`AWS/SQS`).
    pub namespace: Option<String>,
    /// `MetricName` (`ApproximateNumberOfMessagesVisible`).
    pub metric_name: Option<String>,
    /// `ComparisonOperator`.
    pub comparison: Option<String>,
    /// `Threshold`.
    pub threshold: Option<f64>,
    /// Logical id of the resource named by the dimension (the queue for `QueueName`).
    pub dimension_resource: Option<String>,
    /// The resource's `Condition`, if any.
    pub condition: Option<String>,
}

impl Alarm {
    /// True when the alarm watches the age of a queue's oldest message.
    pub fn watches_oldest_message_age(&self) -> bool {
        self.namespace.as_deref() == Some("AWS/SQS")
            && self.metric_name.as_deref() == Some("ApproximateAgeOfOldestMessage")
            && matches!(
                self.comparison.as_deref(),
                Some("GreaterThanThreshold" | "GreaterThanOrEqualToThreshold")
            )
            && self.threshold.is_some_and(|t| t > 0.0)
    }

    /// True when the alarm fires as soon as a queue holds one visible message.
    pub fn fires_on_any_visible_message(&self) -> bool {
        let metric = self.namespace.as_deref() == Some("AWS/SQS")
            && self.metric_name.as_deref() == Some("ApproximateNumberOfMessagesVisible");
        let any = match (self.comparison.as_deref(), self.threshold) {
            (Some("GreaterThanThreshold"), Some(t)) => (0.0..1.0).contains(&t),
            (Some("GreaterThanOrEqualToThreshold"), Some(t)) => t <= 1.0 && t > 0.0,
            _ => false,
        };
        metric && any
    }
}

/// An `AWS::Events::Archive`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Archive {
    /// Logical id.
    pub logical_id: String,
    /// `ArchiveName`, as written.
    pub name: Option<Value>,
    /// `SourceArn`, as written.
    pub source_arn: Option<Value>,
    /// Logical id of the bus `SourceArn` refers to, if any.
    pub source_bus: Option<String>,
    /// `EventPattern` as JSON (a pattern written as a JSON string is parsed).
    pub pattern: Option<Value>,
    /// `RetentionDays`.
    pub retention_days: Option<Setting>,
    /// The resource's `Condition`, if any (the local stage creates the archive outside the stack).
    pub condition: Option<String>,
}

/// A stack output.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Output {
    /// Output name.
    pub name: String,
    /// `Value`, as written.
    pub value: Value,
    /// `Description`.
    pub description: Option<String>,
    /// `Export.Name`, when exported.
    pub export_name: Option<Value>,
}

/// Turns `value` (a number, a numeric string, or a `Ref` to a parameter) into a [`Setting`].
pub(crate) fn setting(value: &Value, parameters: &[Parameter]) -> Setting {
    if let Some(n) = as_i64(value) {
        return Setting::Literal(n);
    }
    if let Some(name) = value
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get("Ref"))
        .and_then(Value::as_str)
        && let Some(p) = parameters.iter().find(|p| p.name == name)
    {
        return Setting::Parameter {
            name: p.name.clone(),
            default: p.default.as_ref().and_then(as_i64),
            min: p.min_value.and_then(f64_to_i64),
            max: p.max_value.and_then(f64_to_i64),
        };
    }
    Setting::Other(value.clone())
}

pub(crate) fn as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(f64_to_i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn as_f64(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn f64_to_i64(f: f64) -> Option<i64> {
    (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

/// Builds a [`Destination`] from a `DestinationConfig.OnFailure`-shaped object.
pub(crate) fn destination(value: &Value) -> Destination {
    let destination = value.get("Destination").cloned();
    Destination {
        kind: value.get("Type").and_then(Value::as_str).map(str::to_owned),
        resource: destination.as_ref().and_then(direct_ref).map(str::to_owned),
        destination,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn param(name: &str, default: Value, min: Option<f64>, max: Option<f64>) -> Parameter {
        Parameter {
            name: name.into(),
            kind: "Number".into(),
            default: Some(default),
            min_value: min,
            max_value: max,
            allowed_values: vec![],
        }
    }

    #[test]
    fn settings_resolve_literals_and_parameters() {
        let params = [
            param("Age", json!(3600), Some(60.0), Some(86400.0)),
            param("Open", json!(5), None, None),
            param("BadDefault", json!(500), Some(0.0), Some(185.0)),
        ];
        assert_eq!(setting(&json!(7), &params).bounds(), Some((7, 7)));
        assert_eq!(setting(&json!("7"), &params).bounds(), Some((7, 7)));
        assert_eq!(
            setting(&json!({"Ref": "Age"}), &params).bounds(),
            Some((60, 86400))
        );
        assert_eq!(setting(&json!({"Ref": "Open"}), &params).bounds(), None);
        assert_eq!(
            setting(&json!({"Ref": "BadDefault"}), &params).bounds(),
            None
        );
        assert!(matches!(
            setting(&json!({"Ref": "Missing"}), &params),
            Setting::Other(_)
        ));
    }

    #[test]
    fn action_matching() {
        assert!(action_matches("sqs:SendMessage", "sqs:sendmessage"));
        assert!(action_matches("sqs:*", "sqs:SendMessage"));
        assert!(action_matches("sqs:Send*", "sqs:SendMessage"));
        assert!(action_matches("*", "events:PutEvents"));
        assert!(!action_matches("sqs:ReceiveMessage", "sqs:SendMessage"));
    }

    #[test]
    fn alarm_threshold_semantics() {
        let mut a = Alarm {
            logical_id: "A".into(),
            namespace: Some("AWS/SQS".into()),
            metric_name: Some("ApproximateNumberOfMessagesVisible".into()),
            comparison: Some("GreaterThanThreshold".into()),
            threshold: Some(0.0),
            dimension_resource: Some("Q".into()),
            condition: None,
        };
        assert!(a.fires_on_any_visible_message());
        a.threshold = Some(5.0);
        assert!(!a.fires_on_any_visible_message());
        a.comparison = Some("GreaterThanOrEqualToThreshold".into());
        a.threshold = Some(1.0);
        assert!(a.fires_on_any_visible_message());
    }
}
