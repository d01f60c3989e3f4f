//! An HTTP route's function (`http = "POST /tasks"`): API Gateway REST API (v1) proxy events
//! in, proxy responses out.
//!
//! ```ignore
//! pub async fn handle(request: HttpRequest<CreateTask>, context: Context)
//!     -> Result<HttpResponse<TaskAccepted>, HandlerError>
//! ```
//!
//! The kit answers before the handler runs, and the handler is not called (so nothing is
//! published), when:
//! - the method is not the route's: `405` with `Allow`;
//! - the body is not JSON (`Content-Type` other than `application/json` or `*+json`, or a
//!   binary body): `415`;
//! - the body does not decode as `C`, or breaks one of its rules ([`Validate`]): `400` with
//!   `{"error": "<what>", "field": "<path>"}` (never the values sent).
//!
//! The handler's [`HttpResponse`] is its status and JSON body. Its errors are answered too:
//! [`HandlerError::Rejected`] with its status, `error` and `field`; a poison error with `422`
//! and its reason; a retryable one with `500` and a body that says nothing but the request id
//! (the cause is logged). Declared CORS origins get `Access-Control-Allow-Origin`.
//!
//! A function that also declares `invoke = "direct"` keeps answering direct invokes: a payload
//! that is not an API Gateway event is decoded as `C` and answered with the response's body
//! alone (`R`), errors as Lambda errors naming the field, as a directly invoked function does.

use std::{future::Future, sync::Arc, time::SystemTime};

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::{HeaderMap, HeaderName, HeaderValue};
use aws_lambda_events::query_map::QueryMap;
use eventrail_contract::trace::HopResult;
use eventrail_contract::{Cors, Declaration, Route, Trigger, Validate};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::context::{Context, Origin};
use crate::decode::without_values;
use crate::handler::{HandlerError, Rejection};
use crate::init::{Init, LambdaError, producer_span, traced};
use crate::publisher::{EventBridgePutEvents, Publisher};
use crate::start::{Function, Serves, kind};
use crate::trace::spans::{FaasTrigger, fail, hop_result};

/// The header a caller names its own idempotency key with: a retry with the same key emits
/// the same keys.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// The header a caller passes its flow's correlation id in.
pub const CORRELATION_ID_HEADER: &str = "x-correlation-id";

/// A request's body decoded and validated, with what else the request carries.
#[derive(Debug, Clone)]
pub struct HttpRequest<C> {
    /// The body, decoded as `C` and validated.
    pub body: C,
    /// The body as JSON, as sent (before `C` dropped or reshaped anything): what idempotency
    /// hashes.
    pub raw_body: Value,
    path_parameters: std::collections::HashMap<String, String>,
    query: QueryMap,
    headers: HeaderMap,
    request_id: String,
}

impl<C> HttpRequest<C> {
    /// A request with `body` and nothing else (tests).
    pub fn new(body: C) -> Self {
        Self {
            body,
            raw_body: Value::Null,
            path_parameters: Default::default(),
            query: QueryMap::default(),
            headers: HeaderMap::new(),
            request_id: String::new(),
        }
    }

    /// With the path parameter `name` (`{id}` of the route) set to `value`.
    pub fn with_path_param(mut self, name: &str, value: &str) -> Self {
        self.path_parameters
            .insert(name.to_owned(), value.to_owned());
        self
    }

    /// With the header `name` set to `value` (ignored when either is not a valid header).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name),
            HeaderValue::try_from(value.to_owned()),
        ) {
            self.headers.insert(name, value);
        }
        self
    }

    /// With the query parameters `query`.
    pub fn with_query(mut self, query: std::collections::HashMap<String, Vec<String>>) -> Self {
        self.query = QueryMap::from(query);
        self
    }

    /// A path parameter of the route (`{id}`).
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.path_parameters.get(name).map(String::as_str)
    }

    /// The first value of a query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.first(name)
    }

    /// Every value of a query parameter.
    pub fn query_all(&self, name: &str) -> Vec<&str> {
        self.query.all(name).unwrap_or_default()
    }

    /// A header's value (names are case-insensitive); `None` when absent or not text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// All headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// API Gateway's request id (Lambda's for a direct invoke).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }
}

/// The body of a route that takes none (`GET`, `DELETE`): any body, or none, is accepted and
/// ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoBody;

impl<'de> Deserialize<'de> for NoBody {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer).map(|_| NoBody)
    }
}

impl Validate for NoBody {
    fn validate(&self) -> Result<(), eventrail_contract::ValidationError> {
        Ok(())
    }
}

/// A handler's answer: a status and a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse<R> {
    /// The status.
    pub status: u16,
    /// The body, sent as JSON.
    pub body: R,
    /// Headers beside `Content-Type: application/json`.
    pub headers: Vec<(String, String)>,
}

impl<R> HttpResponse<R> {
    /// `200 OK`.
    pub fn ok(body: R) -> Self {
        Self::with_status(200, body)
    }

    /// `201 Created`.
    pub fn created(body: R) -> Self {
        Self::with_status(201, body)
    }

    /// `202 Accepted`: the request is taken, its effects follow (the usual answer of a
    /// producer whose event the flow then handles).
    pub fn accepted(body: R) -> Self {
        Self::with_status(202, body)
    }

    /// Any status.
    pub fn with_status(status: u16, body: R) -> Self {
        Self {
            status,
            body,
            headers: Vec::new(),
        }
    }

    /// With a header (`Location`, `Cache-Control`).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What the kit answers itself: `{"error": "...", "field": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What is wrong.
    pub error: String,
    /// The field at fault (a path in the body: `task.steps[0].minutes`), when there is one.
    pub field: Option<String>,
    /// The request id, on a server error: what to quote when asking what happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// Why a direct invoke of an HTTP function failed (an API Gateway request always gets a
/// response instead); returned to Lambda as the error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpInvokeError {
    /// The payload is not an API Gateway event, and the function takes no direct invokes.
    #[error(
        "the payload is not an API Gateway (REST API) proxy event: {reason}; this function takes \
         direct invokes only when it declares `invoke = \"direct\"`"
    )]
    NotAnHttpEvent {
        /// What was wrong with it.
        reason: String,
    },
    /// A direct invoke's payload does not decode, or breaks a rule.
    #[error("invalid request: {}{error}", field.as_deref().map(|f| format!("{f}: ")).unwrap_or_default())]
    Invalid {
        /// The field at fault.
        field: Option<String>,
        /// What is wrong.
        error: String,
    },
    /// The handler failed.
    #[error(transparent)]
    Handler(#[from] HandlerError),
    /// The handler's answer does not serialise.
    #[error("the handler's answer cannot be serialised: {0}")]
    Answer(String),
}

impl From<HttpInvokeError> for Diagnostic {
    fn from(error: HttpInvokeError) -> Self {
        let error_type = match &error {
            HttpInvokeError::NotAnHttpEvent { .. } => "eventrail.NotAnHttpEvent",
            HttpInvokeError::Invalid { .. } => "eventrail.InvalidCommand",
            HttpInvokeError::Handler(HandlerError::Retryable(_)) => {
                "eventrail.RetryableHandlerError"
            }
            HttpInvokeError::Handler(_) => "eventrail.Rejected",
            HttpInvokeError::Answer(_) => "eventrail.AnswerError",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// Whether an HTTP function also answers direct invokes (`invoke = "direct"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectInvoke {
    /// A payload that is not an API Gateway event is decoded as the request body.
    Accepted,
    /// Such a payload is an error.
    Refused,
}

/// An HTTP function's handler with its route: what the kit runs for each invocation, and what
/// tests drive with API Gateway events ([`HttpEndpoint::invoke`]).
pub struct HttpEndpoint<H, C, R> {
    handler: H,
    route: Route,
    cors: Option<Cors>,
    direct: DirectInvoke,
    package: String,
    publisher: Arc<Option<Publisher<EventBridgePutEvents>>>,
    emits: Arc<[String]>,
    _types: std::marker::PhantomData<fn(C) -> R>,
}

/// The declaration has no usable `http` route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[package.metadata.eventrail] http: {0}")]
pub struct RouteError(pub String);

impl<H, C, R, Fut> HttpEndpoint<H, C, R>
where
    H: Fn(HttpRequest<C>, Context) -> Fut + Send + Sync,
    Fut: Future<Output = Result<HttpResponse<R>, HandlerError>> + Send,
    C: DeserializeOwned + Validate + Send,
    R: Serialize + Send,
{
    /// The endpoint of `declaration`'s route, in dry-run mode (no publisher; see
    /// [`HttpEndpoint::with_publisher`]).
    pub fn new(handler: H, declaration: &Declaration, package: &str) -> Result<Self, RouteError> {
        let Trigger::Http(http) = declaration.trigger() else {
            return Err(RouteError("the declaration has no `http` route".to_owned()));
        };
        let route = http.route().map_err(RouteError)?;
        Ok(Self {
            handler,
            route,
            cors: http.cors,
            direct: if declaration.accepts_direct_invoke() {
                DirectInvoke::Accepted
            } else {
                DirectInvoke::Refused
            },
            package: package.to_owned(),
            publisher: Arc::new(None),
            emits: declaration.emits.clone().into(),
            _types: std::marker::PhantomData,
        })
    }

    /// Publishes through `publisher` (`None`: dry run).
    pub fn with_publisher(mut self, publisher: Option<Publisher<EventBridgePutEvents>>) -> Self {
        self.publisher = Arc::new(publisher);
        self
    }

    /// One invocation: an API Gateway event gets its proxy response (as JSON); any other
    /// payload is a direct invoke, answered with the handler's body, when the function takes
    /// them.
    pub async fn invoke(
        &self,
        payload: Value,
        request_id: &str,
        deadline: Option<SystemTime>,
    ) -> Result<Value, HttpInvokeError> {
        let is_http =
            payload.get("httpMethod").is_some() && payload.get("requestContext").is_some();
        if !is_http {
            return match self.direct {
                DirectInvoke::Accepted => self.direct(payload, request_id, deadline).await,
                DirectInvoke::Refused => Err(HttpInvokeError::NotAnHttpEvent {
                    reason: "it has no `httpMethod` and `requestContext`".to_owned(),
                }),
            };
        }
        let request: ApiGatewayProxyRequest =
            serde_path_to_error::deserialize(&payload).map_err(|e| {
                HttpInvokeError::NotAnHttpEvent {
                    reason: format!("{}: {}", e.path(), without_values(&e.inner().to_string())),
                }
            })?;
        let response = self.respond(request, request_id, deadline).await;
        serde_json::to_value(&response).map_err(|e| HttpInvokeError::Answer(e.to_string()))
    }

    /// Answers one API Gateway request.
    pub async fn respond(
        &self,
        request: ApiGatewayProxyRequest,
        lambda_request_id: &str,
        deadline: Option<SystemTime>,
    ) -> ApiGatewayProxyResponse {
        let request_id = request
            .request_context
            .request_id
            .clone()
            .filter(|id| !id.is_empty())
            .unwrap_or_else(|| lambda_request_id.to_owned());
        let mut response = match self.answer(request, &request_id, deadline).await {
            Ok(response) => response,
            Err(refusal) => refusal,
        };
        response.headers.insert(
            aws_lambda_events::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }

    async fn answer(
        &self,
        request: ApiGatewayProxyRequest,
        request_id: &str,
        deadline: Option<SystemTime>,
    ) -> Result<ApiGatewayProxyResponse, ApiGatewayProxyResponse> {
        let cors = self.cors_origin(&request.headers);
        let refuse = |status: u16, error: String, field: Option<String>| {
            tracing::warn!(status, %error, field = field.as_deref().unwrap_or(""), "request refused");
            let body = ErrorBody {
                error,
                field,
                request_id: None,
            };
            proxy_response(status, &body, &[], cors.as_deref())
        };
        let method = request.http_method.as_str();
        if method != self.route.method.as_str() {
            let allow = self.route.method.as_str();
            let mut response = refuse(
                405,
                format!(
                    "{} does not take {method}; it takes {allow}",
                    self.route.path
                ),
                None,
            );
            response
                .headers
                .insert("allow", HeaderValue::from_static(allow));
            return Err(response);
        }
        if request.is_base64_encoded {
            return Err(refuse(
                415,
                "a binary body is not accepted; send application/json".to_owned(),
                None,
            ));
        }
        let text = request.body.as_deref().unwrap_or_default();
        if !text.trim().is_empty()
            && let Some(content_type) = request
                .headers
                .get(aws_lambda_events::http::header::CONTENT_TYPE)
            && !is_json(content_type)
        {
            return Err(refuse(
                415,
                format!(
                    "content type {} is not accepted; send application/json",
                    content_type.to_str().unwrap_or("(not text)")
                ),
                None,
            ));
        }
        let (body, raw_body) =
            decode_body::<C>(text).map_err(|(field, error)| refuse(400, error, field))?;
        let query = if request.multi_value_query_string_parameters.is_empty() {
            request.query_string_parameters
        } else {
            request.multi_value_query_string_parameters
        };
        let origin_key = request
            .headers
            .get(IDEMPOTENCY_KEY_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|k| eventrail_contract::message_id_safe("idempotency-key", k).is_ok())
            .unwrap_or(request_id)
            .to_owned();
        let correlation = request
            .headers
            .get(CORRELATION_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let http_request = HttpRequest {
            body,
            raw_body,
            path_parameters: request.path_parameters,
            query,
            headers: request.headers,
            request_id: request_id.to_owned(),
        };
        let origin =
            Origin::request(&self.package, &origin_key).with_correlation_id(correlation.as_deref());
        let context = self.context(request_id, deadline, origin);
        match Box::pin((self.handler)(http_request, context)).await {
            Ok(answer) => match serde_json::to_value(&answer.body) {
                Ok(body) => Ok(proxy_response(
                    answer.status,
                    &body,
                    &answer.headers,
                    cors.as_deref(),
                )),
                Err(e) => {
                    tracing::error!(error = %e, "the handler's answer cannot be serialised");
                    Err(server_error(request_id, cors.as_deref()))
                }
            },
            Err(HandlerError::Rejected(Rejection {
                status,
                error,
                field,
            })) => Err(refuse(status, error, field)),
            Err(HandlerError::Poison(reason)) => Err(refuse(422, reason, None)),
            Err(error) => {
                tracing::error!(error = %error, "handler failed; answering 500");
                Err(server_error(request_id, cors.as_deref()))
            }
        }
    }

    async fn direct(
        &self,
        payload: Value,
        request_id: &str,
        deadline: Option<SystemTime>,
    ) -> Result<Value, HttpInvokeError> {
        let body: C = serde_path_to_error::deserialize(&payload).map_err(|e| {
            let (field, error) = data_error(&e);
            HttpInvokeError::Invalid { field, error }
        })?;
        body.validate().map_err(|e| HttpInvokeError::Invalid {
            field: Some(e.field),
            error: e.reason,
        })?;
        let mut request = HttpRequest::new(body);
        request.raw_body = payload;
        request.request_id = request_id.to_owned();
        let context = self.context(
            request_id,
            deadline,
            Origin::request(&self.package, request_id),
        );
        let answer = Box::pin((self.handler)(request, context))
            .await
            .inspect_err(|e| tracing::error!(error = %e, "handler failed"))?;
        serde_json::to_value(&answer.body).map_err(|e| HttpInvokeError::Answer(e.to_string()))
    }

    fn context(&self, request_id: &str, deadline: Option<SystemTime>, origin: Origin) -> Context {
        Context::shared(Arc::clone(&self.publisher), deadline, request_id.to_owned())
            .with_origin(origin)
            .with_declared_emits(Arc::clone(&self.emits))
    }

    /// The `Access-Control-Allow-Origin` for a request from `headers`' `Origin`: `*` when
    /// the route allows every origin, the origin itself when it is declared, none otherwise.
    fn cors_origin(&self, headers: &HeaderMap) -> Option<String> {
        let cors = self.cors.as_ref()?;
        if cors.origins.iter().any(|o| o == "*") {
            return Some("*".to_owned());
        }
        let origin = headers.get("origin")?.to_str().ok()?;
        cors.origins
            .iter()
            .any(|o| o == origin)
            .then(|| origin.to_owned())
    }
}

/// Decodes a body as `C` and checks its rules; the error is the field (when there is one) and
/// what is wrong, without the values sent. An empty body reads as `null`.
fn decode_body<C: DeserializeOwned + Validate>(
    text: &str,
) -> Result<(C, Value), (Option<String>, String)> {
    let text = if text.trim().is_empty() { "null" } else { text };
    let raw: Value = serde_json::from_str(text).map_err(|e| {
        (
            None,
            format!(
                "the body is not valid JSON (line {} column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    let body: C = serde_path_to_error::deserialize(&raw).map_err(|e| data_error(&e))?;
    body.validate().map_err(|e| (Some(e.field), e.reason))?;
    Ok((body, raw))
}

/// The field and the reason of a decoding error, without values.
fn data_error(error: &serde_path_to_error::Error<serde_json::Error>) -> (Option<String>, String) {
    let path = error.path().to_string();
    let field = (path != ".").then_some(path);
    (field, without_values(&error.inner().to_string()))
}

/// Whether a `Content-Type` is JSON (`application/json`, `application/problem+json`, with or
/// without parameters).
fn is_json(content_type: &HeaderValue) -> bool {
    let Ok(text) = content_type.to_str() else {
        return false;
    };
    let media = text
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// A proxy response with a JSON body.
fn proxy_response<B: Serialize>(
    status: u16,
    body: &B,
    headers: &[(String, String)],
    cors: Option<&str>,
) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(status);
    response.body = Some(Body::Text(
        serde_json::to_string(body).unwrap_or_else(|_| "null".to_owned()),
    ));
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            response.headers.insert(name, value);
        }
    }
    if let Some(origin) = cors.and_then(|o| HeaderValue::try_from(o).ok()) {
        response
            .headers
            .insert("access-control-allow-origin", origin);
        response
            .headers
            .insert("vary", HeaderValue::from_static("Origin"));
    }
    response
}

/// Ends the request's span: `published` when the function answered below 400 (what it
/// emitted is on the bus), an error status otherwise. A refused request is no hop result: it
/// left no event anywhere, so a trace must not look for it in a failure queue.
fn record_result(span: &tracing::Span, outcome: &Result<Value, HttpInvokeError>) {
    match outcome {
        Ok(response) => {
            let status = response
                .get("statusCode")
                .and_then(Value::as_u64)
                .unwrap_or(200);
            if status < 400 {
                hop_result(span, HopResult::Published, None);
            } else {
                fail(span, format!("answered {status}"));
            }
        }
        Err(error) => fail(span, error.to_string()),
    }
}

/// `500` with nothing but the request id (the cause is in the log).
fn server_error(request_id: &str, cors: Option<&str>) -> ApiGatewayProxyResponse {
    let body = ErrorBody {
        error: "internal error".to_owned(),
        field: None,
        request_id: Some(request_id.to_owned()),
    };
    proxy_response(500, &body, &[], cors)
}

impl<F, C, R, Fut> Function<kind::OnHttp<C, R>> for F
where
    F: Fn(HttpRequest<C>, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<HttpResponse<R>, HandlerError>> + Send,
    C: DeserializeOwned + Validate + Send + 'static,
    R: Serialize + Send + 'static,
{
    const SERVES: Serves = Serves::Http;
    const DESCRIPTION: &'static str = "an HTTP function (it takes an HttpRequest and a Context)";

    async fn serve(self, init: Init) -> Result<(), LambdaError> {
        let endpoint = HttpEndpoint::new(self, &init.declaration, &init.package)
            .inspect_err(|e| tracing::error!(error = %e, "declaration error"))?
            .with_publisher(init.publisher().await);
        let name = format!("{} {}", endpoint.route.method.as_str(), endpoint.route.path);
        let endpoint = Arc::new(endpoint);
        let service = service_fn(move |event: LambdaEvent<Value>| {
            let endpoint = Arc::clone(&endpoint);
            let span = producer_span(
                &event.context,
                name.clone(),
                FaasTrigger::Http,
                &endpoint.package,
                event.payload.get("headers"),
            );
            let hop = span.clone();
            traced(span, async move {
                let deadline = event.context.deadline();
                let outcome = Box::pin(endpoint.invoke(
                    event.payload,
                    &event.context.request_id,
                    Some(deadline),
                ))
                .await;
                record_result(&hop, &outcome);
                outcome
            })
        });
        lambda_runtime::Runtime::new(service)
            .layer(lambda_runtime::layers::TracingLayer::new())
            .run()
            .await
    }
}
