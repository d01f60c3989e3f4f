//! A function's queues: their properties, retention, and the policies that keep them to the
//! function's role.

use std::fmt::Write as _;

/// Largest SQS message, set explicitly on every queue (1 MiB; a dead letter over
/// [`INLINE_DEAD_LETTER_BYTES`] keeps its event in the failed-events bucket instead).
pub const MAX_MESSAGE_BYTES: u64 = 1_048_576;

/// A function's own declared queues keep messages 4 days.
pub(crate) const QUEUE_RETENTION_SECONDS: u64 = 345_600;

/// Failure and delivery queues keep messages 14 days, the SQS maximum.
pub(crate) const FAILURE_RETENTION_SECONDS: u64 = 1_209_600;

/// The deny that keeps a queue to its owning roles: every principal whose ARN is not one of
/// theirs is refused `sqs:SendMessage`, whatever an identity policy allows it. Lambda writes the
/// function's on-failure records with the function's execution role, so the role covers them;
/// a scheduled function's schedule role writes the firings Scheduler could not deliver.
/// `ArnNotEquals` (not `...IfExists`) on purpose: a service principal has no `aws:PrincipalArn`,
/// and the deny then holds for it too (no service sends to these queues as itself).
pub(crate) fn only_roles_send(roles: &[&str], queue: &str) -> String {
    let arns: Vec<String> = roles.iter().map(|r| format!("!GetAtt {r}.Arn")).collect();
    let arns = match arns.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    format!(
        r#"          - Sid: OnlyTheFunctionRoleSends
            Effect: Deny
            Principal: "*"
            Action: sqs:SendMessage
            Resource: !GetAtt {queue}.Arn
            Condition:
              ArnNotEquals:
                aws:PrincipalArn: {arns}
"#
    )
}

/// [`only_roles_send`] for one role.
pub(crate) fn only_role_sends(role: &str, queue: &str) -> String {
    only_roles_send(&[role], queue)
}

pub(crate) fn failure_queue_properties() -> String {
    format!(
        "      MessageRetentionPeriod: {FAILURE_RETENTION_SECONDS}\n      MaximumMessageSize: {MAX_MESSAGE_BYTES}\n"
    )
}

/// An encrypted queue without a policy (a queue other systems write to).
pub(crate) fn queue(out: &mut String, id: &str, properties: &str) {
    let _ = write!(
        out,
        r#"
  {id}:
    Type: AWS::SQS::Queue
    Properties:
      SqsManagedSseEnabled: true
{properties}"#
    );
}

pub(crate) fn queue_with_policy(out: &mut String, id: &str, statement: &str, properties: &str) {
    queue(out, id, properties);
    let _ = write!(
        out,
        r#"
  {id}Policy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues:
        - !Ref {id}
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
{statement}"#
    );
}
