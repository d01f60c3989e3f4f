//! The smallest Lambda function `lambda_runtime` allows: it answers every event with a fixed
//! JSON value. `cargo xtask coldstart` builds it with the release profile and measures its
//! cold start as the baseline the functions are compared with (the published floor for Rust).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn handle(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({ "message": "hello" }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handle)).await
}
