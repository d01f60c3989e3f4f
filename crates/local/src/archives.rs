//! A LocalStack 4.13.1 workaround: its CloudFormation has no `AWS::Events::Archive`
//! provider, so the template skips the archive on the local stage (a `Condition`) and a deploy
//! creates it through the EventBridge API instead.

use std::collections::BTreeMap;

use eventrail_model::Template;

use crate::clients::Clients;
use crate::error::{Error, Result};
use crate::progress::Progress;

/// Creates the archives the stack skipped on this stage (`Condition` false: LocalStack
/// 4.13.1's CloudFormation has no `AWS::Events::Archive` provider) through the EventBridge
/// API, with the template's pattern and retention. Name and source bus come from the
/// `ArchiveName` and `EventBusArn` outputs. An archive that already exists is kept.
pub async fn ensure_archives_outside_stack(
    clients: &Clients,
    template: &Template,
    overrides: &BTreeMap<String, String>,
    outputs: &BTreeMap<String, String>,
    progress: Progress,
) -> Result<()> {
    let skipped: Vec<_> = template
        .archives()
        .iter()
        .filter(|a| a.condition.is_some())
        .collect();
    if skipped.is_empty() {
        return Ok(());
    }
    let output = |key: &str| {
        outputs.get(key).cloned().ok_or_else(|| {
            Error::Config(format!(
                "the stack has no output {key}; infra/template.yaml must output it so the harness \
                 can create the archive on the local stage"
            ))
        })
    };
    let name = output("ArchiveName")?;
    let source_arn = output("EventBusArn")?;
    let events = aws_sdk_eventbridge::Client::new(&clients.config);
    for archive in skipped {
        let retention = match &archive.retention_days {
            Some(eventrail_model::Setting::Literal(days)) => Some(*days),
            Some(eventrail_model::Setting::Parameter { name, default, .. }) => overrides
                .get(name)
                .and_then(|v| v.parse::<i64>().ok())
                .or(*default),
            _ => None,
        };
        let mut request = events
            .create_archive()
            .archive_name(&name)
            .event_source_arn(&source_arn)
            .description("created by the eventrail harness: LocalStack's CloudFormation has no archive provider");
        if let Some(pattern) = &archive.pattern {
            request = request.event_pattern(pattern.to_string());
        }
        if let Some(days) = retention.and_then(|d| i32::try_from(d).ok()) {
            request = request.retention_days(days);
        }
        match request.send().await {
            Ok(_) => {
                progress.report(|| {
                    format!(
                        "created archive {name} on {source_arn} ({} is skipped by the stack on this stage)",
                        archive.logical_id
                    )
                });
            }
            Err(e) => {
                let message = aws_sdk_eventbridge::error::DisplayErrorContext(&e).to_string();
                if !message.contains("ResourceAlreadyExists") {
                    return Err(clients.aws_error("events:CreateArchive", e));
                }
            }
        }
    }
    Ok(())
}
