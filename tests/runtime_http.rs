//! The runtime kit's HTTP functions (`http = "POST /orders"`) on API Gateway REST API (v1)
//! proxy events: the kit answers 400/405/415 itself without calling the handler (so nothing
//! is published), and the handler's answer or error becomes the proxy response.

use std::pin::Pin;
use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use eventrail_contract::{Cors, Declaration, HttpAuth, HttpDeclaration, HttpTrigger, Invoke};
use eventrail_runtime::http::{ErrorBody, HttpInvokeError};
use eventrail_runtime::prelude::*;
use eventrail_runtime::{HttpEndpoint, PublishError};
use events::{OrderPlaced, PlaceOrder};
use serde_json::{Value, json};

fn declaration(route: &str, invoke: Invoke) -> Declaration {
    Declaration {
        http: Some(HttpTrigger::Route(route.to_owned())),
        invoke,
        emits: vec!["OrderPlaced".to_owned()],
        ..Declaration::default()
    }
}

fn command() -> Value {
    let path = format!(
        "{}/../events/samples/commands/place-order.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// An API Gateway REST API proxy event, as API Gateway sends it to the function.
fn event(method: &str, body: &str, content_type: Option<&str>) -> Value {
    let mut headers = serde_json::Map::new();
    if let Some(content_type) = content_type {
        headers.insert("Content-Type".into(), content_type.into());
    }
    headers.insert("Origin".into(), "https://shop.example".into());
    json!({
        "resource": "/orders",
        "path": "/orders",
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {},
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "accountId": "000000000000",
            "resourceId": "abc123",
            "stage": "dev",
            "requestId": "req-1",
            "resourcePath": "/orders",
            "httpMethod": method,
            "path": "/dev/orders",
            "identity": {}
        },
        "body": body,
        "isBase64Encoded": false
    })
}

/// What the test handler's calls come to.
type Reply = Pin<Box<dyn Future<Output = Result<HttpResponse<Value>, HandlerError>> + Send>>;
/// The test handler.
type PlaceHandler = Box<dyn Fn(HttpRequest<PlaceOrder>, Context) -> Reply + Send + Sync>;

/// A handler that counts its calls, publishes `OrderPlaced` (dry) and answers 202; on the
/// customer `cust-down` it fails retryably, on `cust-dup` it rejects with 409.
#[derive(Clone, Default)]
struct Place {
    calls: Arc<AtomicUsize>,
}

impl Place {
    fn handler(&self) -> PlaceHandler {
        let calls = Arc::clone(&self.calls);
        Box::new(
            move |request: HttpRequest<PlaceOrder>, context: Context| -> Reply {
                calls.fetch_add(1, Ordering::SeqCst);
                Box::pin(async move {
                    match request.body.order.customer_id.as_str() {
                        "cust-down" => {
                            return Err(HandlerError::retryable("the bus is down: secret detail"));
                        }
                        "cust-dup" => {
                            return Err(HandlerError::rejected(
                                409,
                                "this order was placed with other content",
                            )
                            .on_field("order.order_id"));
                        }
                        _ => {}
                    }
                    let order_id = request.body.order.order_id.clone();
                    let request_id = request.request_id().to_owned();
                    let sent = context
                        .publish(&OrderPlaced {
                            order: request.body.order,
                        })
                        .await?;
                    Ok(HttpResponse::accepted(json!({
                        "order_id": order_id,
                        "idempotency_key": sent.detail["metadata"]["idempotency_key"],
                        "request_id": request_id,
                    })))
                })
            },
        )
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

fn endpoint(
    place: &Place,
    declaration: &Declaration,
) -> HttpEndpoint<PlaceHandler, PlaceOrder, Value> {
    HttpEndpoint::new(place.handler(), declaration, "orders").unwrap()
}

/// The proxy response's status, headers and decoded body.
fn parts(response: &Value) -> (i64, &Value, Value) {
    let status = response["statusCode"].as_i64().unwrap();
    let body = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    (status, &response["headers"], body)
}

#[tokio::test]
async fn a_valid_request_reaches_the_handler_and_gets_its_answer() {
    let place = Place::default();
    let endpoint = endpoint(&place, &declaration("POST /orders", Invoke::Rule));
    let body = command().to_string();
    let response = endpoint
        .invoke(
            event("POST", &body, Some("application/json; charset=utf-8")),
            "lambda-1",
            None,
        )
        .await
        .unwrap();
    let (status, headers, answer) = parts(&response);
    assert_eq!(status, 202, "{response}");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(answer["order_id"], "ord-1001");
    assert_eq!(answer["request_id"], "req-1", "API Gateway's request id");
    assert_eq!(place.calls(), 1);
}

#[tokio::test]
async fn a_body_that_does_not_decode_gets_400_naming_the_field_and_the_handler_is_not_called() {
    let place = Place::default();
    let endpoint = endpoint(&place, &declaration("POST /orders", Invoke::Rule));
    let mut bad = command();
    bad["order"]["items"][1]["quantity"] = json!("two");
    let response = endpoint
        .invoke(
            event("POST", &bad.to_string(), Some("application/json")),
            "l",
            None,
        )
        .await
        .unwrap();
    let (status, _, answer) = parts(&response);
    assert_eq!(status, 400, "{response}");
    let error: ErrorBody = serde_json::from_value(answer).unwrap();
    assert_eq!(error.field.as_deref(), Some("order.items[1].quantity"));
    assert!(
        error.error.contains("invalid type: a string"),
        "{}",
        error.error
    );
    assert!(
        !error.error.contains("two"),
        "no values echoed: {}",
        error.error
    );
    assert_eq!(
        place.calls(),
        0,
        "the handler is not called, so nothing is published"
    );
}

#[tokio::test]
async fn a_body_that_breaks_a_rule_gets_400_naming_the_field() {
    let place = Place::default();
    let endpoint = endpoint(&place, &declaration("POST /orders", Invoke::Rule));
    let mut bad = command();
    bad["order"]["customer_email"] = json!("nobody");
    let response = endpoint
        .invoke(event("POST", &bad.to_string(), None), "l", None)
        .await
        .unwrap();
    let (status, _, answer) = parts(&response);
    assert_eq!(status, 400, "{response}");
    assert_eq!(answer["field"], "order.customer_email");
    assert_eq!(answer["error"], "must be an email address");
    let response = endpoint
        .invoke(event("POST", "{\"order\": ", None), "l", None)
        .await
        .unwrap();
    let (status, _, answer) = parts(&response);
    assert_eq!(status, 400);
    assert_eq!(answer["field"], Value::Null);
    assert!(
        answer["error"].as_str().unwrap().contains("not valid JSON"),
        "{answer}"
    );
    assert_eq!(place.calls(), 0);
}

#[tokio::test]
async fn another_method_gets_405_with_allow() {
    let place = Place::default();
    let endpoint = endpoint(&place, &declaration("POST /orders", Invoke::Rule));
    let response = endpoint
        .invoke(event("GET", "", None), "l", None)
        .await
        .unwrap();
    let (status, headers, answer) = parts(&response);
    assert_eq!(status, 405, "{response}");
    assert_eq!(headers["allow"], "POST");
    assert!(
        answer["error"].as_str().unwrap().contains("takes POST"),
        "{answer}"
    );
    assert_eq!(place.calls(), 0);
}

#[tokio::test]
async fn a_body_that_is_not_json_gets_415() {
    let place = Place::default();
    let endpoint = endpoint(&place, &declaration("POST /orders", Invoke::Rule));
    let response = endpoint
        .invoke(
            event("POST", &command().to_string(), Some("text/plain")),
            "l",
            None,
        )
        .await
        .unwrap();
    assert_eq!(parts(&response).0, 415, "{response}");
    let response = endpoint
        .invoke(
            event(
                "POST",
                &command().to_string(),
                Some("application/problem+json"),
            ),
            "l",
            None,
        )
        .await
        .unwrap();
    assert_eq!(parts(&response).0, 202, "{response}");
    assert_eq!(place.calls(), 1);
}

#[tokio::test]
async fn handler_errors_get_a_generic_500_or_the_status_the_handler_chose() {
    let place = Place::default();
    let endpoint = endpoint(&place, &declaration("POST /orders", Invoke::Rule));
    let mut down = command();
    down["order"]["customer_id"] = json!("cust-down");
    let response = endpoint
        .invoke(event("POST", &down.to_string(), None), "l", None)
        .await
        .unwrap();
    let (status, _, answer) = parts(&response);
    assert_eq!(status, 500);
    assert_eq!(
        answer,
        json!({"error": "internal error", "field": null, "request_id": "req-1"})
    );
    let mut duplicate = command();
    duplicate["order"]["customer_id"] = json!("cust-dup");
    let response = endpoint
        .invoke(event("POST", &duplicate.to_string(), None), "l", None)
        .await
        .unwrap();
    let (status, _, answer) = parts(&response);
    assert_eq!(status, 409);
    assert_eq!(answer["field"], "order.order_id");
}

#[tokio::test]
async fn a_declared_origin_gets_the_cors_header() {
    let place = Place::default();
    let mut declared = declaration("POST /orders", Invoke::Rule);
    declared.http = Some(HttpTrigger::Declared(HttpDeclaration {
        route: "POST /orders".into(),
        auth: HttpAuth::None,
        cors: Some(Cors {
            origins: vec!["https://shop.example".into()],
            headers: vec![],
            max_age: None,
        }),
        request: None,
    }));
    let endpoint = endpoint(&place, &declared);
    let response = endpoint
        .invoke(event("GET", "", None), "l", None)
        .await
        .unwrap();
    assert_eq!(
        response["headers"]["access-control-allow-origin"],
        "https://shop.example"
    );
}

#[tokio::test]
async fn a_direct_invoke_is_answered_with_the_body_when_the_function_takes_them() {
    let place = Place::default();
    let direct = endpoint(&place, &declaration("POST /orders", Invoke::Direct));
    let answer = direct.invoke(command(), "lambda-7", None).await.unwrap();
    assert_eq!(answer["order_id"], "ord-1001");
    assert_eq!(answer["request_id"], "lambda-7");
    let mut bad = command();
    bad["order"]["customer_email"] = json!("nobody");
    let error = direct.invoke(bad, "lambda-8", None).await.unwrap_err();
    assert_eq!(
        error,
        HttpInvokeError::Invalid {
            field: Some("order.customer_email".into()),
            error: "must be an email address".into()
        }
    );
    let http_only = endpoint(&place, &declaration("POST /orders", Invoke::Rule));
    let error = http_only
        .invoke(command(), "lambda-9", None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, HttpInvokeError::NotAnHttpEvent { .. }),
        "{error}"
    );
    assert_eq!(place.calls(), 1);
}

#[tokio::test]
async fn a_retried_request_with_the_callers_idempotency_key_publishes_the_same_key() {
    let place = Place::default();
    let endpoint = endpoint(&place, &declaration("POST /orders", Invoke::Rule));
    let keyed = |request_id: &str| {
        let mut event = event("POST", &command().to_string(), None);
        event["headers"]["Idempotency-Key"] = json!("checkout-42");
        event["requestContext"]["requestId"] = json!(request_id);
        event
    };
    let key = |response: Value| parts(&response).2["idempotency_key"].clone();
    let first = key(endpoint.invoke(keyed("req-a"), "l", None).await.unwrap());
    let retry = key(endpoint.invoke(keyed("req-b"), "l", None).await.unwrap());
    assert_eq!(first, retry);
    let other = key(endpoint
        .invoke(event("POST", &command().to_string(), None), "l", None)
        .await
        .unwrap());
    assert_ne!(first, other);
}

#[tokio::test]
async fn an_undeclared_event_is_not_published() {
    let context = Context::dry_run(eventrail_runtime::Origin::request("orders", "r-1"))
        .with_declared_emits(Arc::from(vec!["OrderCancelled".to_owned()]));
    let order: PlaceOrder = serde_json::from_value(command()).unwrap();
    let error = context
        .publish(&OrderPlaced { order: order.order })
        .await
        .unwrap_err();
    assert!(matches!(error, PublishError::Undeclared { .. }), "{error}");
    assert!(context.emitted().is_empty());
}

/// The testing helpers a scaffolded function's tests use build an event the endpoint takes.
#[tokio::test]
async fn the_testing_helpers_build_a_request_the_endpoint_answers() {
    use eventrail_runtime::testing::{api_gateway_request, http_answer};
    let place = Place::default();
    let endpoint = endpoint(&place, &declaration("POST /orders", Invoke::Rule));
    let response = endpoint
        .invoke(
            api_gateway_request("POST", "/orders", Some(&command())),
            "t",
            None,
        )
        .await
        .unwrap();
    let (status, body) = http_answer(&response);
    assert_eq!(status, 202, "{response}");
    assert_eq!(body["request_id"], "test-request");
}

/// The event as LocalStack 4.13.1's REST API builds it (its `LambdaInputEvent`: every
/// identity field present and null, multi-value headers as lists, context variables AWS does
/// not send) decodes, and its request id is the one answered with.
#[tokio::test]
async fn the_local_stacks_rest_api_event_is_understood() {
    let place = Place::default();
    let endpoint = endpoint(&place, &declaration("POST /orders", Invoke::Rule));
    let body = command().to_string();
    let event = json!({
        "headers": {"Host": "abc.execute-api.localhost.localstack.cloud:4566", "Content-Type": "application/json", "User-Agent": "curl/8"},
        "multiValueHeaders": {"Host": ["abc.execute-api.localhost.localstack.cloud:4566"], "Content-Type": ["application/json"], "User-Agent": ["curl/8"]},
        "body": body,
        "isBase64Encoded": false,
        "requestContext": {
            "accountId": "000000000000", "apiId": "abc", "deploymentId": "dep1",
            "domainName": "abc.execute-api.localhost.localstack.cloud", "domainPrefix": "abc",
            "extendedRequestId": "x1", "httpMethod": "POST",
            "identity": {"accountId": null, "accessKey": null, "caller": null,
                "cognitoAuthenticationProvider": null, "cognitoAuthenticationType": null,
                "cognitoIdentityId": null, "cognitoIdentityPoolId": null, "principalOrgId": null,
                "sourceIp": "127.0.0.1", "user": null, "userAgent": "curl/8", "userArn": null},
            "path": "/dev/orders", "protocol": "HTTP/1.1", "requestId": "ls-req-1",
            "requestTime": "07/Dec/2026:21:00:00 +0000", "requestTimeEpoch": 1_796_763_600_000_i64,
            "stage": "dev", "resourceId": "r1", "resourcePath": "/orders"
        },
        "stageVariables": null,
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": null,
        "httpMethod": "POST",
        "path": "/orders",
        "resource": "/orders"
    });
    let response = endpoint.invoke(event, "lambda-1", None).await.unwrap();
    let (status, _, answer) = parts(&response);
    assert_eq!(status, 202, "{response}");
    assert_eq!(answer["request_id"], "ls-req-1");
}
