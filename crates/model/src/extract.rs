//! Extracts the typed model from the long-form JSON of a template.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::TemplateError;
use crate::refs::direct_ref;
use crate::resources::*;
use crate::sources::Sources;

#[derive(Debug, Clone)]
pub(crate) struct Model {
    pub parameters: Vec<Parameter>,
    pub functions: Vec<Function>,
    pub rules: Vec<Rule>,
    pub queues: Vec<Queue>,
    pub queue_policies: Vec<QueuePolicy>,
    pub alarms: Vec<Alarm>,
    pub archives: Vec<Archive>,
    pub outputs: Vec<Output>,
    pub sources: Sources,
}

const SAM_FUNCTION: &str = "AWS::Serverless::Function";
const LAMBDA_FUNCTION: &str = "AWS::Lambda::Function";

struct Ctx<'a> {
    file: &'a Path,
    resources: &'a Map<String, Value>,
    parameters: &'a [Parameter],
}

impl Ctx<'_> {
    fn resource_type(&self, id: &str) -> Option<&str> {
        self.resources.get(id)?.get("Type")?.as_str()
    }

    fn is_function(&self, id: &str) -> bool {
        matches!(self.resource_type(id), Some(SAM_FUNCTION | LAMBDA_FUNCTION))
    }

    fn err(&self, path: impl Into<String>, message: impl Into<String>) -> TemplateError {
        TemplateError::invalid(self.file, path, message)
    }

    fn object<'v>(
        &self,
        value: &'v Value,
        path: &str,
    ) -> Result<&'v Map<String, Value>, TemplateError> {
        value
            .as_object()
            .ok_or_else(|| self.err(path, format!("expected a mapping, found {value}")))
    }

    /// Resources of one type, in map order, as (logical id, Properties).
    fn of_type<'s>(&'s self, ty: &'s str) -> impl Iterator<Item = (&'s str, &'s Value)> + 's {
        static EMPTY: Value = Value::Null;
        self.resources
            .iter()
            .filter(move |(_, r)| r.get("Type").and_then(Value::as_str) == Some(ty))
            .map(|(id, r)| (id.as_str(), r.get("Properties").unwrap_or(&EMPTY)))
    }
}

pub(crate) fn extract(json: &Value, file: &Path) -> Result<Model, TemplateError> {
    let root = json
        .as_object()
        .ok_or_else(|| TemplateError::invalid(file, "<root>", "a template must be a mapping"))?;
    let empty = Map::new();
    let resources = match root.get("Resources") {
        Some(r) => r
            .as_object()
            .ok_or_else(|| TemplateError::invalid(file, "Resources", "must be a mapping"))?,
        None => &empty,
    };
    for (id, r) in resources {
        if r.get("Type").and_then(Value::as_str).is_none() {
            return Err(TemplateError::invalid(
                file,
                format!("Resources.{id}"),
                "resource has no string `Type`",
            ));
        }
    }
    let parameters = parameters(root.get("Parameters"), file)?;
    let ctx = Ctx {
        file,
        resources,
        parameters: &parameters,
    };
    let globals = root
        .get("Globals")
        .and_then(|g| g.get("Function"))
        .and_then(Value::as_object);

    let mut functions = Vec::new();
    let mut rules = Vec::new();
    let mut sources = Sources::default();
    for (id, r) in resources {
        match r.get("Type").and_then(Value::as_str) {
            Some(SAM_FUNCTION) => {
                let (f, mut events) = sam_function(&ctx, id, r, globals, &mut sources)?;
                functions.push(f);
                rules.append(&mut events);
            }
            Some(LAMBDA_FUNCTION) => functions.push(lambda_function(&ctx, id, r)?),
            _ => {}
        }
    }
    attach_invoke_configs(&ctx, &mut functions)?;
    for (id, props) in ctx.of_type("AWS::Events::Rule") {
        rules.push(events_rule(&ctx, id, props)?);
    }
    sources.add_resources(resources, &parameters, |id| ctx.is_function(id));
    Ok(Model {
        functions,
        rules,
        queues: queues(&ctx),
        queue_policies: queue_policies(&ctx)?,
        alarms: alarms(&ctx),
        archives: archives(&ctx)?,
        outputs: outputs(root.get("Outputs"), file)?,
        sources,
        parameters,
    })
}

fn parameters(value: Option<&Value>, file: &Path) -> Result<Vec<Parameter>, TemplateError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let map = value
        .as_object()
        .ok_or_else(|| TemplateError::invalid(file, "Parameters", "must be a mapping"))?;
    map.iter()
        .map(|(name, p)| {
            let kind = p.get("Type").and_then(Value::as_str).ok_or_else(|| {
                TemplateError::invalid(
                    file,
                    format!("Parameters.{name}"),
                    "parameter has no `Type`",
                )
            })?;
            Ok(Parameter {
                name: name.clone(),
                kind: kind.to_owned(),
                default: p.get("Default").cloned(),
                min_value: p.get("MinValue").and_then(as_f64),
                max_value: p.get("MaxValue").and_then(as_f64),
                allowed_values: p
                    .get("AllowedValues")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
            })
        })
        .collect()
}

fn condition_of(resource: &Value) -> Option<String> {
    resource
        .get("Condition")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn str_prop(props: &Value, key: &str) -> Option<String> {
    props.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn sam_function(
    ctx: &Ctx<'_>,
    id: &str,
    resource: &Value,
    globals: Option<&Map<String, Value>>,
    sources: &mut Sources,
) -> Result<(Function, Vec<Rule>), TemplateError> {
    static EMPTY: Value = Value::Null;
    let props = resource.get("Properties").unwrap_or(&EMPTY);
    let path = format!("Resources.{id}.Properties");
    if !props.is_null() {
        ctx.object(props, &path)?;
    }
    let global = |key: &str| globals.and_then(|g| g.get(key));
    let own_or_global = |key: &str| props.get(key).or_else(|| global(key)).cloned();

    let mut environment = BTreeMap::new();
    for source in [global("Environment"), props.get("Environment")] {
        if let Some(vars) = source.and_then(|e| e.get("Variables")) {
            let vars = ctx.object(vars, &format!("{path}.Environment.Variables"))?;
            environment.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }

    let metadata = resource.get("Metadata");
    let code_uri = own_or_global("CodeUri");
    let binary = metadata
        .and_then(|m| m.get("BuildProperties"))
        .and_then(|b| b.get("Binary"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            code_uri
                .as_ref()
                .and_then(Value::as_str)
                .and_then(|s| s.trim_end_matches('/').rsplit('/').next())
                .filter(|s| !s.is_empty() && !s.starts_with('.'))
                .map(str::to_owned)
        });

    let (role, mut permissions) = match props.get("Role") {
        None => (RoleSource::Generated, Permissions::default()),
        Some(role) => role_permissions(ctx, role)?,
    };
    if role == RoleSource::Generated {
        permissions
            .managed
            .push(Value::String("AWSLambdaBasicExecutionRole".to_owned()));
    }
    if let Some(policies) = props.get("Policies") {
        sam_policies(ctx, policies, &format!("{path}.Policies"), &mut permissions)?;
    }

    let event_invoke_config = own_or_global("EventInvokeConfig")
        .map(|c| invoke_config(ctx, &c))
        .transpose()?;

    let mut rules = Vec::new();
    if let Some(events) = props.get("Events") {
        let events = ctx.object(events, &format!("{path}.Events"))?;
        for (name, event) in events {
            let ty = event.get("Type").and_then(Value::as_str);
            let eprops = event.get("Properties").unwrap_or(&EMPTY);
            if !matches!(ty, Some("EventBridgeRule" | "CloudWatchEvent")) {
                if let Some(ty) = ty {
                    sources.add_function_event(id, name, ty, eprops, ctx.parameters);
                }
                continue;
            }
            let epath = format!("{path}.Events.{name}.Properties");
            rules.push(sam_rule(ctx, id, name, eprops, &epath)?);
        }
    }

    let function = Function {
        logical_id: id.to_owned(),
        resource_type: SAM_FUNCTION.to_owned(),
        binary,
        build_method: metadata
            .and_then(|m| m.get("BuildMethod"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        code_uri,
        function_name: props.get("FunctionName").cloned(),
        runtime: own_or_global("Runtime"),
        handler: own_or_global("Handler"),
        architectures: own_or_global("Architectures"),
        environment,
        role,
        permissions,
        event_invoke_config,
    };
    Ok((function, rules))
}

fn sam_rule(
    ctx: &Ctx<'_>,
    function: &str,
    event: &str,
    props: &Value,
    path: &str,
) -> Result<Rule, TemplateError> {
    let logical_id = format!("{function}{event}");
    let dead_letter = props.get("DeadLetterConfig").map(|d| {
        let arn = d.get("Arn").cloned();
        let generated = arn.is_none() && d.get("Type").and_then(Value::as_str) == Some("SQS");
        let queue = match &arn {
            Some(arn) => direct_ref(arn).map(str::to_owned),
            None if generated => {
                Some(str_prop(d, "QueueLogicalId").unwrap_or_else(|| format!("{logical_id}Queue")))
            }
            None => None,
        };
        DeadLetter {
            arn,
            queue,
            generated,
        }
    });
    let target = Target {
        id: props
            .get("Target")
            .and_then(|t| t.get("Id"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        arn: serde_json::json!({"Fn::GetAtt": [function, "Arn"]}),
        function: Some(function.to_owned()),
        resource: None,
        dead_letter,
        retry_policy: props.get("RetryPolicy").map(|r| retry_policy(ctx, r)),
    };
    let event_bus = props.get("EventBusName").cloned();
    Ok(Rule {
        bus_resource: event_bus.as_ref().and_then(direct_ref).map(str::to_owned),
        event_bus,
        pattern: props
            .get("Pattern")
            .map(|p| pattern(ctx, p, &format!("{path}.Pattern")))
            .transpose()?,
        schedule: None,
        state: props.get("State").cloned(),
        name: props.get("RuleName").cloned(),
        logical_id,
        origin: RuleOrigin::FunctionEvent {
            function: function.to_owned(),
            event: event.to_owned(),
        },
        targets: vec![target],
    })
}

fn events_rule(ctx: &Ctx<'_>, id: &str, props: &Value) -> Result<Rule, TemplateError> {
    let path = format!("Resources.{id}.Properties");
    let mut targets = Vec::new();
    if let Some(list) = props.get("Targets") {
        let list = list
            .as_array()
            .ok_or_else(|| ctx.err(format!("{path}.Targets"), "must be a list"))?;
        for (i, t) in list.iter().enumerate() {
            let arn = t
                .get("Arn")
                .cloned()
                .ok_or_else(|| ctx.err(format!("{path}.Targets.{i}"), "target has no `Arn`"))?;
            let referenced = direct_ref(&arn).map(str::to_owned);
            let (function, resource) = match referenced {
                Some(r) if ctx.is_function(&r) => (Some(r), None),
                other => (None, other),
            };
            targets.push(Target {
                id: str_prop(t, "Id"),
                arn,
                function,
                resource,
                dead_letter: t.get("DeadLetterConfig").map(|d| {
                    let arn = d.get("Arn").cloned();
                    DeadLetter {
                        queue: arn.as_ref().and_then(direct_ref).map(str::to_owned),
                        arn,
                        generated: false,
                    }
                }),
                retry_policy: t.get("RetryPolicy").map(|r| retry_policy(ctx, r)),
            });
        }
    }
    let event_bus = props.get("EventBusName").cloned();
    Ok(Rule {
        logical_id: id.to_owned(),
        origin: RuleOrigin::Resource,
        name: props.get("Name").cloned(),
        bus_resource: event_bus.as_ref().and_then(direct_ref).map(str::to_owned),
        event_bus,
        pattern: props
            .get("EventPattern")
            .map(|p| pattern(ctx, p, &format!("{path}.EventPattern")))
            .transpose()?,
        schedule: props.get("ScheduleExpression").cloned(),
        state: props.get("State").cloned(),
        targets,
    })
}

/// A pattern may be written as YAML/JSON structure or as a JSON string.
fn pattern(ctx: &Ctx<'_>, value: &Value, path: &str) -> Result<Value, TemplateError> {
    match value {
        Value::String(s) => serde_json::from_str(s)
            .map_err(|e| ctx.err(path, format!("pattern string is not valid JSON: {e}"))),
        other => Ok(other.clone()),
    }
}

fn retry_policy(ctx: &Ctx<'_>, value: &Value) -> RetryPolicy {
    RetryPolicy {
        maximum_event_age_in_seconds: value
            .get("MaximumEventAgeInSeconds")
            .map(|v| setting(v, ctx.parameters)),
        maximum_retry_attempts: value
            .get("MaximumRetryAttempts")
            .map(|v| setting(v, ctx.parameters)),
    }
}

fn invoke_config(ctx: &Ctx<'_>, value: &Value) -> Result<EventInvokeConfig, TemplateError> {
    let dest = value.get("DestinationConfig");
    Ok(EventInvokeConfig {
        maximum_retry_attempts: value
            .get("MaximumRetryAttempts")
            .map(|v| setting(v, ctx.parameters)),
        maximum_event_age_in_seconds: value
            .get("MaximumEventAgeInSeconds")
            .map(|v| setting(v, ctx.parameters)),
        on_failure: dest.and_then(|d| d.get("OnFailure")).map(destination),
        on_success: dest.and_then(|d| d.get("OnSuccess")).map(destination),
    })
}

fn lambda_function(ctx: &Ctx<'_>, id: &str, resource: &Value) -> Result<Function, TemplateError> {
    static EMPTY: Value = Value::Null;
    let props = resource.get("Properties").unwrap_or(&EMPTY);
    let path = format!("Resources.{id}.Properties");
    let mut environment = BTreeMap::new();
    if let Some(vars) = props.get("Environment").and_then(|e| e.get("Variables")) {
        let vars = ctx.object(vars, &format!("{path}.Environment.Variables"))?;
        environment.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let (role, permissions) = match props.get("Role") {
        Some(role) => role_permissions(ctx, role)?,
        None => (RoleSource::External(Value::Null), Permissions::default()),
    };
    Ok(Function {
        logical_id: id.to_owned(),
        resource_type: LAMBDA_FUNCTION.to_owned(),
        binary: resource
            .get("Metadata")
            .and_then(|m| m.get("BuildProperties"))
            .and_then(|b| b.get("Binary"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        build_method: None,
        code_uri: props.get("Code").cloned(),
        function_name: props.get("FunctionName").cloned(),
        runtime: props.get("Runtime").cloned(),
        handler: props.get("Handler").cloned(),
        architectures: props.get("Architectures").cloned(),
        environment,
        role,
        permissions,
        event_invoke_config: None,
    })
}

/// `AWS::Lambda::EventInvokeConfig` resources apply to the function their `FunctionName` names.
fn attach_invoke_configs(ctx: &Ctx<'_>, functions: &mut [Function]) -> Result<(), TemplateError> {
    for (_, props) in ctx.of_type("AWS::Lambda::EventInvokeConfig") {
        let Some(target) = props.get("FunctionName").and_then(direct_ref) else {
            continue;
        };
        if let Some(f) = functions.iter_mut().find(|f| f.logical_id == target)
            && f.event_invoke_config.is_none()
        {
            f.event_invoke_config = Some(invoke_config(ctx, props)?);
        }
    }
    Ok(())
}

/// Reads the role a `Role` property points at, with every policy attached to it in the template.
fn role_permissions(
    ctx: &Ctx<'_>,
    role: &Value,
) -> Result<(RoleSource, Permissions), TemplateError> {
    let Some(role_id) = direct_ref(role).filter(|r| ctx.resource_type(r) == Some("AWS::IAM::Role"))
    else {
        return Ok((RoleSource::External(role.clone()), Permissions::default()));
    };
    let mut perms = Permissions::default();
    let path = format!("Resources.{role_id}.Properties");
    static EMPTY: Value = Value::Null;
    let props = ctx
        .resources
        .get(role_id)
        .and_then(|r| r.get("Properties"))
        .unwrap_or(&EMPTY);
    if let Some(managed) = props.get("ManagedPolicyArns").and_then(Value::as_array) {
        perms.managed.extend(managed.iter().cloned());
    }
    if let Some(policies) = props.get("Policies") {
        let list = policies
            .as_array()
            .ok_or_else(|| ctx.err(format!("{path}.Policies"), "must be a list"))?;
        for (i, p) in list.iter().enumerate() {
            let doc = p.get("PolicyDocument").ok_or_else(|| {
                ctx.err(
                    format!("{path}.Policies.{i}"),
                    "policy has no `PolicyDocument`",
                )
            })?;
            statements(
                ctx,
                doc,
                &format!("{path}.Policies.{i}.PolicyDocument"),
                &mut perms.statements,
            )?;
        }
    }
    for ty in [
        "AWS::IAM::Policy",
        "AWS::IAM::RolePolicy",
        "AWS::IAM::ManagedPolicy",
    ] {
        for (pid, pprops) in ctx.of_type(ty) {
            let attached = match ty {
                "AWS::IAM::RolePolicy" => pprops
                    .get("RoleName")
                    .and_then(direct_ref)
                    .is_some_and(|r| r == role_id),
                _ => pprops
                    .get("Roles")
                    .and_then(Value::as_array)
                    .is_some_and(|roles| roles.iter().any(|r| direct_ref(r) == Some(role_id))),
            };
            if !attached {
                continue;
            }
            if let Some(doc) = pprops.get("PolicyDocument") {
                let ppath = format!("Resources.{pid}.Properties.PolicyDocument");
                statements(ctx, doc, &ppath, &mut perms.statements)?;
            }
        }
    }
    Ok((RoleSource::Resource(role_id.to_owned()), perms))
}

/// SAM `Policies`: a managed policy name/ARN, a list of those, SAM policy templates,
/// or inline documents with `Statement`.
fn sam_policies(
    ctx: &Ctx<'_>,
    policies: &Value,
    path: &str,
    perms: &mut Permissions,
) -> Result<(), TemplateError> {
    let items: Vec<&Value> = match policies {
        Value::Array(list) => list.iter().collect(),
        other => vec![other],
    };
    for (i, item) in items.into_iter().enumerate() {
        match item.get("Statement") {
            Some(_) => statements(ctx, item, &format!("{path}.{i}"), &mut perms.statements)?,
            None => perms.managed.push(item.clone()),
        }
    }
    Ok(())
}

fn one_or_many(value: Option<&Value>) -> Vec<Value> {
    match value {
        None => Vec::new(),
        Some(Value::Array(list)) => list.clone(),
        Some(other) => vec![other.clone()],
    }
}

fn statements(
    ctx: &Ctx<'_>,
    document: &Value,
    path: &str,
    out: &mut Vec<Statement>,
) -> Result<(), TemplateError> {
    let list = one_or_many(document.get("Statement"));
    for (i, s) in list.iter().enumerate() {
        let spath = format!("{path}.Statement.{i}");
        let effect = s
            .get("Effect")
            .and_then(Value::as_str)
            .ok_or_else(|| ctx.err(&spath, "statement has no `Effect`"))?;
        let (actions, not_action) = match (s.get("Action"), s.get("NotAction")) {
            (Some(a), _) => (one_or_many(Some(a)), false),
            (None, Some(a)) => (one_or_many(Some(a)), true),
            (None, None) => return Err(ctx.err(&spath, "statement has no `Action`")),
        };
        let actions = actions
            .iter()
            .map(|a| {
                a.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| ctx.err(&spath, format!("action {a} is not a string")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (resources, not_resource) = match (s.get("Resource"), s.get("NotResource")) {
            (Some(r), _) => (one_or_many(Some(r)), false),
            (None, Some(r)) => (one_or_many(Some(r)), true),
            (None, None) => (Vec::new(), false),
        };
        out.push(Statement {
            sid: str_prop(s, "Sid"),
            effect: effect.to_owned(),
            actions,
            not_action,
            resources,
            not_resource,
            principal: s.get("Principal").cloned(),
            condition: s.get("Condition").cloned(),
        });
    }
    Ok(())
}

fn queues(ctx: &Ctx<'_>) -> Vec<Queue> {
    ctx.of_type("AWS::SQS::Queue")
        .map(|(id, props)| Queue {
            logical_id: id.to_owned(),
            queue_name: props.get("QueueName").cloned(),
            fifo: props.get("FifoQueue").is_some_and(is_true),
            sqs_managed_sse: props.get("SqsManagedSseEnabled").is_some_and(is_true),
            kms_master_key_id: props.get("KmsMasterKeyId").cloned(),
            redrive_dead_letter: props
                .get("RedrivePolicy")
                .and_then(|r| r.get("deadLetterTargetArn"))
                .and_then(direct_ref)
                .map(str::to_owned),
            max_receive_count: props
                .get("RedrivePolicy")
                .and_then(|r| r.get("maxReceiveCount"))
                .map(|v| setting(v, ctx.parameters)),
            visibility_timeout: props
                .get("VisibilityTimeout")
                .map(|v| setting(v, ctx.parameters)),
            condition: ctx.resources.get(id).and_then(condition_of),
        })
        .collect()
}

fn is_true(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn queue_policies(ctx: &Ctx<'_>) -> Result<Vec<QueuePolicy>, TemplateError> {
    let mut out = Vec::new();
    for (id, props) in ctx.of_type("AWS::SQS::QueuePolicy") {
        let mut stmts = Vec::new();
        if let Some(doc) = props.get("PolicyDocument") {
            let path = format!("Resources.{id}.Properties.PolicyDocument");
            statements(ctx, doc, &path, &mut stmts)?;
        }
        out.push(QueuePolicy {
            logical_id: id.to_owned(),
            queues: one_or_many(props.get("Queues"))
                .iter()
                .filter_map(direct_ref)
                .map(str::to_owned)
                .collect(),
            statements: stmts,
        });
    }
    Ok(out)
}

fn alarms(ctx: &Ctx<'_>) -> Vec<Alarm> {
    ctx.of_type("AWS::CloudWatch::Alarm")
        .map(|(id, props)| Alarm {
            logical_id: id.to_owned(),
            namespace: str_prop(props, "Namespace"),
            metric_name: str_prop(props, "MetricName"),
            comparison: str_prop(props, "ComparisonOperator"),
            threshold: props.get("Threshold").and_then(as_f64),
            dimension_resource: props
                .get("Dimensions")
                .and_then(Value::as_array)
                .and_then(|dims| {
                    dims.iter()
                        .find_map(|d| d.get("Value").and_then(direct_ref))
                })
                .map(str::to_owned),
            condition: ctx.resources.get(id).and_then(condition_of),
        })
        .collect()
}

fn archives(ctx: &Ctx<'_>) -> Result<Vec<Archive>, TemplateError> {
    ctx.of_type("AWS::Events::Archive")
        .map(|(id, props)| {
            let source_arn = props.get("SourceArn").cloned();
            Ok(Archive {
                logical_id: id.to_owned(),
                name: props.get("ArchiveName").cloned(),
                source_bus: source_arn.as_ref().and_then(direct_ref).map(str::to_owned),
                source_arn,
                pattern: props
                    .get("EventPattern")
                    .map(|p| pattern(ctx, p, &format!("Resources.{id}.Properties.EventPattern")))
                    .transpose()?,
                retention_days: props
                    .get("RetentionDays")
                    .map(|v| setting(v, ctx.parameters)),
                condition: ctx.resources.get(id).and_then(condition_of),
            })
        })
        .collect()
}

fn outputs(value: Option<&Value>, file: &Path) -> Result<Vec<Output>, TemplateError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let map = value
        .as_object()
        .ok_or_else(|| TemplateError::invalid(file, "Outputs", "must be a mapping"))?;
    map.iter()
        .map(|(name, o)| {
            let value = o.get("Value").cloned().ok_or_else(|| {
                TemplateError::invalid(file, format!("Outputs.{name}"), "output has no `Value`")
            })?;
            Ok(Output {
                name: name.clone(),
                value,
                description: str_prop(o, "Description"),
                export_name: o.get("Export").and_then(|e| e.get("Name")).cloned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::resources::{RoleSource, RuleOrigin, Setting};
    use crate::template::Template;
    use serde_json::json;

    const TEXT: &str = r#"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Age: {Type: Number, Default: 120, MinValue: 60, MaxValue: 600}
Globals:
  Function:
    Runtime: provided.al2023
    Environment:
      Variables: {RUST_LOG: info, SHARED: global}
Resources:
  Bus:
    Type: AWS::Events::EventBus
    Properties: {Name: b}
  Worker:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: rust-cargolambda, BuildProperties: {Binary: worker}}
    Properties:
      CodeUri: ../functions/worker
      Role: !GetAtt WorkerRole.Arn
      Environment:
        Variables: {SHARED: own, EVENTRAIL_DLQ_URL: !Ref Failures}
      EventInvokeConfig:
        MaximumRetryAttempts: 1
        MaximumEventAgeInSeconds: !Ref Age
        DestinationConfig:
          OnFailure: {Type: SQS, Destination: !GetAtt Failures.Arn}
      Events:
        Hello:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref Bus
            RuleName: worker-hello
            Pattern: {source: [a]}
            RetryPolicy: {MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: !Ref Age}
            DeadLetterConfig: {Type: SQS}
        Ignored:
          Type: SQS
          Properties: {Queue: !GetAtt Failures.Arn}
  WorkerRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {}
      Policies:
        - PolicyName: p
          PolicyDocument:
            Statement:
              - {Effect: Allow, Action: sqs:SendMessage, Resource: !GetAtt Failures.Arn}
  ExtraPolicy:
    Type: AWS::IAM::Policy
    Properties:
      Roles: [!Ref WorkerRole]
      PolicyDocument:
        Statement: {Effect: Allow, Action: [logs:PutLogEvents], Resource: "*"}
  Failures:
    Type: AWS::SQS::Queue
    Properties: {SqsManagedSseEnabled: true}
  Raw:
    Type: AWS::Lambda::Function
    Properties: {Code: {ZipFile: x}, Role: arn:aws:iam::1:role/r}
  RawConfig:
    Type: AWS::Lambda::EventInvokeConfig
    Properties:
      FunctionName: !Ref Raw
      Qualifier: $LATEST
      MaximumRetryAttempts: 0
  Catch:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !GetAtt Bus.Name
      EventPattern: '{"source":[{"prefix":"a"}]}'
      Targets:
        - Id: raw
          Arn: !GetAtt Raw.Arn
          DeadLetterConfig: {Arn: !GetAtt Failures.Arn}
        - Id: q
          Arn: !GetAtt Failures.Arn
Outputs:
  Url: {Value: !Ref Failures, Export: {Name: x}}
"#;

    #[test]
    fn builds_functions_rules_and_queues() {
        let t = Template::parse(TEXT, "t.yaml").unwrap();
        let w = t.function_by_binary("worker").unwrap();
        assert_eq!(w.logical_id, "Worker");
        assert_eq!(w.runtime, Some(json!("provided.al2023")));
        assert_eq!(w.environment["SHARED"], json!("own"));
        assert_eq!(w.environment["RUST_LOG"], json!("info"));
        assert_eq!(w.role, RoleSource::Resource("WorkerRole".into()));
        assert_eq!(
            w.permissions.statements.len(),
            2,
            "inline + attached policy"
        );
        let cfg = w.event_invoke_config.as_ref().unwrap();
        assert_eq!(cfg.maximum_retry_attempts, Some(Setting::Literal(1)));
        assert_eq!(
            cfg.maximum_event_age_in_seconds
                .as_ref()
                .and_then(Setting::bounds),
            Some((60, 600))
        );
        assert_eq!(
            cfg.on_failure.as_ref().unwrap().resource.as_deref(),
            Some("Failures")
        );

        let raw = t.function("Raw").unwrap();
        assert!(matches!(raw.role, RoleSource::External(_)));
        assert_eq!(
            raw.event_invoke_config
                .as_ref()
                .unwrap()
                .maximum_retry_attempts,
            Some(Setting::Literal(0))
        );

        assert_eq!(t.rules().len(), 2, "the SQS event is not a rule");
        let hello = &t.rules()[0];
        assert_eq!(hello.logical_id, "WorkerHello");
        assert_eq!(
            hello.origin,
            RuleOrigin::FunctionEvent {
                function: "Worker".into(),
                event: "Hello".into()
            }
        );
        assert_eq!(hello.name, Some(json!("worker-hello")));
        assert_eq!(hello.bus_resource.as_deref(), Some("Bus"));
        let dl = hello.targets[0].dead_letter.as_ref().unwrap();
        assert!(dl.generated);
        assert_eq!(dl.queue.as_deref(), Some("WorkerHelloQueue"));

        let catch = &t.rules()[1];
        assert_eq!(catch.pattern, Some(json!({"source": [{"prefix": "a"}]})));
        assert_eq!(catch.target_functions().collect::<Vec<_>>(), ["Raw"]);
        assert_eq!(catch.targets[1].resource.as_deref(), Some("Failures"));
        assert_eq!(t.rules_for("Raw").count(), 1);

        assert!(t.queue("Failures").unwrap().encrypted());
        assert_eq!(t.outputs()[0].export_name, Some(json!("x")));
    }

    #[test]
    fn set_code_uri_updates_json_and_model() {
        let mut t = Template::parse(TEXT, "t.yaml").unwrap();
        t.set_code_uri("Worker", json!("s3://b/worker.zip"))
            .unwrap();
        t.set_code_uri("Raw", json!({"S3Bucket": "b", "S3Key": "raw.zip"}))
            .unwrap();
        assert_eq!(
            t.json()["Resources"]["Worker"]["Properties"]["CodeUri"],
            json!("s3://b/worker.zip")
        );
        assert_eq!(
            t.json()["Resources"]["Raw"]["Properties"]["Code"]["S3Key"],
            json!("raw.zip")
        );
        assert_eq!(
            t.function("Worker").unwrap().code_uri,
            Some(json!("s3://b/worker.zip"))
        );
        let again = Template::from_json(t.json().clone(), "t.json").unwrap();
        assert_eq!(
            again.function("Worker").unwrap().code_uri,
            Some(json!("s3://b/worker.zip"))
        );
        let err = t.set_code_uri("Nope", json!("x")).unwrap_err().to_string();
        assert!(
            err.contains("`Nope`") && err.contains("Raw") && err.contains("Worker"),
            "{err}"
        );
    }

    #[test]
    fn malformed_resources_are_reported_with_their_path() {
        let err = Template::parse("Resources:\n  A:\n    Properties: {}\n", "t.yaml")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "t.yaml: at Resources.A: resource has no string `Type`");
        let err = Template::parse(
            "Resources:\n  R:\n    Type: AWS::Events::Rule\n    Properties:\n      EventPattern: '{nope'\n",
            "t.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "t.yaml: at Resources.R.Properties.EventPattern: pattern string is not valid JSON"
            ),
            "{err}"
        );
        let err = Template::parse(
            "Resources:\n  P:\n    Type: AWS::SQS::QueuePolicy\n    Properties:\n      PolicyDocument: {Statement: [{Action: x}]}\n",
            "t.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("Resources.P.Properties.PolicyDocument.Statement.0"),
            "{err}"
        );
    }
}
