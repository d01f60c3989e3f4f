//! Lambda entry point of `notifications`; the logic lives in lib.rs.

use eventrail_runtime::idempotency::dynamodb::DynamoDbStore;
use eventrail_runtime::idempotency::{self, Idempotency, MemoryStore};
use eventrail_runtime::{LambdaError, config};
use notifications::{DryRunOutbox, Notifier, OUTBOX_URL_VAR, SqsOutbox};

#[tokio::main]
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
    let outbox = SqsOutbox::new(aws_sdk_sqs::Client::new(&sdk), queue_url);
    let idempotency = Idempotency::new(DynamoDbStore::from_env(&sdk)?).with_ttl(ttl);
    eventrail_runtime::run_consumer(
        Notifier::new(outbox, idempotency),
        eventrail_runtime::declaration!(),
    )
    .await
}
