//! Lambda entry point of `notifications`; the logic lives in lib.rs.

use eventrail_runtime::{LambdaError, config};
use notifications::{DryRunOutbox, Notifier, OUTBOX_URL_VAR, SqsOutbox};

#[tokio::main]
async fn main() -> Result<(), LambdaError> {
    if config::dry_run() {
        return eventrail_runtime::run_consumer(
            Notifier::new(DryRunOutbox),
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
    eventrail_runtime::run_consumer(Notifier::new(outbox), eventrail_runtime::declaration!()).await
}
