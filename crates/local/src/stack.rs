//! Creating or updating a stack through LocalStack's CloudFormation (it runs the SAM
//! transform), counting its resources as they complete (every stack event with
//! [`Progress::Verbose`]), reporting a failure's first failed resource, and reading its
//! outputs.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus, TemplateStage};

use crate::clients::{Clients, sdk_message};
use crate::error::{Error, Result};
use crate::progress::{Meter, Output, Progress};
use crate::tally::{StackEvent, Tally};

/// Most pages of stack events one read goes back (100 events a page on AWS): more than a
/// deploy of hundreds of resources and its rollback write between two reads.
const EVENT_PAGES: usize = 50;

/// How often a deploy reads its stack's events to count them (its status is read every half
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
pub(crate) enum Awaited {
    /// The stack's deletion: gone is done.
    Deletion,
    /// Its creation: the stack must stay; its resources are counted against the processed
    /// template's.
    Creation,
    /// An update: the stack must stay; the resources it touches are counted.
    Update,
}

/// One stack on LocalStack's CloudFormation (or AWS's: see [`Clients::from_sdk_config`]).
pub struct StackDeployment<'a> {
    pub(crate) clients: &'a Clients,
    pub(crate) stack_name: &'a str,
    pub(crate) progress: Progress,
}

/// Statuses from which no progress will come.
pub(crate) fn is_terminal(status: &str) -> bool {
    !status.ends_with("_IN_PROGRESS")
}

/// Statuses that mean the requested change went through.
pub(crate) fn is_success(status: &str) -> bool {
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

    /// Current status of the stack (its id and status), or None when it does not exist.
    pub(crate) async fn status(&self) -> Result<Option<(String, String)>> {
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
            && self.start_over(status, timeout).await?
        {
            existing = None;
        }
        let mut tally = Tally::new(self.stack_name);
        if existing.is_some() {
            // Events already there belong to earlier deploys.
            for event in self.events().await {
                tally.skip(&event.id);
            }
        }
        let started = Instant::now();
        let (stack_id, awaited) = match existing {
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
                let stack_id = request
                    .send()
                    .await
                    .map_err(|e| self.clients.aws_error("cloudformation:CreateStack", e))?
                    .stack_id()
                    .unwrap_or(self.stack_name)
                    .to_owned();
                (stack_id, Awaited::Creation)
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
                    Ok(_) => (id, Awaited::Update),
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
        let status = self.wait(timeout, started, awaited, &mut tally).await?;
        self.ended(stack_id, status, &mut tally).await
    }

    /// What a change that ended in `status` applied; when it failed, the error names the first
    /// failed resource, its reason and the rollback's outcome.
    pub(crate) async fn ended(
        &self,
        stack_id: String,
        status: String,
        tally: &mut Tally,
    ) -> Result<Applied> {
        if !is_success(&status) {
            // The last events (all of them when progress is quiet).
            for event in self.new_events(tally).await {
                tally.observe(event);
            }
            let failure = tally.failure(&status);
            let details = if self.clients.is_custom_endpoint() {
                "LocalStack's log has the details."
            } else {
                "The stack's events (CloudFormation console or `aws cloudformation describe-stack-events`) have the details."
            };
            return Err(Error::Deploy {
                stack: self.stack_name.to_owned(),
                message: format!("ended in {status}\n{failure}\n{details}"),
            });
        }
        Ok(Applied {
            stack_id,
            status,
            changed: true,
        })
    }

    /// Deletes the stack when its `status` says its creation failed (such a stack cannot be
    /// updated, only created again; `CREATE_FAILED` is a creation that was not rolled back,
    /// and how LocalStack 4.13.1's CreateStack ends one), waiting up to `timeout`; true when
    /// it did.
    pub(crate) async fn start_over(&self, status: &str, timeout: Duration) -> Result<bool> {
        if status != StackStatus::RollbackComplete.as_str()
            && status != StackStatus::RollbackFailed.as_str()
            && status != StackStatus::CreateFailed.as_str()
            && status != StackStatus::DeleteComplete.as_str()
        {
            return Ok(false);
        }
        self.progress.report(|| {
            format!(
                "stack {} is {status}; deleting it before creating it again",
                self.stack_name
            )
        });
        self.clients
            .cloudformation()
            .delete_stack()
            .stack_name(self.stack_name)
            .send()
            .await
            .map_err(|e| self.clients.aws_error("cloudformation:DeleteStack", e))?;
        let deleted = self
            .wait(
                timeout,
                Instant::now(),
                Awaited::Deletion,
                &mut Tally::new(self.stack_name),
            )
            .await?;
        if deleted != StackStatus::DeleteComplete.as_str() {
            // Creating it again would only be refused: the stack is still there.
            return Err(Error::Deploy {
                stack: self.stack_name.to_owned(),
                message: format!(
                    "was {status} and its deletion ended in {deleted}; delete it yourself \
                     (retaining the resources it names), then deploy again"
                ),
            });
        }
        Ok(true)
    }

    /// Poll until the stack leaves *_IN_PROGRESS (every half second), counting its resources
    /// as they complete from the stack events (read every [`STACK_EVENTS_EVERY`]) that `tally`
    /// has not seen.
    pub(crate) async fn wait(
        &self,
        timeout: Duration,
        started: Instant,
        awaited: Awaited,
        tally: &mut Tally,
    ) -> Result<String> {
        let deleting = awaited == Awaited::Deletion;
        let mut meter = Meter::start(
            if deleting { "delete" } else { "stack" },
            self.progress,
            Output::of_stderr(),
        );
        let mut events_read = Instant::now();
        loop {
            let status = match self.status().await? {
                None if deleting => {
                    meter.finish(|| format!("stack {} deleted", self.stack_name));
                    return Ok("DELETE_COMPLETE".to_owned());
                }
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
            if read_events {
                events_read = Instant::now();
                // The processed template is there once the transform ran (not yet when
                // CreateStack answers).
                if awaited == Awaited::Creation
                    && !tally.expects_a_count()
                    && let Some(resources) = self.processed_resources().await
                {
                    tally.expect(resources);
                }
                for event in self.new_events(tally).await {
                    let line = event.line(started.elapsed().as_secs_f64());
                    if tally.observe(event) {
                        meter.line(|| line);
                    }
                }
                meter.update(tally.done(), tally.total());
            }
            if is_terminal(&status) {
                tally.settle();
                let step = meter.step();
                let (done, total) = (tally.done(), tally.total());
                meter.finish(|| format!("{step} {done}/{total} {status}"));
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

    /// The stack's newest events (CloudFormation's first page: 100 on AWS), oldest first;
    /// none when they cannot be read (they only inform). What a deploy skips as an earlier
    /// deploy's before it starts.
    pub(crate) async fn events(&self) -> Vec<StackEvent> {
        self.events_back_to(|_| true).await
    }

    /// The stack's events that `tally` has not seen, oldest first: pages back from the newest
    /// until a page holds one it has seen (AWS answers 100 a page, newest first, so the first
    /// failure of a large deploy can be pages back once its rollback has run).
    pub(crate) async fn new_events(&self, tally: &Tally) -> Vec<StackEvent> {
        let mut events = self.events_back_to(|id| tally.has_seen(id)).await;
        events.retain(|event| !tally.has_seen(&event.id));
        events
    }

    /// Events page by page from the newest, until a page holds an event `known` names (or
    /// [`EVENT_PAGES`] pages), oldest first.
    async fn events_back_to(&self, known: impl Fn(&str) -> bool) -> Vec<StackEvent> {
        let cfn = self.clients.cloudformation();
        let mut events: Vec<StackEvent> = Vec::new();
        let mut next_token: Option<String> = None;
        for _ in 0..EVENT_PAGES {
            let Ok(output) = cfn
                .describe_stack_events()
                .stack_name(self.stack_name)
                .set_next_token(next_token.take())
                .send()
                .await
            else {
                break;
            };
            let page: Vec<StackEvent> = output
                .stack_events()
                .iter()
                .filter_map(|e| {
                    Some(StackEvent {
                        id: e.event_id()?.to_owned(),
                        logical_id: e.logical_resource_id().unwrap_or_default().to_owned(),
                        resource_type: e.resource_type().unwrap_or_default().to_owned(),
                        status: e
                            .resource_status()
                            .map(|s| s.as_str().to_owned())
                            .unwrap_or_default(),
                        reason: e.resource_status_reason().map(str::to_owned),
                    })
                })
                .collect();
            let reached_known = page.iter().any(|event| known(&event.id));
            events.extend(page);
            match output.next_token() {
                Some(token) if !reached_known && !token.is_empty() => {
                    next_token = Some(token.to_owned());
                }
                _ => break,
            }
        }
        events.reverse(); // read newest first
        events
    }

    /// How many resources the stack's template has after the SAM transform, when
    /// CloudFormation can tell (the total of the stack step's count).
    async fn processed_resources(&self) -> Option<usize> {
        let output = self
            .clients
            .cloudformation()
            .get_template()
            .stack_name(self.stack_name)
            .template_stage(TemplateStage::Processed)
            .send()
            .await
            .ok()?;
        let body: serde_json::Value = serde_json::from_str(output.template_body()?).ok()?;
        let resources = body.get("Resources")?.as_object()?;
        let transformed = !resources.values().any(|resource| {
            resource
                .get("Type")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|kind| kind.starts_with("AWS::Serverless::"))
        });
        // Until the transform ran, LocalStack answers with the template as sent.
        transformed.then_some(resources.len())
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
