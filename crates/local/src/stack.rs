//! Creating or updating a stack through LocalStack's CloudFormation (it runs the SAM
//! transform), printing stack events as they happen, and reading its outputs.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};

use crate::clients::{Clients, sdk_message};
use crate::error::{Error, Result};
use crate::progress::Progress;

/// How often a deploy reads its stack's events to print them (its status is read every half
/// second).
const STACK_EVENTS_EVERY: Duration = Duration::from_secs(3);

/// Parameters for the stack: the environment's overrides, with `Architecture` forced to
/// the host's (the functions run as host processes under the executor plugin).
pub fn stack_parameters(
    overrides: &BTreeMap<String, String>,
    declared: &BTreeSet<String>,
    architecture: &str,
) -> BTreeMap<String, String> {
    let mut parameters = overrides.clone();
    if declared.contains("Architecture") {
        parameters.insert("Architecture".to_owned(), architecture.to_owned());
    }
    parameters
}

/// The capabilities a deploy acknowledges: the samconfig environment's, else IAM and
/// auto-expand (the SAM transform is a macro).
pub fn capabilities(named: &[String]) -> Vec<Capability> {
    if named.is_empty() {
        vec![Capability::CapabilityIam, Capability::CapabilityAutoExpand]
    } else {
        named.iter().map(|c| Capability::from(c.as_str())).collect()
    }
}

/// The template a stack is created or updated from.
pub enum TemplateSource {
    /// Sent inline (`TemplateBody`).
    Body(String),
    /// Uploaded first and named by its URL (`TemplateURL`).
    Url(String),
}

/// What [`StackDeployment::create_or_update`] left.
#[derive(Debug, Clone)]
pub struct Applied {
    pub stack_id: String,
    pub status: String,
    /// False when the stack was already up to date.
    pub changed: bool,
}

/// What [`StackDeployment::wait`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaited {
    /// The stack's deletion: gone is done.
    Deletion,
    /// A creation or update: the stack must stay.
    Change,
}

/// One stack on LocalStack's CloudFormation.
pub struct StackDeployment<'a> {
    clients: &'a Clients,
    stack_name: &'a str,
    progress: Progress,
}

/// Statuses from which no progress will come.
fn is_terminal(status: &str) -> bool {
    !status.ends_with("_IN_PROGRESS")
}

/// Statuses that mean the requested change went through.
fn is_success(status: &str) -> bool {
    matches!(
        status,
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE"
    )
}

impl<'a> StackDeployment<'a> {
    pub fn new(clients: &'a Clients, stack_name: &'a str, progress: Progress) -> Self {
        Self {
            clients,
            stack_name,
            progress,
        }
    }

    /// Current status of the stack, or None when it does not exist.
    async fn status(&self) -> Result<Option<(String, String)>> {
        let cfn = self.clients.cloudformation();
        match cfn
            .describe_stacks()
            .stack_name(self.stack_name)
            .send()
            .await
        {
            Ok(output) => Ok(output.stacks().first().map(|s| {
                (
                    s.stack_id().unwrap_or_default().to_owned(),
                    s.stack_status()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                )
            })),
            Err(e) => {
                let message = sdk_message(&e);
                if message.contains("does not exist") {
                    Ok(None)
                } else {
                    Err(self.clients.aws_error("cloudformation:DescribeStacks", e))
                }
            }
        }
    }

    /// Creates the stack, or updates it when it exists (a stack whose creation failed is
    /// deleted and created again), and waits up to `timeout` for the change to end.
    pub async fn create_or_update(
        &self,
        source: &TemplateSource,
        parameters: &BTreeMap<String, String>,
        capabilities: &[Capability],
        timeout: Duration,
    ) -> Result<Applied> {
        let cfn = self.clients.cloudformation();
        let params: Vec<Parameter> = parameters
            .iter()
            .map(|(k, v)| {
                Parameter::builder()
                    .parameter_key(k)
                    .parameter_value(v)
                    .build()
            })
            .collect();
        let mut existing = self.status().await?;
        if let Some((_, status)) = &existing
            && (status == StackStatus::RollbackComplete.as_str()
                || status == StackStatus::RollbackFailed.as_str()
                || status == StackStatus::DeleteComplete.as_str())
        {
            // A stack whose creation failed cannot be updated: start over.
            self.progress.report(|| {
                format!(
                    "stack {} is {status}; deleting it before creating it again",
                    self.stack_name
                )
            });
            cfn.delete_stack()
                .stack_name(self.stack_name)
                .send()
                .await
                .map_err(|e| self.clients.aws_error("cloudformation:DeleteStack", e))?;
            self.wait(timeout, Instant::now(), Awaited::Deletion)
                .await?;
            existing = None;
        }
        let started = Instant::now();
        let stack_id = match existing {
            None => {
                self.progress
                    .report(|| format!("creating stack {}", self.stack_name));
                let mut request = cfn
                    .create_stack()
                    .stack_name(self.stack_name)
                    .set_parameters(Some(params))
                    .set_capabilities(Some(capabilities.to_vec()));
                request = match source {
                    TemplateSource::Body(body) => request.template_body(body),
                    TemplateSource::Url(url) => request.template_url(url),
                };
                request
                    .send()
                    .await
                    .map_err(|e| self.clients.aws_error("cloudformation:CreateStack", e))?
                    .stack_id()
                    .unwrap_or(self.stack_name)
                    .to_owned()
            }
            Some((id, status)) => {
                if !is_terminal(&status) {
                    return Err(Error::Deploy {
                        stack: self.stack_name.to_owned(),
                        message: format!(
                            "is {status}; wait for it to finish (or `eventrail local down` to start afresh)"
                        ),
                    });
                }
                self.progress
                    .report(|| format!("updating stack {} ({status})", self.stack_name));
                let mut request = cfn
                    .update_stack()
                    .stack_name(self.stack_name)
                    .set_parameters(Some(params))
                    .set_capabilities(Some(capabilities.to_vec()));
                request = match source {
                    TemplateSource::Body(body) => request.template_body(body),
                    TemplateSource::Url(url) => request.template_url(url),
                };
                match request.send().await {
                    Ok(_) => id,
                    Err(e) => {
                        let message = sdk_message(&e);
                        if message.contains("No updates are to be performed") {
                            self.progress
                                .report(|| format!("stack {} is up to date", self.stack_name));
                            return Ok(Applied {
                                stack_id: id,
                                status,
                                changed: false,
                            });
                        }
                        return Err(self.clients.aws_error("cloudformation:UpdateStack", e));
                    }
                }
            }
        };
        let status = self.wait(timeout, started, Awaited::Change).await?;
        if !is_success(&status) {
            let reasons = self.failure_reasons().await;
            return Err(Error::Deploy {
                stack: self.stack_name.to_owned(),
                message: format!(
                    "ended in {status}.\n{reasons}\nLocalStack's log has the details."
                ),
            });
        }
        Ok(Applied {
            stack_id,
            status,
            changed: true,
        })
    }

    /// Poll until the stack leaves *_IN_PROGRESS (every half second), printing each new stack
    /// event (read every [`STACK_EVENTS_EVERY`]).
    async fn wait(&self, timeout: Duration, started: Instant, awaited: Awaited) -> Result<String> {
        let deleting = awaited == Awaited::Deletion;
        let cfn = self.clients.cloudformation();
        let mut seen = BTreeSet::new();
        let mut events_read = Instant::now();
        // Events already there belong to earlier deploys.
        if let Ok(events) = cfn
            .describe_stack_events()
            .stack_name(self.stack_name)
            .send()
            .await
            && !deleting
        {
            for event in events.stack_events() {
                if let Some(id) = event.event_id() {
                    seen.insert(id.to_owned());
                }
            }
        }
        loop {
            let status = match self.status().await? {
                None if deleting => return Ok("DELETE_COMPLETE".to_owned()),
                None => {
                    return Err(Error::Deploy {
                        stack: self.stack_name.to_owned(),
                        message: "disappeared while deploying".to_owned(),
                    });
                }
                Some((_, status)) => status,
            };
            // Events are read every few seconds (and once more at the end): each read returns
            // every event of the stack (256 for the reference system, 126 KB), which LocalStack
            // serializes while its deploy thread waits on the same interpreter.
            let read_events = self.progress.is_shown()
                && (is_terminal(&status) || events_read.elapsed() >= STACK_EVENTS_EVERY);
            if read_events
                && let Ok(events) = cfn
                    .describe_stack_events()
                    .stack_name(self.stack_name)
                    .send()
                    .await
            {
                events_read = Instant::now();
                let mut new: Vec<_> = events
                    .stack_events()
                    .iter()
                    .filter(|e| e.event_id().is_some_and(|id| !seen.contains(id)))
                    .collect();
                new.reverse(); // oldest first
                for event in new {
                    if let Some(id) = event.event_id() {
                        seen.insert(id.to_owned());
                    }
                    tracing::info!(
                        "  {:>5.1}s  {:<20} {:<32} {}{}",
                        started.elapsed().as_secs_f64(),
                        event
                            .resource_status()
                            .map(|s| s.as_str())
                            .unwrap_or_default(),
                        event.resource_type().unwrap_or_default(),
                        event.logical_resource_id().unwrap_or_default(),
                        event
                            .resource_status_reason()
                            .map(|r| format!("  ({r})"))
                            .unwrap_or_default(),
                    );
                }
            }
            if is_terminal(&status) {
                return Ok(status);
            }
            if started.elapsed() > timeout {
                return Err(Error::Deploy {
                    stack: self.stack_name.to_owned(),
                    message: format!(
                        "still {status} after {} s; LocalStack's log may say what it waits for",
                        timeout.as_secs()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn failure_reasons(&self) -> String {
        let cfn = self.clients.cloudformation();
        let Ok(events) = cfn
            .describe_stack_events()
            .stack_name(self.stack_name)
            .send()
            .await
        else {
            return String::new();
        };
        events
            .stack_events()
            .iter()
            .filter(|e| {
                e.resource_status()
                    .is_some_and(|s| s.as_str().ends_with("_FAILED"))
            })
            .take(10)
            .map(|e| {
                format!(
                    "  {} {}: {}",
                    e.logical_resource_id().unwrap_or_default(),
                    e.resource_status().map(|s| s.as_str()).unwrap_or_default(),
                    e.resource_status_reason().unwrap_or("no reason given")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The stack's outputs by key.
    pub async fn outputs(&self) -> Result<BTreeMap<String, String>> {
        let cfn = self.clients.cloudformation();
        let output = cfn
            .describe_stacks()
            .stack_name(self.stack_name)
            .send()
            .await
            .map_err(|e| self.clients.aws_error("cloudformation:DescribeStacks", e))?;
        Ok(output
            .stacks()
            .first()
            .map(|stack| {
                stack
                    .outputs()
                    .iter()
                    .filter_map(|o| {
                        Some((o.output_key()?.to_owned(), o.output_value()?.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// Outputs of an existing stack (None when it does not exist).
pub async fn stack_outputs(
    endpoint: &str,
    region: &str,
    stack_name: &str,
) -> Result<Option<(String, BTreeMap<String, String>)>> {
    let clients = Clients::new(endpoint, region).await;
    let stack = StackDeployment::new(&clients, stack_name, Progress::Quiet);
    match stack.status().await? {
        None => Ok(None),
        Some((_, status)) => Ok(Some((status, stack.outputs().await?))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architecture_is_forced_to_the_host_only_when_declared() {
        let overrides = BTreeMap::from([
            ("Stage".to_owned(), "local".to_owned()),
            ("Architecture".to_owned(), "arm64".to_owned()),
        ]);
        let declared = BTreeSet::from(["Stage".to_owned(), "Architecture".to_owned()]);
        let p = stack_parameters(&overrides, &declared, "x86_64");
        assert_eq!(p["Architecture"], "x86_64");
        assert_eq!(p["Stage"], "local");
        let p = stack_parameters(&overrides, &BTreeSet::new(), "x86_64");
        assert_eq!(p["Architecture"], "arm64");
    }

    #[test]
    fn statuses() {
        assert!(is_terminal("CREATE_COMPLETE"));
        assert!(is_terminal("ROLLBACK_COMPLETE"));
        assert!(!is_terminal("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"));
        assert!(is_success("UPDATE_COMPLETE"));
        assert!(!is_success("UPDATE_ROLLBACK_COMPLETE"));
    }
}
