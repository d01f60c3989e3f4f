//! The canonical hello world: `#[tokio::main]` (a worker thread per CPU), as the published
//! floor is written; the logic is in lib.rs.

use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(coldstart_hello::handle)).await
}
