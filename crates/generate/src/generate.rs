//! Generates the per-function part of the template from the functions' declarations
//! (`[package.metadata.eventrail]`), between marker lines in the checked-in template, so the
//! result stays reviewable and plain `sam build && sam deploy` keeps working.
//!
//! Per function: the `AWS::Serverless::Function` (its rule with pattern, retry policy and
//! delivery dead-letter queue; its `EventInvokeConfig` with the on-failure queue), its log
//! group, its own role (logs on its own group, `PutEvents` only when it emits and only for
//! its own sources and detail-types, `SendMessage` on its own queues), its failure queue and
//! delivery dead-letter queue with their policies and alarms, its own declared queues, its
//! idempotency table (DynamoDB, TTL on `expiration`) when it declares one, and its outputs. The bus, its policy, the archive and shared queues stay hand-written above.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use eventrail_contract::declaration::{EnvValue, failed_events_prefix};
use eventrail_contract::names::{
    APP_SOURCES_POLICY, BUS_NAME_VAR, DLQ_URL_VAR, FAILED_EVENTS_BUCKET, FAILED_EVENTS_BUCKET_VAR,
    FAILED_EVENTS_PREFIX_VAR, HAS_TRUSTED_PUBLISHERS_CONDITION, IDEMPOTENCY_TABLE_VAR,
    IDEMPOTENCY_TTL_VAR, TRUSTED_PUBLISHERS_PARAMETER,
};
use eventrail_contract::{AppSettings, CatalogIndex, FunctionDeclaration, Invoke};
use eventrail_model::declared::{
    GenerateError, app_sources_pattern, emitted_sources, function_error, rule_pattern,
};
use serde_json::Value;

/// The line that opens the generated resources.
pub const RESOURCES_BEGIN: &str = "  # ==== generated functions: begin (`eventrail infra generate`; edit functions/*/Cargo.toml [package.metadata.eventrail], not these lines) ====";
/// The line that closes them.
pub const RESOURCES_END: &str = "  # ==== generated functions: end ====";
/// The line that opens the generated outputs.
pub const OUTPUTS_BEGIN: &str =
    "  # ==== generated outputs: begin (`eventrail infra generate`) ====";
/// The line that closes them.
pub const OUTPUTS_END: &str = "  # ==== generated outputs: end ====";

/// JSON with object keys sorted at every level, so generated text never depends on map order.
pub fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}: {}", Value::String(k.clone()), canonical_json(&map[k])))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

fn yaml_string(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

fn flow_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| yaml_string(i)).collect();
    format!("[{}]", quoted.join(", "))
}

/// An alarm on a queue: any visible message fires it.
fn alarm(out: &mut String, id: &str, queue: &str, name: &str, what: &str) {
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
fn loss_alarm(out: &mut String, id: &str, name: &str, metric: &Metric, what: &str) {
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
struct Metric<'a> {
    namespace: &'a str,
    name: &'a str,
    dimension: &'a str,
    value: String,
    statistic: &'a str,
    threshold: u64,
}

/// Largest SQS message, set explicitly on every queue (1 MiB; a dead letter over
/// [`INLINE_DEAD_LETTER_BYTES`] keeps its event in the failed-events bucket instead).
pub const MAX_MESSAGE_BYTES: u64 = 1_048_576;
/// A function's own declared queues keep messages 4 days.
const QUEUE_RETENTION_SECONDS: u64 = 345_600;
/// Failure and delivery queues keep messages 14 days, the SQS maximum.
const FAILURE_RETENTION_SECONDS: u64 = 1_209_600;

fn env_value(value: &EnvValue) -> String {
    match value {
        EnvValue::Literal(text) => yaml_string(text),
        EnvValue::Ref { reference } => format!("!Ref {reference}"),
        EnvValue::GetAtt { get_att } => format!("!GetAtt {get_att}"),
    }
}

/// The resources of one function, as YAML lines indented for `Resources`.
pub fn function_resources(
    f: &FunctionDeclaration,
    catalog: &CatalogIndex,
    settings: &AppSettings,
) -> Result<String, GenerateError> {
    let d = &f.declaration;
    let name = f.name.as_str();
    let id = f.logical_id();
    let failure = format!("{id}FailureQueue");
    let delivery = format!("{id}DeliveryDlq");
    let role = format!("{id}Role");
    let log_group = format!("{id}LogGroup");
    let rule = d.rule_name();
    let description = d.description.clone().unwrap_or_else(|| match d.invoke {
        Invoke::Direct => format!("{name}: invoked directly"),
        Invoke::Rule => format!("{name}: on {}", d.consumes.join(", ")),
    });
    let mut out = String::new();
    let _ = write!(
        out,
        r#"
  # ----------------------------------------------------------------- {name}
  {id}:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties:
        Binary: {name}
    Properties:
      FunctionName: !Sub "${{AWS::StackName}}-{name}"
      Description: {description}
      CodeUri: ../{functions}/{name}
      Role: !GetAtt {role}.Arn
"#,
        description = yaml_string(&description),
        functions = settings.functions,
    );
    if let Some(memory) = d.memory {
        let _ = writeln!(out, "      MemorySize: {memory}");
    }
    if let Some(timeout) = d.timeout {
        let _ = writeln!(out, "      Timeout: {timeout}");
    }
    out.push_str("      Environment:\n        Variables:\n");
    if d.emits_events() {
        let _ = writeln!(out, "          {BUS_NAME_VAR}: !Ref EventBus");
    }
    let _ = writeln!(out, "          {DLQ_URL_VAR}: !Ref {failure}");
    if d.is_consumer() {
        let _ = writeln!(
            out,
            "          {FAILED_EVENTS_BUCKET_VAR}: !Ref {FAILED_EVENTS_BUCKET}\n          {FAILED_EVENTS_PREFIX_VAR}: {}",
            yaml_string(&failed_events_prefix(name))
        );
    }
    for (var, value) in &d.environment {
        let _ = writeln!(out, "          {var}: {}", env_value(value));
    }
    for (queue, q) in &d.queues {
        let _ = writeln!(
            out,
            "          {}: !Ref {id}{}Queue",
            q.env,
            eventrail_contract::declaration::logical_id(queue)
        );
    }
    if let Some(idempotency) = &d.idempotency {
        let _ = write!(
            out,
            "          {IDEMPOTENCY_TABLE_VAR}: !Ref {id}IdempotencyTable\n          {IDEMPOTENCY_TTL_VAR}: \"{}\"\n",
            idempotency.ttl_seconds()
        );
    }
    let _ = write!(
        out,
        r#"      EventInvokeConfig:
        MaximumRetryAttempts: !Ref InvokeMaxRetryAttempts
        MaximumEventAgeInSeconds: !Ref InvokeMaxEventAgeSeconds
        DestinationConfig:
          OnFailure:
            Type: SQS
            Destination: !GetAtt {failure}.Arn
"#
    );
    if d.invoke == Invoke::Rule {
        let pattern = rule_pattern(f, catalog, settings)?;
        let _ = write!(
            out,
            r#"      Events:
        {rule}:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref EventBus
            RuleName: !Sub "${{AWS::StackName}}-{name}-{rule}"
            Pattern: {pattern}
            RetryPolicy:
              MaximumEventAgeInSeconds: !Ref DeliveryMaxEventAgeSeconds
              MaximumRetryAttempts: !Ref DeliveryMaxRetryAttempts
            DeadLetterConfig:
              Arn: !GetAtt {delivery}.Arn
"#,
            pattern = canonical_json(&pattern),
        );
    }
    let _ = write!(
        out,
        r#"
  {log_group}:
    Type: AWS::Logs::LogGroup
    DeletionPolicy: Delete
    UpdateReplacePolicy: Delete
    Properties:
      LogGroupName: !Sub "/aws/lambda/${{AWS::StackName}}-{name}"
      RetentionInDays: !Ref LogRetentionDays

  {role}:
    Type: AWS::IAM::Role
    Properties:
      Description: "Execution role of {name}: its own log group and queues{put}"
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal:
              Service: lambda.amazonaws.com
            Action: sts:AssumeRole
      Policies:
        - PolicyName: {name}-least-privilege
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Sid: OwnLogGroup
                Effect: Allow
                Action:
                  - logs:CreateLogStream
                  - logs:PutLogEvents
                Resource: !GetAtt {log_group}.Arn
"#,
        put = if d.emits_events() {
            ", PutEvents of its own events on the bus"
        } else {
            ""
        },
    );
    if d.emits_events() {
        let sources = emitted_sources(f, catalog, settings)?;
        let _ = write!(
            out,
            r#"              - Sid: PutEventsOnTheBusOnly
                Effect: Allow
                Action: events:PutEvents
                Resource: !GetAtt EventBus.Arn
                Condition:
                  ForAllValues:StringEquals:
                    events:source: {sources}
                    events:detail-type: {types}
                  "Null":
                    events:source: "false"
                    events:detail-type: "false"
"#,
            sources = flow_list(&sources),
            types = flow_list(&d.emits),
        );
    }
    let _ = write!(
        out,
        r#"              - Sid: OwnFailureQueue
                Effect: Allow
                Action: sqs:SendMessage
                Resource: !GetAtt {failure}.Arn
"#
    );
    if d.is_consumer() {
        let _ = write!(
            out,
            r#"              - Sid: OwnFailedEventsPrefix
                Effect: Allow
                Action: s3:PutObject
                Resource: !Sub "${{{FAILED_EVENTS_BUCKET}.Arn}}/{prefix}*"
"#,
            prefix = failed_events_prefix(name)
        );
    }
    for queue in d.queues.keys() {
        let q = eventrail_contract::declaration::logical_id(queue);
        let _ = write!(
            out,
            r#"              - Sid: Own{q}Queue
                Effect: Allow
                Action: sqs:SendMessage
                Resource: !GetAtt {id}{q}Queue.Arn
"#
        );
    }
    if d.idempotency.is_some() {
        let _ = write!(
            out,
            r#"              - Sid: OwnIdempotencyTable
                Effect: Allow
                Action: [{actions}]
                Resource: !GetAtt {id}IdempotencyTable.Arn
"#,
            actions = IDEMPOTENCY_ACTIONS.join(", ")
        );
    }
    for p in &d.permissions {
        let _ = write!(
            out,
            "              - Sid: {}\n                Effect: Allow\n                Action: {}\n                Resource:\n",
            p.sid,
            flow_list(&p.actions)
        );
        for r in &p.resources {
            let _ = writeln!(out, "                  - !GetAtt {r}.Arn");
        }
    }
    // No Allow here: the role's own `OwnFailureQueue` statement is the one grant. In the same
    // account a queue policy naming the role would allow the send by itself, so the role's
    // statement could go missing unnoticed (IAM enforcement on the local stack could not see it
    // either). The queue policy only fences every other sender off.
    queue_with_policy(
        &mut out,
        &failure,
        &only_role_sends(&role, &failure),
        &failure_queue_properties(),
    );
    alarm(
        &mut out,
        &format!("{failure}Alarm"),
        &failure,
        name,
        "a handler failure or poison event is waiting in its failure queue",
    );
    platform_loss_alarms(&mut out, f);
    if d.invoke == Invoke::Rule {
        queue_with_policy(
            &mut out,
            &delivery,
            &format!(
                r#"          - Sid: RuleSendsUndeliverableEvents
            Effect: Allow
            Principal:
              Service: events.amazonaws.com
            Action: sqs:SendMessage
            Resource: !GetAtt {delivery}.Arn
            Condition:
              ArnEquals:
                aws:SourceArn: {rule_arn}
          - Sid: OnlyTheRuleSends
            Effect: Deny
            Principal: "*"
            Action: sqs:SendMessage
            Resource: !GetAtt {delivery}.Arn
            Condition:
              ArnNotEquals:
                aws:SourceArn: {rule_arn}
"#,
                rule_arn = format!(
                    "!Sub \"arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/${{EventBus}}/${{AWS::StackName}}-{name}-{rule}\""
                ),
            ),
            &failure_queue_properties(),
        );
        alarm(
            &mut out,
            &format!("{delivery}Alarm"),
            &delivery,
            name,
            "EventBridge could not deliver an event to the function",
        );
        loss_alarm(
            &mut out,
            &format!("{delivery}AgeAlarm"),
            name,
            &oldest_message_metric(&delivery, FAILURE_RETENTION_SECONDS),
            "the oldest undeliverable event is past three quarters of the queue's retention: redrive it before it expires",
        );
        loss_alarm(
            &mut out,
            &format!("{id}RuleDlqFailuresAlarm"),
            name,
            &Metric {
                namespace: "AWS/Events",
                name: "InvocationsFailedToBeSentToDlq",
                dimension: "RuleName",
                value: format!("!Sub \"${{AWS::StackName}}-{name}-{rule}\""),
                statistic: "Sum",
                threshold: 0,
            },
            "EventBridge could neither deliver an event nor put it in the delivery DLQ: it is lost",
        );
    }
    for (queue, q) in &d.queues {
        let queue_id = format!(
            "{id}{}Queue",
            eventrail_contract::declaration::logical_id(queue)
        );
        let fifo = if q.fifo {
            "      FifoQueue: true\n      ContentBasedDeduplication: false\n"
        } else {
            ""
        };
        queue_with_policy(
            &mut out,
            &queue_id,
            &format!(
                r#"          - Sid: FunctionRoleSends
            Effect: Allow
            Principal:
              AWS: !GetAtt {role}.Arn
            Action: sqs:SendMessage
            Resource: !GetAtt {queue_id}.Arn
{deny}"#,
                deny = only_role_sends(&role, &queue_id),
            ),
            &format!(
                "{fifo}      MessageRetentionPeriod: {QUEUE_RETENTION_SECONDS}\n      MaximumMessageSize: {MAX_MESSAGE_BYTES}\n"
            ),
        );
        loss_alarm(
            &mut out,
            &format!("{queue_id}AgeAlarm"),
            name,
            &oldest_message_metric(&queue_id, QUEUE_RETENTION_SECONDS),
            &format!(
                "the oldest message of queue {queue} is past three quarters of its retention: its reader is behind or gone"
            ),
        );
    }
    if d.idempotency.is_some() {
        let _ = write!(
            out,
            r#"
  {id}IdempotencyTable:
    Type: AWS::DynamoDB::Table
    DeletionPolicy: Delete
    UpdateReplacePolicy: Delete
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - AttributeName: id
          AttributeType: S
      KeySchema:
        - AttributeName: id
          KeyType: HASH
      TimeToLiveSpecification:
        AttributeName: expiration
        Enabled: true
"#
        );
    }
    Ok(out)
}

/// The deny that keeps a queue to its owning role: every principal whose ARN is not the role's
/// is refused `sqs:SendMessage`, whatever an identity policy allows it. Lambda writes the
/// function's on-failure records with the function's execution role, so the role covers them.
/// `ArnNotEquals` (not `...IfExists`) on purpose: a service principal has no `aws:PrincipalArn`,
/// and the deny then holds for it too (no service sends to these queues).
fn only_role_sends(role: &str, queue: &str) -> String {
    format!(
        r#"          - Sid: OnlyTheFunctionRoleSends
            Effect: Deny
            Principal: "*"
            Action: sqs:SendMessage
            Resource: !GetAtt {queue}.Arn
            Condition:
              ArnNotEquals:
                aws:PrincipalArn: !GetAtt {role}.Arn
"#
    )
}

fn failure_queue_properties() -> String {
    format!(
        "      MessageRetentionPeriod: {FAILURE_RETENTION_SECONDS}\n      MaximumMessageSize: {MAX_MESSAGE_BYTES}\n"
    )
}

/// Alarms on the platform's own loss counters for one function: Lambda could not write a
/// failure record (`DestinationDeliveryFailures`), dropped an asynchronous event
/// (`AsyncEventsDropped`), the function failed or was throttled, and the oldest failure record
/// nears the queue's retention (then it would expire unread).
fn platform_loss_alarms(out: &mut String, f: &FunctionDeclaration) {
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
fn oldest_message_metric(queue: &str, retention_seconds: u64) -> Metric<'static> {
    Metric {
        namespace: "AWS/SQS",
        name: "ApproximateAgeOfOldestMessage",
        dimension: "QueueName",
        value: format!("!GetAtt {queue}.QueueName"),
        statistic: "Maximum",
        threshold: retention_seconds / 4 * 3,
    }
}

/// What the idempotency store does, and all its role may do on the table.
pub const IDEMPOTENCY_ACTIONS: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
];

fn queue_with_policy(out: &mut String, id: &str, statement: &str, properties: &str) {
    let _ = write!(
        out,
        r#"
  {id}:
    Type: AWS::SQS::Queue
    Properties:
      SqsManagedSseEnabled: true
{properties}
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

/// The outputs of one function, indented for `Outputs`.
pub fn function_outputs(f: &FunctionDeclaration) -> String {
    let name = &f.name;
    let id = f.logical_id();
    let d = &f.declaration;
    let mut out = format!(
        r#"  {id}FunctionName:
    Description: Name of the {name} function
    Value: !Ref {id}
  {id}FailureQueueUrl:
    Description: On-failure destination and poison-event queue of {name} ({DLQ_URL_VAR})
    Value: !Ref {id}FailureQueue
"#
    );
    if d.invoke == Invoke::Rule {
        let _ = write!(
            out,
            r#"  {id}DeliveryDlqUrl:
    Description: Dead-letter queue of the {id}{rule} rule target (EventBridge delivery failures)
    Value: !Ref {id}DeliveryDlq
"#,
            rule = d.rule_name()
        );
    }
    for (queue, q) in &d.queues {
        let qid = eventrail_contract::declaration::logical_id(queue);
        let _ = write!(
            out,
            r#"  {id}{qid}QueueUrl:
    Description: Queue {queue} of {name} ({env})
    Value: !Ref {id}{qid}Queue
"#,
            env = q.env
        );
    }
    if d.idempotency.is_some() {
        let _ = write!(
            out,
            r#"  {id}IdempotencyTableName:
    Description: Idempotency records of {name} ({IDEMPOTENCY_TABLE_VAR})
    Value: !Ref {id}IdempotencyTable
"#
        );
    }
    out
}

fn replace_between(
    text: &str,
    begin: &str,
    end: &str,
    body: &str,
    file: &str,
) -> Result<String, GenerateError> {
    let missing = |marker: &str| GenerateError {
        file: file.to_owned(),
        message: format!(
            "the marker line `{}` is missing; the generated part of the template sits between \
             the begin and end markers (see README, \"Add a function\")",
            marker.trim()
        ),
    };
    let start = text.find(begin).ok_or_else(|| missing(begin))?;
    let after_begin = start + begin.len();
    let stop = text[after_begin..]
        .find(end)
        .map(|i| after_begin + i)
        .ok_or_else(|| missing(end))?;
    let mut out = String::with_capacity(text.len() + body.len());
    out.push_str(&text[..after_begin]);
    out.push('\n');
    out.push_str(body.trim_start_matches('\n'));
    if !body.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&text[stop..]);
    Ok(out)
}

/// Rewrites the generated sections of `template` (its text; `file` names it in errors) from the
/// declarations. Everything outside the markers is left as it is.
pub fn generate_template(
    template: &str,
    file: &str,
    functions: &[FunctionDeclaration],
    catalog: &CatalogIndex,
    settings: &AppSettings,
) -> Result<String, GenerateError> {
    let outside = strip_between(template, RESOURCES_BEGIN, RESOURCES_END);
    let mut ids = BTreeSet::new();
    let mut resources = String::new();
    let mut outputs = String::new();
    for f in functions {
        let id = f.logical_id();
        if !ids.insert(id.clone()) {
            return Err(function_error(
                f,
                format!("two functions map to the logical id {id}; rename one"),
            ));
        }
        if outside.lines().any(|l| l.trim_end() == format!("  {id}:")) {
            return Err(function_error(
                f,
                format!(
                    "the logical id {id} is already a hand-written resource of {file}; rename the function"
                ),
            ));
        }
        resources.push_str(&function_resources(f, catalog, settings)?);
        outputs.push_str(&function_outputs(f));
    }
    resources.push_str(&app_sources_bus_policy(
        functions, settings, &outside, file,
    )?);
    if functions.iter().any(|f| f.declaration.is_consumer()) {
        resources.push_str(&failed_events_bucket());
        let _ = write!(
            outputs,
            "  {FAILED_EVENTS_BUCKET}Name:\n    Description: Bucket of failed events too large for a queue message (dead letters point at them)\n    Value: !Ref {FAILED_EVENTS_BUCKET}\n"
        );
    }
    let text = replace_between(template, RESOURCES_BEGIN, RESOURCES_END, &resources, file)?;
    let text = replace_between(&text, OUTPUTS_BEGIN, OUTPUTS_END, &outputs, file)?;
    Ok(text)
}

/// The bucket a dead letter's event goes to when the letter would not fit in a queue message
/// (a claim check: the letter keeps the bucket and key). Kept when the stack is deleted: it
/// holds failed events. Objects expire with the failure queues' retention.
fn failed_events_bucket() -> String {
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
fn app_sources_bus_policy(
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

fn strip_between(text: &str, begin: &str, end: &str) -> String {
    match (text.find(begin), text.find(end)) {
        (Some(a), Some(b)) if a < b => format!("{}{}", &text[..a], &text[b..]),
        _ => text.to_owned(),
    }
}

/// The routing index: for each sample (file name), the functions whose declared rule matches
/// it, computed with the pattern engine from the declarations alone. Checked in beside the
/// samples so a change of routing shows in review; the routing tests compare it with the
/// template's rules.
pub fn consumers_index(
    functions: &[FunctionDeclaration],
    catalog: &CatalogIndex,
    settings: &AppSettings,
    samples: &[(String, Value)],
) -> Result<std::collections::BTreeMap<String, BTreeSet<String>>, GenerateError> {
    let mut machine = eventrail_pattern::RuleMachine::new();
    for f in functions.iter().filter(|f| f.declaration.is_consumer()) {
        let pattern = rule_pattern(f, catalog, settings)?;
        let compiled = eventrail_pattern::Pattern::from_value(&pattern).map_err(|e| {
            function_error(
                f,
                format!("[package.metadata.eventrail] filter: not a valid event pattern: {e}"),
            )
        })?;
        machine.add_rule(f.name.clone(), &compiled);
    }
    Ok(samples
        .iter()
        .map(|(name, event)| {
            let receivers = machine.matching_rules(event).into_iter().cloned().collect();
            (name.clone(), receivers)
        })
        .collect())
}

/// The routing index as the checked-in file's text.
pub fn consumers_index_text(
    index: &std::collections::BTreeMap<String, BTreeSet<String>>,
) -> String {
    let mut text = serde_json::to_string_pretty(index).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventrail_contract::{CatalogEvent, Declaration};

    fn settings() -> AppSettings {
        AppSettings {
            source_prefix: "app.".into(),
            catalog_crate: "events".into(),
            catalog_source: "events/src/catalog.rs".into(),
            catalog: "events/catalog.json".into(),
            samples: "events/samples".into(),
            template: "infra/template.yaml".into(),
            functions: "functions".into(),
            consumers: "events/consumers.json".into(),
            lint: Default::default(),
        }
    }

    fn catalog() -> CatalogIndex {
        CatalogIndex {
            events: vec![
                CatalogEvent {
                    detail_type: "Placed".into(),
                    source: "app.intake".into(),
                    version: 1,
                    schema: "schemas/placed.json".into(),
                },
                CatalogEvent {
                    detail_type: "Wrapped".into(),
                    source: "app.gift-wrap".into(),
                    version: 1,
                    schema: "schemas/wrapped.json".into(),
                },
            ],
        }
    }

    fn function(name: &str, declaration: Declaration) -> FunctionDeclaration {
        FunctionDeclaration {
            name: name.into(),
            dir: format!("functions/{name}").into(),
            declaration,
        }
    }

    #[test]
    fn canonical_json_sorts_keys() {
        let v = serde_json::json!({"b": 1, "a": {"d": [2, {"y": 1, "x": 0}], "c": "s"}});
        assert_eq!(
            canonical_json(&v),
            r#"{"a": {"c": "s", "d": [2, {"x": 0, "y": 1}]}, "b": 1}"#
        );
    }

    #[test]
    fn a_dashed_function_gets_its_resources_and_scoped_put_events() {
        let f = function(
            "gift-wrap",
            Declaration {
                consumes: vec!["Placed".into()],
                emits: vec!["Wrapped".into()],
                ..Declaration::default()
            },
        );
        let text = function_resources(&f, &catalog(), &settings()).unwrap();
        assert!(text.contains("  GiftWrap:\n"));
        assert!(text.contains("Binary: gift-wrap"));
        assert!(text.contains("RuleName: !Sub \"${AWS::StackName}-gift-wrap-Placed\""));
        assert!(text.contains(r#"Pattern: {"detail-type": ["Placed"], "source": ["app.intake"]}"#));
        assert!(text.contains(
            "                  ForAllValues:StringEquals:\n                    events:source: [\"app.gift-wrap\"]\n                    events:detail-type: [\"Wrapped\"]\n                  \"Null\":\n                    events:source: \"false\"\n                    events:detail-type: \"false\"\n"
        ));
        assert!(text.contains("          EVENTRAIL_FAILED_EVENTS_PREFIX: \"gift-wrap/\"\n"));
        assert!(text.contains(
            "Action: s3:PutObject\n                Resource: !Sub \"${FailedEventsBucket.Arn}/gift-wrap/*\"\n"
        ));
        assert!(text.contains("Sid: OnlyTheRuleSends\n            Effect: Deny"));
        assert!(text.contains("  GiftWrapDeliveryDlqAgeAlarm:\n"));
        assert_eq!(
            text.matches("Sid: OnlyTheFunctionRoleSends").count(),
            1,
            "the failure queue denies every other sender"
        );
        assert!(text.contains("GiftWrapDeliveryDlq"));
        let outputs = function_outputs(&f);
        assert!(outputs.contains("GiftWrapFunctionName"));
    }

    #[test]
    fn an_idempotency_table_comes_with_ttl_access_and_variables() {
        let f = function(
            "gift-wrap",
            Declaration {
                consumes: vec!["Placed".into()],
                idempotency: Some(eventrail_contract::declaration::IdempotencyDeclaration {
                    ttl_hours: Some(2),
                }),
                ..Declaration::default()
            },
        );
        let text = function_resources(&f, &catalog(), &settings()).unwrap();
        assert!(text.contains("  GiftWrapIdempotencyTable:\n    Type: AWS::DynamoDB::Table"));
        assert!(text.contains("BillingMode: PAY_PER_REQUEST"));
        assert!(text.contains("TimeToLiveSpecification:\n        AttributeName: expiration"));
        assert!(text.contains("EVENTRAIL_IDEMPOTENCY_TABLE: !Ref GiftWrapIdempotencyTable"));
        assert!(text.contains("EVENTRAIL_IDEMPOTENCY_TTL_SECONDS: \"7200\""));
        assert!(text.contains(
            "Action: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem, dynamodb:DeleteItem]\n                Resource: !GetAtt GiftWrapIdempotencyTable.Arn"
        ));
        assert!(function_outputs(&f).contains("GiftWrapIdempotencyTableName"));
        let plain = function(
            "gift-wrap",
            Declaration {
                consumes: vec!["Placed".into()],
                ..Declaration::default()
            },
        );
        let text = function_resources(&plain, &catalog(), &settings()).unwrap();
        assert!(!text.contains("dynamodb") && !text.contains("Idempotency"));
    }

    #[test]
    fn an_unknown_event_names_the_manifest() {
        let f = function(
            "audit",
            Declaration {
                consumes: vec!["Nope".into()],
                ..Declaration::default()
            },
        );
        let err = function_resources(&f, &catalog(), &settings()).unwrap_err();
        assert!(
            err.to_string().contains("functions/audit/Cargo.toml"),
            "{err}"
        );
        assert!(err.to_string().contains("`Nope`"), "{err}");
    }

    /// The trusted publishers are named only when the parameter lists someone: an empty list
    /// parameter joined and split is one empty ARN.
    #[test]
    fn the_trusted_publishers_need_their_condition_and_are_named_under_it() {
        let emitter = function(
            "gift-wrap",
            Declaration {
                consumes: vec!["Placed".into()],
                emits: vec!["Wrapped".into()],
                ..Declaration::default()
            },
        );
        let template = |conditions: &str| {
            format!(
                "Parameters:\n  TrustedPublisherArns:\n    Type: CommaDelimitedList\n{conditions}Resources:\n{RESOURCES_BEGIN}\n{RESOURCES_END}\nOutputs:\n{OUTPUTS_BEGIN}\n{OUTPUTS_END}\n"
            )
        };
        let err = generate_template(
            &template(""),
            "t.yaml",
            std::slice::from_ref(&emitter),
            &catalog(),
            &settings(),
        )
        .unwrap_err();
        assert!(err.message.contains("HasTrustedPublishers: !Not"), "{err}");
        let text = generate_template(
            &template("Conditions:\n  HasTrustedPublishers: !Not [!Equals [!Join [\"\", !Ref TrustedPublisherArns], \"\"]]\n"),
            "t.yaml",
            &[emitter],
            &catalog(),
            &settings(),
        )
        .unwrap();
        assert!(
            text.contains(
                "ForAnyValue:StringLike:\n            events:source: [\"app.*\"]\n          ArnNotLike:\n            aws:PrincipalArn: !If [HasTrustedPublishers, !Split [\",\", !Join [\",\", [!GetAtt GiftWrapRole.Arn, !Join [\",\", !Ref TrustedPublisherArns]]]], [!GetAtt GiftWrapRole.Arn]]\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn markers_are_required_and_collisions_refused() {
        let f = function(
            "event-bus",
            Declaration {
                consumes: vec!["*".into()],
                ..Declaration::default()
            },
        );
        let err =
            generate_template("Resources:\n", "t.yaml", &[], &catalog(), &settings()).unwrap_err();
        assert!(err.message.contains("marker"), "{err}");
        let text = format!(
            "Resources:\n  EventBus:\n    Type: X\n{RESOURCES_BEGIN}\n{RESOURCES_END}\nOutputs:\n{OUTPUTS_BEGIN}\n{OUTPUTS_END}\n"
        );
        let err = generate_template(&text, "t.yaml", &[f], &catalog(), &settings()).unwrap_err();
        assert!(err.message.contains("EventBus"), "{err}");
        let again = generate_template(&text, "t.yaml", &[], &catalog(), &settings()).unwrap();
        assert_eq!(
            generate_template(&again, "t.yaml", &[], &catalog(), &settings()).unwrap(),
            again
        );
    }
}
