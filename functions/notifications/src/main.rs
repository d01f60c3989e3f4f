//! Lambda entry point of `notifications`; the logic lives in lib.rs.

use eventrail_runtime::idempotency::dynamodb::DynamoDbStore;
use eventrail_runtime::idempotency::{self, Idempotency, MemoryStore};
use eventrail_runtime::{LambdaError, config};
use notifications::{DryRunOutbox, Notifier, OUTBOX_URL_VAR, SqsOutbox};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), LambdaError> {
    let ttl = idempotency::ttl_from_env()?;
    if config::dry_run() {
        let idempotency = Idempotency::new(MemoryStore::new()).with_ttl(ttl);
        return eventrail_runtime::run_consumer(
            Notifier::new(DryRunOutbox, idempotency),
            eventrail_runtime::declaration!(),
        )
        .await;
    }
    let queue_url = config::require_var(
        OUTBOX_URL_VAR,
        "the SQS FIFO outbox queue customer messages go to",
    )?;
    let sdk = eventrail_runtime::aws_config().await;
    // Each SDK client's construction parses its crate's endpoint tables (BENCHMARKS.md,
    // section 7): the SQS client is built on a thread of its own beside the DynamoDB one.
    let sqs = {
        let sdk = sdk.clone();
        std::thread::spawn(move || aws_sdk_sqs::Client::new(&sdk))
    };
    let idempotency = Idempotency::new(DynamoDbStore::from_env(&sdk)?).with_ttl(ttl);
    let sqs = sqs
        .join()
        .map_err(|_| "building the SQS client failed (its thread panicked)")?;
    let outbox = SqsOutbox::new(sqs, queue_url);
    eventrail_runtime::run_consumer(
        Notifier::new(outbox, idempotency),
        eventrail_runtime::declaration!(),
    )
    .await
}
