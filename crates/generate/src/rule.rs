//! A consumer's rule on the bus: SAM's `EventBridgeRule` event when the rule invokes the
//! function, or an `AWS::Events::Rule` whose target is the function's buffer queue. Either way
//! the target keeps its retry policy and its delivery dead-letter queue.

use std::fmt::Write as _;

/// The rule's name (`${AWS::StackName}-<function>-<rule>`), as the `!Sub` text.
pub(crate) fn rule_name(name: &str, rule: &str) -> String {
    format!("${{AWS::StackName}}-{name}-{rule}")
}

/// The rule's ARN, as a `!Sub` value: what a queue policy's `aws:SourceArn` names.
pub(crate) fn rule_arn(name: &str, rule: &str) -> String {
    format!(
        "!Sub \"arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/${{EventBus}}/{}\"",
        rule_name(name, rule)
    )
}

/// The target's retry policy and dead-letter queue, indented by `indent` spaces.
fn delivery_settings(indent: usize, delivery_dlq: &str) -> String {
    let pad = " ".repeat(indent);
    format!(
        "{pad}RetryPolicy:\n{pad}  MaximumEventAgeInSeconds: !Ref DeliveryMaxEventAgeSeconds\n{pad}  MaximumRetryAttempts: !Ref DeliveryMaxRetryAttempts\n{pad}DeadLetterConfig:\n{pad}  Arn: !GetAtt {delivery_dlq}.Arn\n"
    )
}

/// SAM's `EventBridgeRule` event (under `Events`): the rule invokes the function.
pub(crate) fn rule_event(name: &str, rule: &str, pattern: &str, delivery_dlq: &str) -> String {
    format!(
        r#"        {rule}:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref EventBus
            RuleName: !Sub "{rule_name}"
            Pattern: {pattern}
{settings}"#,
        rule_name = rule_name(name, rule),
        settings = delivery_settings(12, delivery_dlq),
    )
}

/// A buffered consumer's rule: an `AWS::Events::Rule` (logical id `<Function><Rule>`, the id
/// SAM gives a direct consumer's rule) that sends to the buffer queue.
pub(crate) fn buffer_rule(
    out: &mut String,
    id: &str,
    name: &str,
    rule: &str,
    pattern: &str,
    buffer: &str,
    delivery_dlq: &str,
) {
    let _ = write!(
        out,
        r#"
  {id}{rule}:
    Type: AWS::Events::Rule
    Properties:
      Description: "{name}: its events into its buffer queue"
      EventBusName: !Ref EventBus
      Name: !Sub "{rule_name}"
      State: ENABLED
      EventPattern: {pattern}
      Targets:
        - Id: {buffer}
          Arn: !GetAtt {buffer}.Arn
{settings}"#,
        rule_name = rule_name(name, rule),
        settings = delivery_settings(10, delivery_dlq),
    );
}
