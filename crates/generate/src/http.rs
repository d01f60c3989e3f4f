//! The `http` triggers: one REST API (API Gateway v1, `AWS::Serverless::Api` named
//! [`REST_API`]) on the template's `Stage`, with the CORS the functions declare and a Cognito
//! user-pool authorizer per `jwt` function, and each function's SAM `Api` event (its route and
//! auth). REST APIs, not HTTP APIs: LocalStack's free edition serves only v1, and the local run
//! must exercise the routing and auth production uses.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use eventrail_contract::names::{
    REST_API, REST_API_ID_OUTPUT, REST_API_STAGE_OUTPUT, REST_API_URL_OUTPUT,
};
use eventrail_contract::{FunctionDeclaration, HttpAuth, HttpDeclaration, Trigger};
use eventrail_model::declared::{GenerateError, function_error};

use crate::text::yaml_string;

/// The functions with an `http` trigger, with their declarations.
fn http_functions(
    functions: &[FunctionDeclaration],
) -> Vec<(&FunctionDeclaration, HttpDeclaration)> {
    functions
        .iter()
        .filter_map(|f| match f.declaration.trigger() {
            Trigger::Http(h) => Some((f, h)),
            _ => None,
        })
        .collect()
}

/// The Cognito authorizer's name of a `jwt` function, on the API.
fn jwt_authorizer(f: &FunctionDeclaration) -> String {
    format!("{}Jwt", f.logical_id())
}

/// The template parameter with a `jwt` function's user pool ARN.
fn user_pool_parameter(f: &FunctionDeclaration) -> String {
    format!("{}UserPoolArn", f.logical_id())
}

/// The `Api` event, under `Events`.
pub(crate) fn http_event(
    f: &FunctionDeclaration,
    h: &HttpDeclaration,
) -> Result<String, GenerateError> {
    let route = h
        .route()
        .map_err(|m| function_error(f, format!("[package.metadata.eventrail] http: {m}")))?;
    let mut out = format!(
        r#"        Http:
          Type: Api
          Properties:
            RestApiId: !Ref {REST_API}
            Path: {path}
            Method: {method}
"#,
        path = yaml_string(&route.path),
        method = route.method.as_str().to_ascii_lowercase(),
    );
    match &h.auth {
        HttpAuth::None => {}
        HttpAuth::Iam => out.push_str(
            "            Auth:\n              Authorizer: AWS_IAM\n              InvokeRole: NONE\n",
        ),
        HttpAuth::Jwt { .. } => {
            let _ = write!(
                out,
                "            Auth:\n              Authorizer: {}\n",
                jwt_authorizer(f)
            );
        }
    }
    Ok(out)
}

/// The REST API's parts: resources, parameters and outputs (all empty without `http`).
#[derive(Debug, Default)]
pub(crate) struct RestApiParts {
    pub(crate) resources: String,
    pub(crate) parameters: String,
    pub(crate) outputs: String,
}

/// The REST API of the `http` functions. Two functions on one route, or CORS that a REST API
/// cannot answer (several origins: its preflight answers one, or `*`), are errors naming the
/// function.
pub(crate) fn rest_api(functions: &[FunctionDeclaration]) -> Result<RestApiParts, GenerateError> {
    let http = http_functions(functions);
    let mut parts = RestApiParts::default();
    if http.is_empty() {
        return Ok(parts);
    }
    let mut routes = BTreeSet::new();
    let mut origins: BTreeSet<String> = BTreeSet::new();
    let mut headers: BTreeSet<String> = BTreeSet::new();
    let mut methods: BTreeSet<&'static str> = BTreeSet::from(["OPTIONS"]);
    let mut max_age: Option<u32> = None;
    let mut authorizers = String::new();
    for (f, h) in &http {
        let route = h
            .route()
            .map_err(|m| function_error(f, format!("[package.metadata.eventrail] http: {m}")))?;
        if !routes.insert(route.to_string()) {
            return Err(function_error(
                f,
                format!(
                    "[package.metadata.eventrail] http: another function already answers \
                     `{route}`; a route has one function"
                ),
            ));
        }
        if let Some(cors) = &h.cors {
            origins.extend(cors.origins.iter().cloned());
            headers.extend(cors.headers.iter().map(|h| h.to_ascii_lowercase()));
            methods.insert(route.method.as_str());
            max_age = max_age.max(cors.max_age);
            if origins.len() > 1 {
                return Err(function_error(
                    f,
                    format!(
                        "[package.metadata.eventrail] http.cors: the REST API answers one origin \
                         (or \"*\") for all its routes, and the functions declare {}; declare the \
                         same origin everywhere",
                        origins.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        if let HttpAuth::Jwt { issuer, .. } = &h.auth {
            let _ = write!(
                authorizers,
                "          {authorizer}:\n            UserPoolArn: !Ref {parameter}\n            Identity:\n              Header: Authorization\n",
                authorizer = jwt_authorizer(f),
                parameter = user_pool_parameter(f),
            );
            let _ = write!(
                parts.parameters,
                r#"  {parameter}:
    Type: String
    AllowedPattern: "^arn:aws[a-z-]*:cognito-idp:[a-z0-9-]+:[0-9]{{12}}:userpool/.+$"
    Description: {description}
"#,
                parameter = user_pool_parameter(f),
                description = yaml_string(&format!(
                    "ARN of the Cognito user pool whose tokens may call {} (issuer {issuer})",
                    f.name
                )),
            );
        }
    }
    let _ = write!(
        parts.resources,
        r#"
  # ----------------------------------------------------------------- the REST API of the http triggers
  {REST_API}:
    Type: AWS::Serverless::Api
    Properties:
      Name: !Sub "${{AWS::StackName}}-api"
      Description: "REST API (API Gateway v1) of the http-triggered functions"
      StageName: !Ref Stage
"#
    );
    if let Some(origin) = origins.first() {
        let quoted = |items: Vec<String>| yaml_string(&format!("'{}'", items.join(",")));
        let _ = write!(
            parts.resources,
            "      Cors:\n        AllowOrigin: {origin}\n        AllowMethods: {methods}\n",
            origin = quoted(vec![origin.clone()]),
            methods = quoted(methods.iter().map(|m| (*m).to_owned()).collect()),
        );
        if !headers.is_empty() {
            let _ = writeln!(
                parts.resources,
                "        AllowHeaders: {}",
                quoted(headers.into_iter().collect())
            );
        }
        if let Some(age) = max_age {
            let _ = writeln!(
                parts.resources,
                "        MaxAge: {}",
                quoted(vec![age.to_string()])
            );
        }
    }
    if !authorizers.is_empty() {
        let _ = write!(
            parts.resources,
            "      Auth:\n        Authorizers:\n{authorizers}"
        );
    }
    let _ = write!(
        parts.outputs,
        r#"  {REST_API_URL_OUTPUT}:
    Description: Base URL of the REST API of the http triggers (the stage included)
    Value: !Sub "https://${{{REST_API}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/${{Stage}}"
  {REST_API_ID_OUTPUT}:
    Description: Id of the REST API (locally, http://localhost:4566/restapis/<id>/<stage>/_user_request_/<path>)
    Value: !Ref {REST_API}
  {REST_API_STAGE_OUTPUT}:
    Description: Stage of the REST API
    Value: !Ref Stage
"#
    );
    Ok(parts)
}
