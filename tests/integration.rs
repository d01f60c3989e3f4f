//! The integration tests of the workspace, in one binary with a module per area (the AWS SDK,
//! the tools and the shop are linked once, not once per file).
//!
//! Tests that need LocalStack or cargo-lambda are `#[ignore]`d with the reason, so a plain
//! `cargo test` passes offline; `cargo xtask test` runs them all. `delivery`, `e2e`, `ops`,
//! `reliability`, `studio` and `triggers` run on the stack the test command deploys (its
//! `[stack]` lane).

mod architecture;
mod delivery;
mod deploy;
mod deploy_command;
mod e2e;
mod expectations;
mod faults;
mod graph;
mod iam;
mod idempotency_store;
mod lint;
mod local_invoke;
mod ops;
mod parity;
mod poison;
mod redeploy;
mod reliability;
mod rollout;
mod routing;
mod runtime_batch;
mod runtime_consumer;
mod runtime_http;
mod runtime_idempotency;
mod runtime_publisher;
mod runtime_schedule;
mod scaffold;
mod studio;
mod template;
mod traces;
mod triggers;
