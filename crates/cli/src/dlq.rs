//! `eventrail dlq list|show|redrive`: the deployed stack's failure queues (each function's
//! on-failure queue and its rule's delivery dead-letter queue; for a function an SQS queue
//! feeds, its failure queue is that queue's dead-letter queue). The logic is in
//! `eventrail_observe::dlq` and `eventrail_observe::redrive`.

use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Result;
use clap::{Args, Subcommand};
use eventrail_contract::FunctionDeclaration;
use eventrail_observe::dlq::{self, human_age};
use eventrail_observe::function_queues::{self, RedriveScope, declared, feeding_queue, queues_of};
use eventrail_observe::redrive;
use eventrail_observe::{CatalogCheck, FailureKind, FailureLayer, Stack};

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
                let scope = RedriveScope { max, id, dry_run };
                let request =
                    function_queues::redrive_request(&stack, &project, &catalog, &function, scope)?;
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
            let summary = function_queues::record_summary(message, declared);
            let redriven_by_sqs = summary.redriven_by_sqs;
            if json {
                let mut value = message.to_json(now);
                if redriven_by_sqs {
                    value["kind"] = summary.kind.into();
                    value["reason"] = summary.reason.clone().into();
                    value["attempts"] = summary.attempts.into();
                }
                println!("{}", serde_json::to_string(&value)?);
                continue;
            }
            println!(
                "── {} · {} · {}",
                record.message_id,
                queue.layer.describe(),
                summary.kind
            );
            println!("   reason:   {}", summary.reason);
            println!(
                "   attempts: {}   age: {}",
                summary
                    .attempts
                    .map_or_else(|| "?".to_owned(), |a| a.to_string()),
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
