//! `eventrail dlq list|show|redrive`: the deployed stack's failure queues (each function's
//! on-failure queue and its rule's delivery dead-letter queue; for a function an SQS queue
//! feeds, its failure queue is that queue's dead-letter queue). The logic is in
//! `eventrail_observe::dlq` and `eventrail_observe::redrive`.

use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use eventrail_contract::declaration::logical_id;
use eventrail_contract::names::FunctionOutputs;
use eventrail_contract::{Delivery, FunctionDeclaration, Project, QueueSource, Trigger};
use eventrail_observe::dlq::{self, human_age};
use eventrail_observe::redrive::{self, Consumes, RedriveRequest, SendBack};
use eventrail_observe::{CatalogCheck, FailureKind, FailureLayer, FailureQueue, Stack};

use crate::ops::{StackArgs, runtime};

/// `eventrail dlq`.
#[derive(Debug, Args)]
pub struct DlqArgs {
    #[command(subcommand)]
    command: DlqCommand,
    #[command(flatten)]
    stack: StackArgs,
}

#[derive(Debug, Subcommand)]
enum DlqCommand {
    /// Per function, both failure layers (failure queue, delivery DLQ): messages and oldest age;
    /// for a buffered consumer or a queue-triggered function also the depth of the queue that
    /// feeds it (its failure queue is that queue's dead-letter queue).
    List,
    /// A function's failed records: kind, reason, attempts, age and the original event.
    /// Nothing is taken out of the queues.
    Show {
        /// The function (as declared: `gift-wrap`).
        function: String,
        /// At most this many records per queue.
        #[arg(long, default_value_t = 10)]
        max: usize,
        /// One JSON object per line, with the original event.
        #[arg(long)]
        json: bool,
    },
    /// Send a function's failed events through again: failure-queue records to the function
    /// (asynchronous invoke) or, for a buffered consumer, into its buffer queue (so its
    /// concurrency cap holds; never a direct invoke), for a queue-triggered function into its
    /// source queue; delivery dead letters to the bus. A message is deleted only
    /// after its redelivery was accepted; poison records that still fail the current catalog
    /// are left in place. A record whose event the function does not consume (its
    /// declaration's `consumes`), whose stored event lies outside the stack's failed-events
    /// bucket and the function's prefix, or that cannot be read, fails alone and stays queued;
    /// the exit status is 1 when any failed.
    Redrive {
        /// The function (as declared: `gift-wrap`).
        function: String,
        /// At most this many records.
        #[arg(long)]
        max: Option<usize>,
        /// Only the record with this SQS message id or event id.
        #[arg(long)]
        id: Option<String>,
        /// Say what would happen; send and delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Runs `eventrail dlq`.
pub fn run(args: DlqArgs) -> Result<ExitCode> {
    let runtime = runtime()?;
    runtime.block_on(async {
        let (stack, project) = args.stack.connect().await?;
        match args.command {
            DlqCommand::List => list(&stack, &project.functions()?).await,
            DlqCommand::Show {
                function,
                max,
                json,
            } => {
                let declared = declared(&project, &function)?;
                show(&stack, &declared, max, json).await
            }
            DlqCommand::Redrive {
                function,
                max,
                id,
                dry_run,
            } => {
                let catalog = CatalogCheck::load(&project)?;
                let request = RedriveRequest {
                    function_name: stack.outputs.function_name(&function)?.to_owned(),
                    bus_name: stack.outputs.bus_name()?.to_owned(),
                    queues: queues_of(&stack, &function)?,
                    send_back: send_back(&stack, &declared(&project, &function)?)?,
                    consumes: consumes_of(&project, &catalog, &function)?,
                    failed_events_bucket: stack
                        .outputs
                        .get("FailedEventsBucketName")
                        .ok()
                        .map(str::to_owned),
                    function,
                    max,
                    id,
                    dry_run,
                };
                let report =
                    redrive::redrive(&stack.clients, &request, |e| catalog.check(e)).await?;
                if report.entries.is_empty() {
                    println!(
                        "nothing to redrive: {}",
                        match &request.id {
                            Some(id) => format!("no record {id} in {}'s queues", request.function),
                            None => format!("{}'s queues are empty", request.function),
                        }
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                print!("{}", report.render(dry_run));
                Ok(if report.failed() > 0 {
                    ExitCode::from(1)
                } else {
                    ExitCode::SUCCESS
                })
            }
        }
    })
}

/// The declaration of `function` in the workspace.
fn declared(project: &Project, function: &str) -> Result<FunctionDeclaration> {
    let functions = project.functions()?;
    match functions.into_iter().find(|f| f.name == function) {
        Some(declared) => Ok(declared),
        None => bail!("function {function} is not declared in the workspace"),
    }
}

/// The queue that feeds an SQS-fed function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Feeding {
    /// A buffered consumer's buffer queue (its rule sends there).
    Buffer,
    /// A queue-triggered function's source queue.
    Source,
}

impl Feeding {
    fn label(self) -> &'static str {
        match self {
            Feeding::Buffer => "buffer queue (feeds it)",
            Feeding::Source => "source queue (feeds it)",
        }
    }
}

/// The queue that feeds a function and its URL (an error naming the missing stack output),
/// when one does.
fn feeding_queue(
    stack: &Stack,
    function: &FunctionDeclaration,
) -> Option<(Feeding, Result<String>)> {
    let id = logical_id(&function.name);
    let outputs = FunctionOutputs { logical_id: &id };
    let (feeding, key) = match function.declaration.trigger() {
        Trigger::Rule {
            delivery: Delivery::Queue,
        } => (Feeding::Buffer, outputs.buffer_queue_url()),
        Trigger::Queue(QueueSource::New | QueueSource::Existing(_)) => {
            (Feeding::Source, outputs.source_queue_url())
        }
        _ => return None,
    };
    let url = stack
        .outputs
        .get(&key)
        .map(str::to_owned)
        .map_err(anyhow::Error::from);
    Some((feeding, url))
}

/// Where a redrive sends the function's failure-queue records: into the queue that feeds it,
/// else to the function.
fn send_back(stack: &Stack, function: &FunctionDeclaration) -> Result<SendBack> {
    let Some((feeding, url)) = feeding_queue(stack, function) else {
        return Ok(SendBack::Invoke);
    };
    let url = url.with_context(|| {
        format!(
            "{}'s failed records go back into the queue that feeds it, but the stack does not \
             say where it is; redeploy the template",
            function.name
        )
    })?;
    Ok(match feeding {
        Feeding::Buffer => SendBack::BufferQueue { url },
        Feeding::Source => SendBack::SourceQueue { url },
    })
}

/// What `function` consumes, from its declaration in the workspace and the catalog.
fn consumes_of(project: &Project, catalog: &CatalogCheck, function: &str) -> Result<Consumes> {
    let declared = declared(project, function)?;
    Ok(Consumes::of(
        &declared.declaration,
        catalog.index(),
        &project.settings.source_prefix,
    ))
}

fn queues_of(stack: &Stack, function: &str) -> Result<Vec<FailureQueue>> {
    stack.outputs.declared_function(function)?;
    let queues: Vec<FailureQueue> = stack
        .outputs
        .failure_queues()
        .into_iter()
        .filter(|q| q.function == function)
        .collect();
    if queues.is_empty() {
        bail!(
            "the stack has no failure queue output for function {function} \
             (<Function>FailureQueueUrl / <Function>DeliveryDlqUrl); redeploy the template"
        );
    }
    Ok(queues)
}

async fn list(stack: &Stack, functions: &[FunctionDeclaration]) -> Result<ExitCode> {
    println!(
        "{:<16} {:<28} {:>8} {:>9}  oldest",
        "function", "queue", "messages", "in flight"
    );
    let queues = stack.outputs.failure_queues();
    let mut names: Vec<&str> = queues.iter().map(|q| q.function.as_str()).collect();
    names.dedup();
    for name in names {
        let declared = functions.iter().find(|f| f.name == name);
        let sqs_fed = declared.is_some_and(|f| f.declaration.trigger().is_sqs_fed());
        for queue in queues.iter().filter(|q| q.function == name) {
            let summary = dlq::summarize(&stack.clients.sqs, queue).await?;
            let oldest = match summary.oldest_age {
                Some(age) if summary.oldest_exact => human_age(age),
                Some(age) => format!("≥ {}", human_age(age)),
                None => "-".to_owned(),
            };
            let label = match (queue.layer, sqs_fed) {
                (FailureLayer::Function, true) => "failure queue (its queue's DLQ)",
                (layer, _) => layer.describe(),
            };
            println!(
                "{:<16} {:<28} {:>8} {:>9}  {oldest}",
                queue.function, label, summary.messages, summary.in_flight
            );
        }
        // The queue that feeds it: its depth only (receiving would count as a receive).
        if let Some(function) = declared
            && let Some(feeding) = feeding_queue(stack, function)
        {
            let (feeding, url) = feeding;
            match url {
                Ok(url) => {
                    let depth = redrive::depth(&stack.clients.sqs, &url).await?;
                    println!(
                        "{:<16} {:<28} {:>8} {:>9}  -",
                        name,
                        feeding.label(),
                        depth.messages,
                        depth.in_flight
                    );
                }
                Err(error) => println!("{name:<16} {:<28} unknown: {error:#}", feeding.label()),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(
    stack: &Stack,
    declared: &FunctionDeclaration,
    max: usize,
    json: bool,
) -> Result<ExitCode> {
    let function = declared.name.as_str();
    let max_receive_count = declared.declaration.batching().max_receive_count();
    let feed = redrive::Feed::of(&declared.declaration);
    let now = SystemTime::now();
    let mut total = 0;
    let s3 = eventrail_observe::stored::s3_client(&stack.clients.sdk_config);
    let stored = dlq::StoredEvents {
        s3: &s3,
        bucket: stack.outputs.get("FailedEventsBucketName").ok(),
    };
    for queue in queues_of(stack, function)? {
        let records =
            dlq::peek_with_stored_events(&stack.clients.sqs, Some(stored), &queue, max).await?;
        total += records.len();
        for message in &records {
            let record = &message.record;
            // A message SQS moved here by itself, after the last receive: no reason recorded.
            let redriven_by_sqs = redrive::redriven_by_sqs(record, feed);
            if json {
                let mut value = message.to_json(now);
                if redriven_by_sqs {
                    value["kind"] = redrive::kind_name(record, feed).into();
                    value["reason"] = redrive::sqs_redrive_reason(max_receive_count).into();
                    value["attempts"] = max_receive_count.into();
                }
                println!("{}", serde_json::to_string(&value)?);
                continue;
            }
            println!(
                "── {} · {} · {}",
                record.message_id,
                queue.layer.describe(),
                redrive::kind_name(record, feed)
            );
            let (reason, attempts) = if redriven_by_sqs {
                (
                    redrive::sqs_redrive_reason(max_receive_count),
                    Some(u64::from(max_receive_count)),
                )
            } else {
                (
                    format!(
                        "{}{}",
                        record
                            .error_type()
                            .filter(|t| *t != "poison")
                            .map(|t| format!("{t}: "))
                            .unwrap_or_default(),
                        record.reason()
                    ),
                    record.attempts(),
                )
            };
            println!("   reason:   {reason}");
            println!(
                "   attempts: {}   age: {}",
                attempts.map_or_else(|| "?".to_owned(), |a| a.to_string()),
                message.age(now).map_or_else(|| "?".to_owned(), human_age)
            );
            match (&message.stored_event_problem, record.event_text()) {
                (Some(problem), _) => println!("   event:    none ({problem})"),
                (None, Err(_)) if redriven_by_sqs => {
                    if let FailureKind::Unrecognised { body, .. } = &record.kind {
                        println!("   message:  {body}");
                    }
                }
                (None, Ok(event)) => println!(
                    "   event:\n{}",
                    event
                        .lines()
                        .map(|l| format!("     {l}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
                (None, Err(reason)) => println!("   event:    none ({reason})"),
            }
        }
    }
    if total == 0 && !json {
        println!("{function}'s failure queue and delivery dead-letter queue are empty");
    }
    Ok(ExitCode::SUCCESS)
}
