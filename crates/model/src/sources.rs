//! What the template says starts a function besides a rule on the bus: the REST API and its
//! routes (SAM `Api` events), schedules (SAM `ScheduleV2` events and
//! `AWS::Scheduler::Schedule` resources) and SQS mappings (SAM `SQS` events and
//! `AWS::Lambda::EventSourceMapping` resources), read from the long-form JSON as rules are.
//! Malformed parts are kept as written (`None`), for the checks to report.

use serde_json::{Map, Value};

use crate::refs::direct_ref;
use crate::resources::{Parameter, RetryPolicy, Setting, setting};

/// An `AWS::Serverless::Api` (or `AWS::ApiGateway::RestApi`): the REST API of the `http`
/// triggers.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RestApi {
    /// Logical id (`RestApi`).
    pub logical_id: String,
    /// `StageName`, as written (`!Ref Stage`).
    pub stage_name: Option<Value>,
    /// `Cors`, as written.
    pub cors: Option<Value>,
    /// Names of the authorizers under `Auth.Authorizers`.
    pub authorizers: Vec<String>,
}

/// One route of a REST API: a SAM `Api` event of a function.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApiRoute {
    /// Logical id of the function it invokes.
    pub function: String,
    /// The event's name under `Events`.
    pub event: String,
    /// Logical id of the API (`RestApiId`); `None` for SAM's implicit API.
    pub rest_api: Option<String>,
    /// `Method`, upper-cased (`POST`).
    pub method: String,
    /// `Path` (`/tasks`).
    pub path: String,
    /// `Auth.Authorizer` (`AWS_IAM`, an authorizer's name, `NONE`), when given.
    pub authorizer: Option<String>,
}

impl ApiRoute {
    /// `POST /tasks`.
    pub fn route(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A schedule that invokes a function: a SAM `ScheduleV2` event, or an
/// `AWS::Scheduler::Schedule` whose target is a function of the template.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Schedule {
    /// Logical id of the `AWS::Scheduler::Schedule` (SAM's `<function><event>`).
    pub logical_id: String,
    /// Logical id of the function it invokes.
    pub function: String,
    /// `ScheduleExpression`, as written (`rate(1 day)`, or `!Ref <Function>Schedule`).
    pub expression: Option<Value>,
    /// `ScheduleExpressionTimezone`.
    pub timezone: Option<String>,
    /// `State`, when given.
    pub state: Option<Value>,
    /// Logical id of the dead-letter queue of its target.
    pub dead_letter: Option<String>,
    /// The target's retry policy.
    pub retry_policy: Option<RetryPolicy>,
    /// The target's `Input`, as written.
    pub input: Option<Value>,
}

impl Schedule {
    /// The template parameter the expression is read from (`!Ref <Function>Schedule`), if any.
    pub fn expression_parameter(&self) -> Option<&str> {
        let expression = self.expression.as_ref()?;
        expression.get("Ref")?.as_str()
    }

    /// The expression with its parameter's default when it is one, else as written.
    pub fn default_expression(&self, parameters: &[Parameter]) -> Option<String> {
        match self.expression_parameter() {
            Some(name) => parameters
                .iter()
                .find(|p| p.name == name)?
                .default
                .as_ref()?
                .as_str()
                .map(str::to_owned),
            None => self.expression.as_ref()?.as_str().map(str::to_owned),
        }
    }
}

/// An SQS queue feeding a function through an event source mapping.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct QueueMapping {
    /// Logical id of the function it invokes.
    pub function: String,
    /// The SAM event's name, or the mapping resource's logical id.
    pub name: String,
    /// Logical id of the queue it reads (`Queue` / `EventSourceArn`), when a reference.
    pub queue: Option<String>,
    /// `BatchSize`.
    pub batch_size: Option<Setting>,
    /// `MaximumBatchingWindowInSeconds`.
    pub batching_window: Option<Setting>,
    /// `ScalingConfig.MaximumConcurrency`.
    pub max_concurrency: Option<Setting>,
    /// `FunctionResponseTypes` holds `ReportBatchItemFailures`.
    pub reports_batch_item_failures: bool,
}

/// Everything of this module one template holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Sources {
    pub rest_apis: Vec<RestApi>,
    pub api_routes: Vec<ApiRoute>,
    pub schedules: Vec<Schedule>,
    pub queue_mappings: Vec<QueueMapping>,
}

fn str_of(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn retry(value: &Value, parameters: &[Parameter]) -> RetryPolicy {
    RetryPolicy {
        maximum_event_age_in_seconds: value
            .get("MaximumEventAgeInSeconds")
            .map(|v| setting(v, parameters)),
        maximum_retry_attempts: value
            .get("MaximumRetryAttempts")
            .map(|v| setting(v, parameters)),
    }
}

fn reports_failures(props: &Value) -> bool {
    props
        .get("FunctionResponseTypes")
        .and_then(Value::as_array)
        .is_some_and(|types| {
            types
                .iter()
                .any(|t| t.as_str() == Some("ReportBatchItemFailures"))
        })
}

fn mapping(
    function: &str,
    name: &str,
    props: &Value,
    source: Option<&Value>,
    parameters: &[Parameter],
) -> QueueMapping {
    let number = |key: &str| props.get(key).map(|v| setting(v, parameters));
    QueueMapping {
        function: function.to_owned(),
        name: name.to_owned(),
        queue: source.and_then(direct_ref).map(str::to_owned),
        batch_size: number("BatchSize"),
        batching_window: number("MaximumBatchingWindowInSeconds"),
        max_concurrency: props
            .get("ScalingConfig")
            .and_then(|s| s.get("MaximumConcurrency"))
            .map(|v| setting(v, parameters)),
        reports_batch_item_failures: reports_failures(props),
    }
}

impl Sources {
    /// Reads one SAM event of a function, when it is an `Api`, `ScheduleV2` or `SQS` event.
    pub(crate) fn add_function_event(
        &mut self,
        function: &str,
        event: &str,
        kind: &str,
        props: &Value,
        parameters: &[Parameter],
    ) {
        match kind {
            "Api" => self.api_routes.push(ApiRoute {
                function: function.to_owned(),
                event: event.to_owned(),
                rest_api: props
                    .get("RestApiId")
                    .and_then(direct_ref)
                    .map(str::to_owned),
                method: str_of(props, "Method")
                    .unwrap_or_default()
                    .to_ascii_uppercase(),
                path: str_of(props, "Path").unwrap_or_default(),
                authorizer: props.get("Auth").and_then(|a| str_of(a, "Authorizer")),
            }),
            "ScheduleV2" => self.schedules.push(Schedule {
                logical_id: format!("{function}{event}"),
                function: function.to_owned(),
                expression: props.get("ScheduleExpression").cloned(),
                timezone: str_of(props, "ScheduleExpressionTimezone"),
                state: props.get("State").cloned(),
                dead_letter: props.get("DeadLetterConfig").and_then(|d| {
                    d.get("Arn")
                        .and_then(direct_ref)
                        .map(str::to_owned)
                        .or_else(|| {
                            (str_of(d, "Type").as_deref() == Some("SQS")).then(|| {
                                str_of(d, "QueueLogicalId")
                                    .unwrap_or_else(|| format!("{function}{event}Queue"))
                            })
                        })
                }),
                retry_policy: props.get("RetryPolicy").map(|r| retry(r, parameters)),
                input: props.get("Input").cloned(),
            }),
            "SQS" => self.queue_mappings.push(mapping(
                function,
                event,
                props,
                props.get("Queue"),
                parameters,
            )),
            _ => {}
        }
    }

    /// Reads the resources of these kinds (`is_function` tells a function's logical id).
    pub(crate) fn add_resources(
        &mut self,
        resources: &Map<String, Value>,
        parameters: &[Parameter],
        is_function: impl Fn(&str) -> bool,
    ) {
        static EMPTY: Value = Value::Null;
        for (id, resource) in resources {
            let props = resource.get("Properties").unwrap_or(&EMPTY);
            match resource.get("Type").and_then(Value::as_str) {
                Some("AWS::Serverless::Api" | "AWS::ApiGateway::RestApi") => {
                    self.rest_apis.push(RestApi {
                        logical_id: id.clone(),
                        stage_name: props.get("StageName").cloned(),
                        cors: props.get("Cors").cloned(),
                        authorizers: props
                            .get("Auth")
                            .and_then(|a| a.get("Authorizers"))
                            .and_then(Value::as_object)
                            .map(|a| a.keys().cloned().collect())
                            .unwrap_or_default(),
                    })
                }
                Some("AWS::Scheduler::Schedule") => {
                    let target = props.get("Target").unwrap_or(&EMPTY);
                    let Some(function) = target
                        .get("Arn")
                        .and_then(direct_ref)
                        .filter(|f| is_function(f))
                    else {
                        continue;
                    };
                    // SAM's own schedule of a `ScheduleV2` event is already read from the event.
                    if self.schedules.iter().any(|s| s.logical_id == *id) {
                        continue;
                    }
                    self.schedules.push(Schedule {
                        logical_id: id.clone(),
                        function: function.to_owned(),
                        expression: props.get("ScheduleExpression").cloned(),
                        timezone: str_of(props, "ScheduleExpressionTimezone"),
                        state: props.get("State").cloned(),
                        dead_letter: target
                            .get("DeadLetterConfig")
                            .and_then(|d| d.get("Arn"))
                            .and_then(direct_ref)
                            .map(str::to_owned),
                        retry_policy: target.get("RetryPolicy").map(|r| retry(r, parameters)),
                        input: target.get("Input").cloned(),
                    });
                }
                Some("AWS::Lambda::EventSourceMapping") => {
                    let Some(function) = props
                        .get("FunctionName")
                        .and_then(direct_ref)
                        .filter(|f| is_function(f))
                    else {
                        continue;
                    };
                    self.queue_mappings.push(mapping(
                        function,
                        id,
                        props,
                        props.get("EventSourceArn"),
                        parameters,
                    ));
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::resources::Setting;
    use crate::routes::Router;
    use crate::template::Template;
    use serde_json::json;

    /// A template as the generator writes the new triggers: an HTTP producer, a scheduled
    /// one, a queue-triggered one and a buffered consumer (its rule targets the buffer).
    pub(crate) const TEXT: &str = r#"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev}
  TallySchedule: {Type: String, Default: rate(1 day)}
Resources:
  EventBus:
    Type: AWS::Events::EventBus
    Properties: {Name: b}
  RestApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: !Ref Stage
      Cors: {AllowOrigin: "'*'"}
      Auth:
        Authorizers:
          Pool: {UserPoolArn: arn:aws:cognito-idp:us-east-1:1:userpool/x}
  Intake:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: intake}}
    Properties:
      Events:
        Http:
          Type: Api
          Properties: {RestApiId: !Ref RestApi, Path: /tasks, Method: post, Auth: {Authorizer: AWS_IAM}}
  Tally:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: tally}}
    Properties:
      Events:
        Timer:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: !Ref TallySchedule
            DeadLetterConfig: {Arn: !GetAtt TallyFailureQueue.Arn}
            RetryPolicy: {MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600}
            Input: '{"scheduledTime":"<aws.scheduler.scheduled-time>"}'
  TallyFailureQueue:
    Type: AWS::SQS::Queue
    Properties: {SqsManagedSseEnabled: true}
  Reader:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: reader}}
    Properties:
      Events:
        Queue:
          Type: SQS
          Properties:
            Queue: !GetAtt ReaderSourceQueue.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
  ReaderSourceQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 180
      RedrivePolicy: {deadLetterTargetArn: !GetAtt ReaderFailureQueue.Arn, maxReceiveCount: 3}
  ReaderFailureQueue:
    Type: AWS::SQS::Queue
  Mailer:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: mailer}}
    Properties:
      Environment:
        Variables: {EVENTRAIL_DLQ_URL: !Ref MailerFailureQueue}
      Events:
        Buffer:
          Type: SQS
          Properties:
            Queue: !GetAtt MailerBufferQueue.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
            ScalingConfig: {MaximumConcurrency: 2}
  MailerBufferQueue:
    Type: AWS::SQS::Queue
    Properties:
      SqsManagedSseEnabled: true
      RedrivePolicy: {deadLetterTargetArn: !GetAtt MailerFailureQueue.Arn, maxReceiveCount: 3}
  MailerFailureQueue:
    Type: AWS::SQS::Queue
  MailerDeliveryDlq:
    Type: AWS::SQS::Queue
  MailerTaskDone:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref EventBus
      EventPattern: {source: [app.worker], detail-type: [TaskDone]}
      Targets:
        - Id: buffer
          Arn: !GetAtt MailerBufferQueue.Arn
          DeadLetterConfig: {Arn: !GetAtt MailerDeliveryDlq.Arn}
  Nightly:
    Type: AWS::Scheduler::Schedule
    Properties:
      ScheduleExpression: cron(0 3 * * ? *)
      FlexibleTimeWindow: {Mode: "OFF"}
      Target: {Arn: !GetAtt Reader.Arn, RoleArn: arn:aws:iam::1:role/r}
"#;

    #[test]
    fn routes_schedules_and_queue_mappings_are_read() {
        let t = Template::parse(TEXT, "t.yaml").unwrap();
        let api = &t.rest_apis()[0];
        assert_eq!(api.logical_id, "RestApi");
        assert_eq!(api.authorizers, ["Pool"]);
        let route = &t.api_routes()[0];
        assert_eq!(route.function, "Intake");
        assert_eq!(route.route(), "POST /tasks");
        assert_eq!(route.rest_api.as_deref(), Some("RestApi"));
        assert_eq!(route.authorizer.as_deref(), Some("AWS_IAM"));

        let schedules = t.schedules();
        assert_eq!(schedules.len(), 2, "{schedules:#?}");
        let tally = &schedules[0];
        assert_eq!(tally.logical_id, "TallyTimer");
        assert_eq!(tally.expression_parameter(), Some("TallySchedule"));
        assert_eq!(
            tally.default_expression(t.parameters()).as_deref(),
            Some("rate(1 day)")
        );
        assert_eq!(tally.dead_letter.as_deref(), Some("TallyFailureQueue"));
        let retry = tally.retry_policy.as_ref().unwrap();
        assert_eq!(retry.maximum_retry_attempts, Some(Setting::Literal(3)));
        let nightly = &schedules[1];
        assert_eq!(
            (nightly.logical_id.as_str(), nightly.function.as_str()),
            ("Nightly", "Reader")
        );
        assert_eq!(
            nightly.default_expression(t.parameters()).as_deref(),
            Some("cron(0 3 * * ? *)")
        );

        let mappings = t.queue_mappings();
        assert_eq!(mappings.len(), 2, "{mappings:#?}");
        let reader = t.mappings_to("Reader").next().unwrap();
        assert_eq!(reader.queue.as_deref(), Some("ReaderSourceQueue"));
        assert_eq!(reader.batch_size, Some(Setting::Literal(5)));
        assert!(reader.reports_batch_item_failures);
        assert_eq!(reader.max_concurrency, None);
        let mailer = t.mappings_from("MailerBufferQueue").next().unwrap();
        assert_eq!(mailer.function, "Mailer");
        assert_eq!(mailer.max_concurrency, Some(Setting::Literal(2)));

        let source = t.queue("ReaderSourceQueue").unwrap();
        assert_eq!(
            source.redrive_dead_letter.as_deref(),
            Some("ReaderFailureQueue")
        );
        assert_eq!(source.max_receive_count, Some(Setting::Literal(3)));
        assert_eq!(source.visibility_timeout, Some(Setting::Literal(180)));
        assert_eq!(
            t.rules()[0].targets[0].resource.as_deref(),
            Some("MailerBufferQueue")
        );
    }

    #[test]
    fn a_rule_reaches_the_function_polling_its_target_queue() {
        let t = Template::parse(TEXT, "t.yaml").unwrap();
        let router = Router::from_template(&t).unwrap();
        let event = json!({"source": "app.worker", "detail-type": "TaskDone", "detail": {}});
        assert_eq!(router.functions_for(&event), ["mailer"]);
        let routes = router.routes(&event);
        assert_eq!(routes[0].rule, "MailerTaskDone");
        assert_eq!(routes[0].queues, ["MailerBufferQueue"]);
        let other = json!({"source": "app.worker", "detail-type": "TaskLost", "detail": {}});
        assert!(router.functions_for(&other).is_empty());
    }
}
