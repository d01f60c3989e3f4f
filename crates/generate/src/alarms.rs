//! The CloudWatch alarms of a function: on its failure queues, and on the platform's counters
//! of events it could lose.

use std::fmt::Write as _;

use eventrail_contract::FunctionDeclaration;

use crate::queues::FAILURE_RETENTION_SECONDS;

/// An alarm on a queue: any visible message fires it.
pub(crate) fn alarm(out: &mut String, id: &str, queue: &str, name: &str, what: &str) {
    let metric = Metric {
        namespace: "AWS/SQS",
        name: "ApproximateNumberOfMessagesVisible",
        dimension: "QueueName",
        value: format!("!GetAtt {queue}.QueueName"),
        statistic: "Maximum",
        threshold: 0,
    };
    loss_alarm(out, id, name, &metric, what);
}

/// An alarm on a metric: any datapoint above the threshold fires it.
pub(crate) fn loss_alarm(out: &mut String, id: &str, name: &str, metric: &Metric, what: &str) {
    let _ = write!(
        out,
        r#"
  {id}:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmDescription: !Sub "${{AWS::StackName}}-{name}: {what}"
      Namespace: {namespace}
      MetricName: {metric_name}
      Dimensions:
        - Name: {dimension}
          Value: {value}
      Statistic: {statistic}
      Period: 60
      EvaluationPeriods: 1
      Threshold: {threshold}
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
      AlarmActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]
"#,
        namespace = metric.namespace,
        metric_name = metric.name,
        dimension = metric.dimension,
        value = metric.value,
        statistic = metric.statistic,
        threshold = metric.threshold,
    );
}

/// A CloudWatch metric an alarm watches.
pub(crate) struct Metric<'a> {
    pub(crate) namespace: &'a str,
    pub(crate) name: &'a str,
    pub(crate) dimension: &'a str,
    pub(crate) value: String,
    pub(crate) statistic: &'a str,
    pub(crate) threshold: u64,
}

/// The Lambda metrics of a function alarmed on its own, with what each alarm says. Each counts
/// what a bad version does (it loses events, fails, is throttled), so they are also the alarms
/// a gradual rollout rolls back on ([`rollback_alarms`]).
const FUNCTION_METRICS: [(&str, &str); 4] = [
    (
        "DestinationDeliveryFailures",
        "Lambda could not write a failure record to the failure queue: the event is lost",
    ),
    (
        "AsyncEventsDropped",
        "Lambda dropped an asynchronous event without running the function",
    ),
    (
        "Errors",
        "the function failed (Lambda retries, then writes a failure record)",
    ),
    ("Throttles", "the function was throttled"),
];

/// The logical id of a function's alarm on one of its Lambda metrics.
fn function_alarm(f: &FunctionDeclaration, metric: &str) -> String {
    format!("{}{metric}Alarm", f.logical_id())
}

/// The function's alarms that roll a gradual rollout back: those on its own Lambda metrics,
/// never those on its queues (a failure record left from an earlier version would roll back
/// every later deploy).
pub(crate) fn rollback_alarms(f: &FunctionDeclaration) -> Vec<String> {
    FUNCTION_METRICS
        .iter()
        .map(|(metric, _)| function_alarm(f, metric))
        .collect()
}

/// The function's `FunctionName`, as the template sets it.
pub(crate) fn function_name(f: &FunctionDeclaration) -> String {
    format!("!Sub \"${{AWS::StackName}}-{}\"", f.name)
}

/// The value of the alarms' `FunctionName` dimension. A function with a rollout lists these
/// alarms in its `DeploymentPreference`, so an alarm that referred back to it (`!Ref`) would
/// close a cycle in the template as written: harmless on AWS, where SAM's transform removes
/// the preference before CloudFormation resolves references, but LocalStack 4.13.1's
/// CloudFormation models the untransformed template too and recurses around that cycle
/// without end. Its name, known without the function, breaks the cycle.
fn dimension_value(f: &FunctionDeclaration) -> String {
    match f.declaration.rollout {
        Some(_) => function_name(f),
        None => format!("!Ref {}", f.logical_id()),
    }
}

/// Alarms on the platform's own loss counters for one function: Lambda could not write a
/// failure record (`DestinationDeliveryFailures`), dropped an asynchronous event
/// (`AsyncEventsDropped`), the function failed or was throttled, and the oldest failure record
/// nears the queue's retention (then it would expire unread).
pub(crate) fn platform_loss_alarms(out: &mut String, f: &FunctionDeclaration) {
    let id = f.logical_id();
    let name = f.name.as_str();
    for (metric, what) in FUNCTION_METRICS {
        loss_alarm(
            out,
            &function_alarm(f, metric),
            name,
            &Metric {
                namespace: "AWS/Lambda",
                name: metric,
                dimension: "FunctionName",
                value: dimension_value(f),
                statistic: "Sum",
                threshold: 0,
            },
            what,
        );
    }
    loss_alarm(
        out,
        &format!("{id}FailureQueueAgeAlarm"),
        name,
        &oldest_message_metric(&format!("{id}FailureQueue"), FAILURE_RETENTION_SECONDS),
        "the oldest failure record is past three quarters of the queue's retention: redrive it before it expires",
    );
}

/// The age of a queue's oldest message, alarmed past three quarters of `retention_seconds`
/// (then it would soon expire unread).
pub(crate) fn oldest_message_metric(queue: &str, retention_seconds: u64) -> Metric<'static> {
    Metric {
        namespace: "AWS/SQS",
        name: "ApproximateAgeOfOldestMessage",
        dimension: "QueueName",
        value: format!("!GetAtt {queue}.QueueName"),
        statistic: "Maximum",
        threshold: retention_seconds / 4 * 3,
    }
}
