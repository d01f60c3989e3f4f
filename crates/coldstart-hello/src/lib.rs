//! The smallest Lambda function `lambda_runtime` allows: it answers every event with a fixed
//! JSON value. `cargo xtask coldstart` builds it with the release profile and measures its
//! cold start as the baseline the functions are compared with (the published floor for Rust).
//!
//! Two binaries run it: `coldstart-hello`, the canonical hello world on `#[tokio::main]`'s
//! multi-threaded runtime (the floor the ratios are taken against), and
//! `coldstart-hello-current-thread`, the same on the current-thread runtime eventrail's
//! functions use, so a reader can see what the runtime's flavour alone is worth.

use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Value, json};

/// Answers every event with `{"message": "hello"}`.
pub async fn handle(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({ "message": "hello" }))
}
