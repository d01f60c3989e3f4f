//! A scheduled function: its schedule (SAM `ScheduleV2`, EventBridge Scheduler) with the
//! expression from the template parameter `<Function>Schedule` (the declared expression is its
//! default; a stage overrides it in samconfig), the `ScheduledInvocation` input, a retry policy
//! and the function's failure queue as the dead-letter queue; and the schedule's own role,
//! which may invoke that function and send to that queue, nothing else (Scheduler delivers the
//! dead letters with the schedule's execution role).

use std::fmt::Write as _;

use eventrail_contract::names::FunctionOutputs;
use eventrail_contract::{FunctionDeclaration, ScheduleDeclaration, ScheduledInvocation};

use crate::rollout::invoke_resource;
use crate::text::yaml_string;

/// The SAM event's name: SAM names the schedule resource `<Function>Scheduler`, so it does not
/// clash with the parameter `<Function>Schedule`.
pub const SCHEDULE_EVENT: &str = "Scheduler";

/// The schedule's role's logical id.
pub(crate) fn schedule_role(f: &FunctionDeclaration) -> String {
    format!("{}ScheduleRole", f.logical_id())
}

/// The schedule's name, as a `!Sub` text (the stack output gives it).
pub(crate) fn schedule_name(f: &FunctionDeclaration) -> String {
    format!("${{AWS::StackName}}-{}", f.name)
}

/// The template parameter holding the expression, under `Parameters`.
pub(crate) fn schedule_parameter(f: &FunctionDeclaration, s: &ScheduleDeclaration) -> String {
    let id = f.logical_id();
    format!(
        r#"  {parameter}:
    Type: String
    Default: {default}
    AllowedPattern: "^(rate|cron)\\(.+\\)$"
    Description: "When {name} runs: rate(...) or cron(...) of EventBridge Scheduler (the declared default; samconfig's local environment sets rate(1 minute))"
"#,
        parameter = FunctionOutputs { logical_id: &id }.schedule_parameter(),
        default = yaml_string(&s.expression),
        name = f.name,
    )
}

/// The `ScheduleV2` event, under `Events`.
pub(crate) fn schedule_event(
    f: &FunctionDeclaration,
    s: &ScheduleDeclaration,
    failure: &str,
) -> String {
    let id = f.logical_id();
    let mut out = format!(
        r#"        {SCHEDULE_EVENT}:
          Type: ScheduleV2
          Properties:
            Name: !Sub "{schedule_name}"
            Description: "Runs {name} ({parameter})"
            ScheduleExpression: !Ref {parameter}
            FlexibleTimeWindow:
              Mode: "OFF"
            Input: {input}
            RoleArn: !GetAtt {role}.Arn
            RetryPolicy:
              MaximumEventAgeInSeconds: !Ref DeliveryMaxEventAgeSeconds
              MaximumRetryAttempts: !Ref DeliveryMaxRetryAttempts
            DeadLetterConfig:
              Arn: !GetAtt {failure}.Arn
"#,
        schedule_name = schedule_name(f),
        name = f.name,
        parameter = FunctionOutputs { logical_id: &id }.schedule_parameter(),
        input = yaml_string(ScheduledInvocation::input_template()),
        role = schedule_role(f),
    );
    if let Some(zone) = &s.timezone {
        let _ = writeln!(
            out,
            "            ScheduleExpressionTimezone: {}",
            yaml_string(zone)
        );
    }
    out
}

/// The schedule's role: assumed by EventBridge Scheduler for this account only; invokes the
/// function (its alias, when it has a rollout), sends the firings it could not deliver to the
/// function's failure queue.
pub(crate) fn schedule_role_resource(out: &mut String, f: &FunctionDeclaration, failure: &str) {
    let _ = write!(
        out,
        r#"
  {role}:
    Type: AWS::IAM::Role
    Properties:
      Description: "Role of {name}'s schedule: invokes {name}, sends undeliverable firings to its failure queue"
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal:
              Service: scheduler.amazonaws.com
            Action: sts:AssumeRole
            Condition:
              StringEquals:
                aws:SourceAccount: !Ref AWS::AccountId
      Policies:
        - PolicyName: {name}-schedule
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Sid: InvokeTheFunction
                Effect: Allow
                Action: lambda:InvokeFunction
                Resource: {invoke}
              - Sid: OwnFailureQueue
                Effect: Allow
                Action: sqs:SendMessage
                Resource: !GetAtt {failure}.Arn
"#,
        role = schedule_role(f),
        name = f.name,
        invoke = invoke_resource(f),
    );
}
