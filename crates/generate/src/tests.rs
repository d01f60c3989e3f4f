//! The generator's unit tests: the text it writes for declarations.

use crate::facts::Facts;
use crate::function::function_resources;
use crate::template::{OUTPUTS_BEGIN, OUTPUTS_END, RESOURCES_BEGIN, RESOURCES_END};
use crate::text::canonical_json;
use crate::{function_outputs, generate_template};
use eventrail_contract::{AppSettings, CatalogIndex, FunctionDeclaration};
use eventrail_contract::{CatalogEvent, Declaration};

pub(crate) fn settings() -> AppSettings {
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
        demo: None,
        watch: Vec::new(),
        business_key: None,
        trace_context: Default::default(),
    }
}

pub(crate) fn catalog() -> CatalogIndex {
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

pub(crate) fn function(name: &str, declaration: Declaration) -> FunctionDeclaration {
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
    let text = function_resources(&f, &catalog(), &settings(), &Facts::default()).unwrap();
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
    let text = function_resources(&f, &catalog(), &settings(), &Facts::default()).unwrap();
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
    let text = function_resources(&plain, &catalog(), &settings(), &Facts::default()).unwrap();
    assert!(!text.contains("dynamodb") && !text.contains("Idempotency"));
}

#[test]
fn the_business_key_and_a_non_default_trace_context_reach_every_function() {
    let consumer = function(
        "gift-wrap",
        Declaration {
            consumes: vec!["Placed".into()],
            ..Declaration::default()
        },
    );
    let producer = function(
        "intake",
        Declaration {
            emits: vec!["Placed".into()],
            ..Declaration::default()
        },
    );
    // Defaults: no business key, trace context written; neither variable is set.
    for f in [&consumer, &producer] {
        let text = function_resources(f, &catalog(), &settings(), &Facts::default()).unwrap();
        assert!(!text.contains("EVENTRAIL_BUSINESS_KEY"), "{text}");
        assert!(!text.contains("EVENTRAIL_TRACE_CONTEXT"), "{text}");
    }
    let declared = AppSettings {
        business_key: Some("/customer/id".into()),
        trace_context: eventrail_contract::TraceContextMode::Accept,
        ..settings()
    };
    for f in [&consumer, &producer] {
        let text = function_resources(f, &catalog(), &declared, &Facts::default()).unwrap();
        assert!(
            text.contains("          EVENTRAIL_BUSINESS_KEY: \"/customer/id\"\n"),
            "{text}"
        );
        assert!(
            text.contains("          EVENTRAIL_TRACE_CONTEXT: accept\n"),
            "{text}"
        );
    }
    // A function's own value wins (one key in the YAML map, not two).
    let own = function(
        "gift-wrap",
        Declaration {
            consumes: vec!["Placed".into()],
            environment: [(
                "EVENTRAIL_BUSINESS_KEY".to_owned(),
                eventrail_contract::declaration::EnvValue::Literal("sku".into()),
            )]
            .into(),
            ..Declaration::default()
        },
    );
    let text = function_resources(&own, &catalog(), &declared, &Facts::default()).unwrap();
    assert_eq!(text.matches("EVENTRAIL_BUSINESS_KEY:").count(), 1, "{text}");
    assert!(text.contains("EVENTRAIL_BUSINESS_KEY: \"sku\""), "{text}");
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
    let err = function_resources(&f, &catalog(), &settings(), &Facts::default()).unwrap_err();
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
