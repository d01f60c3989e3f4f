//! Lambda entry point of `orders`; the logic lives in lib.rs.

use std::sync::Arc;

use eventrail_runtime::{
    EventBridgePutEvents, LambdaError, Publisher, RuntimeConfig,
    lambda_runtime::{self, LambdaEvent, service_fn},
};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), LambdaError> {
    eventrail_runtime::prepare_publisher_client();
    eventrail_runtime::logging::init();
    // The producer answers its caller (an invalid command is an error to the caller): its
    // declaration (invoke = "direct") asks for the bus but no dead-letter queue.
    let declaration = eventrail_runtime::declaration!().declaration()?;
    let config = RuntimeConfig::from_env(&declaration)?;
    let publisher = match &config.bus_name {
        Some(bus) if !config.dry_run => {
            let sdk = eventrail_runtime::aws_config().await;
            Some(Publisher::new(
                EventBridgePutEvents(aws_sdk_eventbridge::Client::new(&sdk)),
                bus.clone(),
            ))
        }
        _ => None,
    };
    let publisher = Arc::new(publisher);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let publisher = Arc::clone(&publisher);
        // Lambda stops the invocation at its deadline: publishing ends before it, so the
        // caller gets the error rather than a timeout.
        let deadline = event.context.deadline();
        async move {
            orders::place_order_before(publisher.as_ref().as_ref(), event.payload, Some(deadline))
                .await
        }
    }))
    .await
}
