//! The same hello world on the current-thread runtime, the flavour eventrail's functions use.

use lambda_runtime::{Error, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(coldstart_hello::handle)).await
}
