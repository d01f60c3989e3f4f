//! Local tooling for eventrail: pinned tool installs into `.eventrail/`, the LocalStack
//! supervisor, and deploys of `infra/template.yaml` to LocalStack.
//!
//! * [`tools`]: idempotent installs of LocalStack (with the executor plugin from
//!   `infra/localstack-executor`) and of cfn-lint, aws-sam-cli, cargo-lambda and zig.
//! * [`localstack`]: start LocalStack on a free loopback port (or use the one named by
//!   `EVENTRAIL_ENDPOINT` / `AWS_ENDPOINT_URL`), wait for health, stop it without orphans.

pub mod deploy;
pub mod error;
pub mod iam;
pub mod localstack;
pub mod paths;
pub mod progress;
pub mod tools;

pub use deploy::{DeployOptions, Deployed};
pub use error::{Error, Result};
pub use localstack::{LocalStack, LocalStackOptions};
pub use tools::{Installed, Installer};
