//! The app-wide resources the declarations imply: the bus policy that keeps the app's sources
//! to its roles, and the bucket of failed events too large for a queue message.

use eventrail_contract::names::{
    APP_SOURCES_POLICY, FAILED_EVENTS_BUCKET, HAS_TRUSTED_PUBLISHERS_CONDITION,
    TRUSTED_PUBLISHERS_PARAMETER,
};
use eventrail_contract::{AppSettings, FunctionDeclaration};
use eventrail_model::declared::{GenerateError, app_sources_pattern};

use crate::queues::FAILURE_RETENTION_SECONDS;
use crate::text::yaml_string;

/// The bucket a dead letter's event goes to when the letter would not fit in a queue message
/// (a claim check: the letter keeps the bucket and key). Kept when the stack is deleted: it
/// holds failed events. Objects expire with the failure queues' retention.
pub(crate) fn failed_events_bucket() -> String {
    let days = FAILURE_RETENTION_SECONDS / 86_400;
    format!(
        r#"
  # ----------------------------------------------------------------- failed events too large for a queue
  {FAILED_EVENTS_BUCKET}:
    Type: AWS::S3::Bucket
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      BucketEncryption:
        ServerSideEncryptionConfiguration:
          - ServerSideEncryptionByDefault:
              SSEAlgorithm: AES256
      PublicAccessBlockConfiguration:
        BlockPublicAcls: true
        BlockPublicPolicy: true
        IgnorePublicAcls: true
        RestrictPublicBuckets: true
      LifecycleConfiguration:
        Rules:
          - Id: ExpireWithTheFailureQueues
            Status: Enabled
            ExpirationInDays: {days}
"#
    )
}

/// The bus policy statement that denies `PutEvents` of the app's sources (`source-prefix*`) to
/// every principal but the roles of the functions that emit and the principals listed in the
/// `TrustedPublisherArns` parameter (operators redriving, CI). A role's own policy then limits
/// each function to its own sources and detail-types. Written after the hand-written
/// `EventBusPolicy`, when there is one, because a bus takes one permission change at a time.
///
/// A `PutEvents` request carries up to ten entries, so `events:source` holds a set of values:
/// the deny matches when any of them has the app's prefix (`ForAnyValue:StringLike`).
pub(crate) fn app_sources_bus_policy(
    functions: &[FunctionDeclaration],
    settings: &AppSettings,
    outside: &str,
    file: &str,
) -> Result<String, GenerateError> {
    let roles: Vec<String> = functions
        .iter()
        .filter(|f| f.declaration.emits_events())
        .map(|f| format!("!GetAtt {}Role.Arn", f.logical_id()))
        .collect();
    let declares = |what: &str| {
        let key = format!("  {what}:");
        outside.lines().any(|l| {
            l.strip_prefix(key.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
        })
    };
    // The operators' principals, when the template has the parameter that lists them, and
    // only when it lists someone: `!Join` of an empty list parameter is "", which `!Split`
    // would turn into an empty ARN in the exemption.
    let principals = if declares(TRUSTED_PUBLISHERS_PARAMETER) {
        if !declares(HAS_TRUSTED_PUBLISHERS_CONDITION) {
            return Err(GenerateError {
                file: file.to_owned(),
                message: format!(
                    "the template has the parameter {TRUSTED_PUBLISHERS_PARAMETER} but not the \
                     condition the bus policy needs; add under Conditions: \
                     `{HAS_TRUSTED_PUBLISHERS_CONDITION}: !Not [!Equals [!Join [\"\", !Ref \
                     {TRUSTED_PUBLISHERS_PARAMETER}], \"\"]]`"
                ),
            });
        }
        let mut with_trusted = roles.clone();
        with_trusted.push(format!(
            "!Join [\",\", !Ref {TRUSTED_PUBLISHERS_PARAMETER}]"
        ));
        format!(
            "!If [{HAS_TRUSTED_PUBLISHERS_CONDITION}, !Split [\",\", !Join [\",\", [{}]]], [{}]]",
            with_trusted.join(", "),
            roles.join(", ")
        )
    } else {
        format!("[{}]", roles.join(", "))
    };
    let depends_on = if outside.lines().any(|l| l.trim_end() == "  EventBusPolicy:") {
        "    DependsOn: EventBusPolicy\n"
    } else {
        ""
    };
    Ok(format!(
        r#"
  # ----------------------------------------------------------------- the bus: no forged events
  # Only the roles of functions that emit (and the trusted publishers) may put the app's sources.
  {APP_SOURCES_POLICY}:
    Type: AWS::Events::EventBusPolicy
{depends_on}    Properties:
      EventBusName: !Ref EventBus
      StatementId: OnlyTheAppsRolesPutItsSources
      Statement:
        Sid: OnlyTheAppsRolesPutItsSources
        Effect: Deny
        Principal: "*"
        Action: events:PutEvents
        Resource: !GetAtt EventBus.Arn
        Condition:
          ForAnyValue:StringLike:
            events:source: [{source}]
          ArnNotLike:
            aws:PrincipalArn: {principals}
"#,
        source = yaml_string(&app_sources_pattern(settings)),
    ))
}
