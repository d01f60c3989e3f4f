//! Lambda entry point of `fraud`; the logic lives in lib.rs.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), eventrail_runtime::LambdaError> {
    eventrail_runtime::run_consumer(fraud::handle, eventrail_runtime::declaration!()).await
}
