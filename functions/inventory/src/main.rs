//! Lambda entry point of `inventory`; the logic lives in lib.rs.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), eventrail_runtime::LambdaError> {
    eventrail_runtime::run_consumer(inventory::handle, eventrail_runtime::declaration!()).await
}
