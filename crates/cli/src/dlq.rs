//! `eventrail dlq list|show|redrive`: the deployed stack's failure queues (each function's
//! on-failure queue and its rule's delivery dead-letter queue). The logic is in
//! `eventrail_observe::dlq` and `eventrail_observe::redrive`.

use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use eventrail_contract::Project;
use eventrail_observe::dlq::{self, human_age};
use eventrail_observe::redrive::{self, Consumes, RedriveRequest};
use eventrail_observe::{CatalogCheck, FailureQueue, Stack};

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
    /// Per function, both failure layers (failure queue, delivery DLQ): messages and oldest age.
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
    /// (asynchronous invoke), delivery dead letters to the bus. A message is deleted only
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
            DlqCommand::List => list(&stack).await,
            DlqCommand::Show {
                function,
                max,
                json,
            } => show(&stack, &function, max, json).await,
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

/// What `function` consumes, from its declaration in the workspace and the catalog.
fn consumes_of(project: &Project, catalog: &CatalogCheck, function: &str) -> Result<Consumes> {
    let functions = project.functions()?;
    let Some(declared) = functions.iter().find(|f| f.name == function) else {
        bail!("function {function} is not declared in the workspace");
    };
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

async fn list(stack: &Stack) -> Result<ExitCode> {
    println!(
        "{:<16} {:<28} {:>8} {:>9}  oldest",
        "function", "queue", "messages", "in flight"
    );
    for queue in stack.outputs.failure_queues() {
        let summary = dlq::summarize(&stack.clients.sqs, &queue).await?;
        let oldest = match summary.oldest_age {
            Some(age) if summary.oldest_exact => human_age(age),
            Some(age) => format!("≥ {}", human_age(age)),
            None => "-".to_owned(),
        };
        println!(
            "{:<16} {:<28} {:>8} {:>9}  {oldest}",
            queue.function,
            queue.layer.describe(),
            summary.messages,
            summary.in_flight
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(stack: &Stack, function: &str, max: usize, json: bool) -> Result<ExitCode> {
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
            if json {
                println!("{}", serde_json::to_string(&message.to_json(now))?);
                continue;
            }
            let record = &message.record;
            println!(
                "── {} · {} · {}",
                record.message_id,
                queue.layer.describe(),
                record.kind_name()
            );
            println!(
                "   reason:   {}{}",
                record
                    .error_type()
                    .filter(|t| *t != "poison")
                    .map(|t| format!("{t}: "))
                    .unwrap_or_default(),
                record.reason()
            );
            println!(
                "   attempts: {}   age: {}",
                record
                    .attempts()
                    .map_or_else(|| "?".to_owned(), |a| a.to_string()),
                message.age(now).map_or_else(|| "?".to_owned(), human_age)
            );
            match (&message.stored_event_problem, record.event_text()) {
                (Some(problem), _) => println!("   event:    none ({problem})"),
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
