//! The generator's tests for the triggers and buffered delivery: the resources each one writes.

use eventrail_contract::trigger::{Cors, HttpAuth, HttpDeclaration, HttpTrigger, ScheduleTrigger};
use eventrail_contract::{Declaration, Delivery, FunctionDeclaration, QueueSource};

use crate::generate_template;
use crate::template::{
    OUTPUTS_BEGIN, OUTPUTS_END, PARAMETERS_BEGIN, PARAMETERS_END, RESOURCES_BEGIN, RESOURCES_END,
};
use crate::tests::{catalog, function, settings};

fn template(extra: &str) -> String {
    format!(
        "Parameters:\n  Stage:\n    Type: String\n{PARAMETERS_BEGIN}\n{PARAMETERS_END}\nGlobals:\n  Function:\n    Timeout: 10\nResources:\n{extra}{RESOURCES_BEGIN}\n{RESOURCES_END}\nOutputs:\n{OUTPUTS_BEGIN}\n{OUTPUTS_END}\n"
    )
}

fn generate(functions: &[FunctionDeclaration], extra: &str) -> String {
    generate_template(
        &template(extra),
        "t.yaml",
        functions,
        &catalog(),
        &settings(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn http(route: &str) -> FunctionDeclaration {
    function(
        "intake",
        Declaration {
            http: Some(HttpTrigger::Route(route.into())),
            ..Declaration::default()
        },
    )
}

fn nightly() -> FunctionDeclaration {
    function(
        "nightly",
        Declaration {
            schedule: Some(ScheduleTrigger::Expression("rate(1 day)".into())),
            ..Declaration::default()
        },
    )
}

fn buffered() -> FunctionDeclaration {
    function(
        "gift-wrap",
        Declaration {
            consumes: vec!["Placed".into()],
            delivery: Delivery::Queue,
            max_concurrency: Some(2),
            max_receive_count: Some(5),
            ..Declaration::default()
        },
    )
}

#[test]
fn an_http_function_gets_a_route_on_the_one_rest_api() {
    let text = generate(&[http("POST /intake")], "");
    assert!(text.contains(
        "        Http:\n          Type: Api\n          Properties:\n            RestApiId: !Ref RestApi\n            Path: \"/intake\"\n            Method: post\n"
    ), "{text}");
    assert!(text.contains("  RestApi:\n    Type: AWS::Serverless::Api\n"));
    assert!(text.contains("      StageName: !Ref Stage\n"));
    assert!(!text.contains("Cors:") && !text.contains("Auth:"));
    for output in ["RestApiUrl:", "RestApiId:", "RestApiStage:"] {
        assert!(text.contains(output), "{output}");
    }
    let none = generate(&[], "");
    assert!(!none.contains("RestApi"), "no http function, no API");
}

#[test]
fn http_auth_and_cors_are_the_declared_ones() {
    let declared = |auth: HttpAuth, cors: Option<Cors>| {
        function(
            "intake",
            Declaration {
                http: Some(HttpTrigger::Declared(HttpDeclaration {
                    route: "PUT /intake/{id}".into(),
                    auth,
                    cors,
                    request: None,
                })),
                ..Declaration::default()
            },
        )
    };
    let text = generate(&[declared(HttpAuth::Iam, None)], "");
    assert!(text.contains(
        "            Auth:\n              Authorizer: AWS_IAM\n              InvokeRole: NONE\n"
    ));
    let cors = Cors {
        origins: vec!["https://app.example".into()],
        headers: vec!["Content-Type".into()],
        max_age: Some(600),
    };
    let jwt = HttpAuth::Jwt {
        issuer: "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc".into(),
        audience: vec!["client".into()],
    };
    let text = generate(&[declared(jwt, Some(cors.clone()))], "");
    assert!(
        text.contains("              Authorizer: IntakeJwt\n"),
        "{text}"
    );
    assert!(
        text.contains("          IntakeJwt:\n            UserPoolArn: !Ref IntakeUserPoolArn\n")
    );
    assert!(
        text.contains("  IntakeUserPoolArn:\n    Type: String\n"),
        "a parameter"
    );
    assert!(text.contains(
        "      Cors:\n        AllowOrigin: \"'https://app.example'\"\n        AllowMethods: \"'OPTIONS,PUT'\"\n        AllowHeaders: \"'content-type'\"\n        MaxAge: \"'600'\"\n"
    ), "{text}");
    let mut other = declared(
        HttpAuth::None,
        Some(Cors {
            origins: vec!["https://other.example".into()],
            ..cors
        }),
    );
    other.name = "other".into();
    if let Some(HttpTrigger::Declared(h)) = &mut other.declaration.http {
        h.route = "POST /other".into();
    }
    let err = generate_template(
        &template(""),
        "t.yaml",
        &[declared(HttpAuth::None, None), other.clone()],
        &catalog(),
        &settings(),
    );
    assert!(err.is_ok(), "one origin is fine");
    let mut first = declared(
        HttpAuth::None,
        Some(Cors {
            origins: vec!["https://app.example".into()],
            headers: vec![],
            max_age: None,
        }),
    );
    first.name = "first".into();
    let err = generate_template(
        &template(""),
        "t.yaml",
        &[first, other],
        &catalog(),
        &settings(),
    )
    .unwrap_err();
    assert!(err.message.contains("http.cors"), "{err}");
    let err = generate_template(
        &template(""),
        "t.yaml",
        &[http("POST /intake"), {
            let mut twin = http("POST /intake");
            twin.name = "twin".into();
            twin.dir = "functions/twin".into();
            twin
        }],
        &catalog(),
        &settings(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("functions/twin/Cargo.toml"),
        "{err}"
    );
}

#[test]
fn a_scheduled_function_gets_its_parameter_schedule_role_and_dead_letters() {
    let text = generate(&[nightly()], "");
    assert!(text.contains(&format!(
        "{PARAMETERS_BEGIN}\n  NightlySchedule:\n    Type: String\n    Default: \"rate(1 day)\"\n"
    )));
    assert!(text.contains("          Type: ScheduleV2\n"));
    assert!(text.contains("            ScheduleExpression: !Ref NightlySchedule\n"));
    assert!(text.contains(
        "            DeadLetterConfig:\n              Arn: !GetAtt NightlyFailureQueue.Arn\n"
    ));
    assert!(text.contains("            RetryPolicy:\n              MaximumEventAgeInSeconds: !Ref DeliveryMaxEventAgeSeconds\n"));
    assert!(text.contains("            RoleArn: !GetAtt NightlyScheduleRole.Arn\n"));
    let input: serde_json::Value = serde_json::from_str(
        &serde_json::from_str::<String>(
            text.lines()
                .find_map(|l| l.trim().strip_prefix("Input: "))
                .unwrap_or_default(),
        )
        .unwrap_or_default(),
    )
    .unwrap_or_default();
    assert_eq!(input["scheduledTime"], "<aws.scheduler.scheduled-time>");
    assert!(text.contains(
        "                Action: lambda:InvokeFunction\n                Resource: !GetAtt Nightly.Arn\n"
    ));
    assert!(
        text.contains(
            "aws:PrincipalArn: [!GetAtt NightlyRole.Arn, !GetAtt NightlyScheduleRole.Arn]"
        ),
        "the failure queue lets the schedule's role in"
    );
    assert!(text.contains("  NightlyScheduleName:\n"));
}

#[test]
fn a_buffered_consumer_polls_its_buffer_which_only_its_rule_fills() {
    let text = generate(&[buffered()], "");
    assert!(
        !text.contains("EventInvokeConfig"),
        "not invoked asynchronously"
    );
    assert!(
        !text.contains("Type: EventBridgeRule"),
        "the rule targets the buffer"
    );
    assert!(text.contains(
        "        Buffer:\n          Type: SQS\n          Properties:\n            Queue: !GetAtt GiftWrapBufferQueue.Arn\n            BatchSize: 10\n            MaximumBatchingWindowInSeconds: 0\n            FunctionResponseTypes:\n              - ReportBatchItemFailures\n            ScalingConfig:\n              MaximumConcurrency: 2\n"
    ), "{text}");
    assert!(text.contains("          EVENTRAIL_MAX_RECEIVE_COUNT: \"5\"\n"));
    assert!(text.contains(
        "      VisibilityTimeout: 60\n      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt GiftWrapFailureQueue.Arn\n        maxReceiveCount: 5\n"
    ), "six times Globals' 10 s");
    assert!(text.contains("  GiftWrapPlaced:\n    Type: AWS::Events::Rule\n"));
    assert!(text.contains(
        "        - Id: GiftWrapBufferQueue\n          Arn: !GetAtt GiftWrapBufferQueue.Arn\n"
    ));
    assert!(text.contains("            Arn: !GetAtt GiftWrapDeliveryDlq.Arn\n"));
    assert!(text.contains("Sid: RuleSendsItsEvents"));
    assert!(text.contains(
        "Action: [sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes]\n                Resource: !GetAtt GiftWrapBufferQueue.Arn\n"
    ));
    assert!(text.contains("  GiftWrapBufferQueueAgeAlarm:\n"));
    assert!(text.contains("  GiftWrapBufferQueueUrl:\n"));
}

#[test]
fn a_queue_trigger_creates_its_queue_or_uses_the_templates() {
    let new = function(
        "feeder",
        Declaration {
            queue: Some(QueueSource::New),
            timeout: Some(20),
            ..Declaration::default()
        },
    );
    let text = generate(&[new], "");
    assert!(text.contains("            Queue: !GetAtt FeederSourceQueue.Arn\n"));
    assert!(text.contains("  FeederSourceQueue:\n    Type: AWS::SQS::Queue\n"));
    assert!(
        text.contains("      VisibilityTimeout: 120\n"),
        "six times its own 20 s"
    );
    assert!(text.contains("  FeederSourceQueueUrl:\n"));
    let existing = |id: &str| {
        function(
            "feeder",
            Declaration {
                queue: Some(QueueSource::Existing(id.into())),
                ..Declaration::default()
            },
        )
    };
    let hand_written = "  Inbox:\n    Type: AWS::SQS::Queue\n  Topic:\n    Type: AWS::SNS::Topic\n";
    let text = generate(&[existing("Inbox")], hand_written);
    assert!(text.contains("            Queue: !GetAtt Inbox.Arn\n"));
    assert!(!text.contains("FeederSourceQueue"));
    for (id, says) in [("Topic", "AWS::SNS::Topic"), ("Nope", "no resource `Nope`")] {
        let err = generate_template(
            &template(hand_written),
            "t.yaml",
            &[existing(id)],
            &catalog(),
            &settings(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("functions/feeder/Cargo.toml"),
            "{err}"
        );
        assert!(
            err.message.contains("queue:") && err.message.contains(says),
            "{err}"
        );
    }
}

#[test]
fn generated_parameters_need_their_markers() {
    let without = template("").replace(&format!("{PARAMETERS_BEGIN}\n{PARAMETERS_END}\n"), "");
    let err =
        generate_template(&without, "t.yaml", &[nightly()], &catalog(), &settings()).unwrap_err();
    assert!(err.message.contains("generated parameters"), "{err}");
    assert!(generate_template(&without, "t.yaml", &[buffered()], &catalog(), &settings()).is_ok());
}

#[test]
fn no_generated_parameter_leaves_the_markers_together() {
    let text = generate(&[buffered()], "");
    assert!(text.contains(&format!("{PARAMETERS_BEGIN}\n{PARAMETERS_END}\n")));
    assert_eq!(
        generate_template(&text, "t.yaml", &[buffered()], &catalog(), &settings()).ok(),
        Some(text)
    );
}

#[test]
fn the_triggers_index_lists_routes_schedules_and_queues() {
    let feeder = function(
        "feeder",
        Declaration {
            queue: Some(QueueSource::New),
            ..Declaration::default()
        },
    );
    let index = crate::triggers_index(&[http("POST /intake"), nightly(), buffered(), feeder])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        index,
        serde_json::json!({
            "routes": {"POST /intake": "intake"},
            "schedules": {"nightly": "rate(1 day)"},
            "queues": {"feeder": "FeederSourceQueue"},
        })
    );
    assert!(crate::triggers_index_text(&index).ends_with("}\n"));
}
