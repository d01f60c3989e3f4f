//! A function's gradual rollout (`rollout = "<type>"`): SAM's `AutoPublishAlias` publishes a
//! version per deploy behind the alias [`ROLLOUT_ALIAS`], and its `DeploymentPreference` has
//! CodeDeploy shift the alias's traffic in the declared steps, rolling back when one of the
//! function's own alarms fires.
//!
//! Everything that invokes the function must invoke the alias, or its traffic never shifts.
//! SAM points every event it generates at the alias (the rule's target and its permission,
//! the SQS mapping, the schedule, the API's integration and permission) and applies
//! `EventInvokeConfig` to the alias; what the generator writes outside SAM's events (the
//! schedule's role) names the alias's ARN itself ([`invoke_resource`]).
//!
//! `DeploymentPreference.Enabled` is the template parameter [`GRADUAL_ROLLOUT_PARAMETER`]:
//! SAM resolves a parameter reference there at transform time (its translator resolves
//! `Enabled` with the deploy's parameter values), and when it is `false` creates no CodeDeploy
//! resource at all, while the alias and every invoker's wiring stay. So one template deploys
//! to AWS with rollouts and to LocalStack's free edition (which has no CodeDeploy) without.

use std::fmt::Write as _;

use eventrail_contract::{FunctionDeclaration, GRADUAL_ROLLOUT_PARAMETER, ROLLOUT_ALIAS, Rollout};

use crate::alarms::rollback_alarms;

/// The function's properties for its rollout (under `Properties`), or nothing without one.
pub(crate) fn rollout_properties(f: &FunctionDeclaration) -> String {
    let Some(rollout) = f.declaration.rollout else {
        return String::new();
    };
    let mut out = format!(
        "      AutoPublishAlias: {ROLLOUT_ALIAS}\n      DeploymentPreference:\n        Enabled: !Ref {GRADUAL_ROLLOUT_PARAMETER}\n        Type: {rollout}\n        Alarms:\n"
    );
    for alarm in rollback_alarms(f) {
        let _ = writeln!(out, "          - !Ref {alarm}");
    }
    out
}

/// What a role that invokes the function names as the `Resource`: its alias when it has a
/// rollout, else the function. The alias's ARN is written out from the function's name rather
/// than referenced: SAM would resolve `!Ref <Function>.Alias`, but LocalStack 4.13.1's
/// CloudFormation checks the references of the template as written, before SAM's transform,
/// and refuses one to a resource only the transform creates.
pub(crate) fn invoke_resource(f: &FunctionDeclaration) -> String {
    match f.declaration.rollout {
        Some(_) => format!(
            "!Sub \"arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:${{AWS::StackName}}-{name}:{ROLLOUT_ALIAS}\"",
            name = f.name
        ),
        None => format!("!GetAtt {}.Arn", f.logical_id()),
    }
}

/// The template parameter turning the rollouts on, under `Parameters`, when a function has one.
pub(crate) fn rollout_parameter(functions: &[FunctionDeclaration]) -> String {
    let declared: Vec<String> = functions
        .iter()
        .filter_map(|f| {
            f.declaration
                .rollout
                .map(|r: Rollout| format!("{} {r}", f.name))
        })
        .collect();
    if declared.is_empty() {
        return String::new();
    }
    format!(
        r#"  {GRADUAL_ROLLOUT_PARAMETER}:
    Type: String
    AllowedValues: ["true", "false"]
    Default: "true"
    Description: "Whether the declared rollouts ({declared}) shift traffic through CodeDeploy; false deploys each new version at once (samconfig's local environment: LocalStack has no CodeDeploy)"
"#,
        declared = declared.join(", "),
    )
}
