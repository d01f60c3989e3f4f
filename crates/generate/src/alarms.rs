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

/// Alarms on the platform's own loss counters for one function: Lambda could not write a
/// failure record (`DestinationDeliveryFailures`), dropped an asynchronous event
/// (`AsyncEventsDropped`), the function failed or was throttled, and the oldest failure record
/// nears the queue's retention (then it would expire unread).
pub(crate) fn platform_loss_alarms(out: &mut String, f: &FunctionDeclaration) {
    let id = f.logical_id();
    let name = f.name.as_str();
    let function = || format!("!Ref {id}");
    let lambda = |metric: &'static str, statistic: &'static str| Metric {
        namespace: "AWS/Lambda",
        name: metric,
        dimension: "FunctionName",
        value: function(),
        statistic,
        threshold: 0,
    };
    loss_alarm(
        out,
        &format!("{id}DestinationDeliveryFailuresAlarm"),
        name,
        &lambda("DestinationDeliveryFailures", "Sum"),
        "Lambda could not write a failure record to the failure queue: the event is lost",
    );
    loss_alarm(
        out,
        &format!("{id}AsyncEventsDroppedAlarm"),
        name,
        &lambda("AsyncEventsDropped", "Sum"),
        "Lambda dropped an asynchronous event without running the function",
    );
    loss_alarm(
        out,
        &format!("{id}ErrorsAlarm"),
        name,
        &lambda("Errors", "Sum"),
        "the function failed (Lambda retries, then writes a failure record)",
    );
    loss_alarm(
        out,
        &format!("{id}ThrottlesAlarm"),
        name,
        &lambda("Throttles", "Sum"),
        "the function was throttled",
    );
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
