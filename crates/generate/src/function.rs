//! The resources of one function, from its declaration: the `AWS::Serverless::Function`
//! (its rule with pattern, retry policy and delivery dead-letter queue; its
//! `EventInvokeConfig` with the on-failure queue), its log group, its own role (logs on its
//! own group, `PutEvents` only when it emits and only for its own sources and detail-types,
//! `SendMessage` on its own queues), its failure queue and delivery dead-letter queue with
//! their policies and alarms, its own declared queues, and its idempotency table (DynamoDB,
//! TTL on `expiration`) when it declares one. The bus, its policy, the archive and shared
//! queues stay hand-written in the template.

use std::fmt::Write as _;

use eventrail_contract::declaration::{EnvValue, failed_events_prefix};
use eventrail_contract::names::{
    BUS_NAME_VAR, BUSINESS_KEY_VAR, DLQ_URL_VAR, FAILED_EVENTS_BUCKET, FAILED_EVENTS_BUCKET_VAR,
    FAILED_EVENTS_PREFIX_VAR, IDEMPOTENCY_TABLE_VAR, IDEMPOTENCY_TTL_VAR, MAX_RECEIVE_COUNT_VAR,
    TRACE_CONTEXT_VAR,
};
use eventrail_contract::{
    AppSettings, CatalogIndex, Delivery, FunctionDeclaration, QueueSource, TraceContextMode,
    Trigger,
};
use eventrail_model::declared::{GenerateError, emitted_sources, rule_pattern};

use crate::alarms::{
    Metric, alarm, function_name, loss_alarm, oldest_message_metric, platform_loss_alarms,
};
use crate::facts::Facts;
use crate::feeds::feed;
use crate::http::http_event;
use crate::queues::{
    FAILURE_RETENTION_SECONDS, MAX_MESSAGE_BYTES, QUEUE_RETENTION_SECONDS,
    failure_queue_properties, only_role_sends, only_roles_send, queue_with_policy,
};
use crate::rollout::rollout_properties;
use crate::rule::{buffer_rule, rule_arn, rule_event};
use crate::schedule::{schedule_event, schedule_role, schedule_role_resource};
use crate::text::{canonical_json, flow_list, yaml_string};

pub(crate) fn env_value(value: &EnvValue) -> String {
    match value {
        EnvValue::Literal(text) => yaml_string(text),
        EnvValue::Ref { reference } => format!("!Ref {reference}"),
        EnvValue::GetAtt { get_att } => format!("!GetAtt {get_att}"),
    }
}

/// The function's default description: what starts it.
fn default_description(f: &FunctionDeclaration, trigger: &Trigger) -> String {
    let name = f.name.as_str();
    let d = &f.declaration;
    match trigger {
        Trigger::Direct => format!("{name}: invoked directly"),
        Trigger::Rule {
            delivery: Delivery::Direct,
        } => format!("{name}: on {}", d.consumes.join(", ")),
        Trigger::Rule {
            delivery: Delivery::Queue,
        } => format!(
            "{name}: on {}, through its buffer queue",
            d.consumes.join(", ")
        ),
        Trigger::Http(h) => format!("{name}: on {}", h.route),
        Trigger::Schedule(s) => format!("{name}: on its schedule (default {})", s.expression),
        Trigger::Queue(QueueSource::New) => format!("{name}: on its source queue"),
        Trigger::Queue(QueueSource::Existing(q)) => format!("{name}: on queue {q}"),
    }
}

/// The resources of one function, as YAML lines indented for `Resources`; `facts` are those of
/// the template's hand-written part.
pub(crate) fn function_resources(
    f: &FunctionDeclaration,
    catalog: &CatalogIndex,
    settings: &AppSettings,
    facts: &Facts,
) -> Result<String, GenerateError> {
    let d = &f.declaration;
    let name = f.name.as_str();
    let id = f.logical_id();
    let failure = format!("{id}FailureQueue");
    let delivery = format!("{id}DeliveryDlq");
    let role = format!("{id}Role");
    let log_group = format!("{id}LogGroup");
    let rule = d.rule_name();
    let trigger = d.trigger();
    let feed = feed(f, facts)?;
    // A dead letter of a consumer or of a queue record may be too large for a queue message.
    let stores_failed_events = d.is_consumer() || feed.is_some();
    let description = d
        .description
        .clone()
        .unwrap_or_else(|| default_description(f, &trigger));
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
      FunctionName: {function_name}
      Description: {description}
      CodeUri: ../{functions}/{name}
      Role: !GetAtt {role}.Arn
"#,
        description = yaml_string(&description),
        function_name = function_name(f),
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
    if let Some(feed) = &feed {
        let _ = writeln!(
            out,
            "          {MAX_RECEIVE_COUNT_VAR}: \"{}\"",
            feed.batching.max_receive_count()
        );
    }
    if stores_failed_events {
        let _ = writeln!(
            out,
            "          {FAILED_EVENTS_BUCKET_VAR}: !Ref {FAILED_EVENTS_BUCKET}\n          {FAILED_EVENTS_PREFIX_VAR}: {}",
            yaml_string(&failed_events_prefix(name))
        );
    }
    // The app's tracing settings, the same for every function: the business key when the app
    // declares one, the trace-context mode only when it is not the default (`write`). A
    // function that sets one of them in its own `environment` keeps its own value.
    if let Some(key) = &settings.business_key
        && !d.environment.contains_key(BUSINESS_KEY_VAR)
    {
        let _ = writeln!(out, "          {BUSINESS_KEY_VAR}: {}", yaml_string(key));
    }
    if settings.trace_context != TraceContextMode::default()
        && !d.environment.contains_key(TRACE_CONTEXT_VAR)
    {
        let _ = writeln!(
            out,
            "          {TRACE_CONTEXT_VAR}: {}",
            settings.trace_context.as_str()
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
    // An SQS-fed function is never invoked asynchronously: its failures go back to its queue,
    // which redrives them to the failure queue; it has no on-failure destination.
    if feed.is_none() {
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
    }
    out.push_str(&rollout_properties(f));
    let pattern = if d.is_consumer() {
        Some(canonical_json(&rule_pattern(f, catalog, settings)?))
    } else {
        None
    };
    let event = match (&trigger, &feed, &pattern) {
        (_, Some(feed), _) => Some(feed.event()),
        (Trigger::Rule { .. }, None, Some(pattern)) => {
            Some(rule_event(name, &rule, pattern, &delivery))
        }
        (Trigger::Http(h), _, _) => Some(http_event(f, h)?),
        (Trigger::Schedule(s), _, _) => Some(schedule_event(f, s, &failure)),
        _ => None,
    };
    if let Some(event) = event {
        out.push_str("      Events:\n");
        out.push_str(&event);
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
    if let Some(feed) = &feed {
        out.push_str(&feed.role_statement());
    }
    if stores_failed_events {
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
    let scheduled = matches!(trigger, Trigger::Schedule(_));
    let senders = if scheduled {
        vec![role.clone(), schedule_role(f)]
    } else {
        vec![role.clone()]
    };
    let senders: Vec<&str> = senders.iter().map(String::as_str).collect();
    queue_with_policy(
        &mut out,
        &failure,
        &only_roles_send(&senders, &failure),
        &failure_queue_properties(),
    );
    if scheduled {
        schedule_role_resource(&mut out, f, &failure);
    }
    alarm(
        &mut out,
        &format!("{failure}Alarm"),
        &failure,
        name,
        "a handler failure or poison event is waiting in its failure queue",
    );
    platform_loss_alarms(&mut out, f);
    if let Some(feed) = &feed {
        feed.resources(&mut out, f, &rule, &failure, facts);
    }
    if let (Some(feed), Some(pattern)) = (&feed, &pattern) {
        buffer_rule(&mut out, &id, name, &rule, pattern, &feed.queue, &delivery);
    }
    if d.is_consumer() {
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
                rule_arn = rule_arn(name, &rule),
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

/// What the idempotency store does, and all its role may do on the table.
pub const IDEMPOTENCY_ACTIONS: &[&str] = &[
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
];
