//! Lambda entry point of `analytics`; the logic lives in lib.rs.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), eventrail_runtime::LambdaError> {
    eventrail_runtime::run_consumer(analytics::handle, eventrail_runtime::declaration!()).await
}
