//! Local tooling for eventrail: pinned tool installs into `.eventrail/`, the LocalStack
//! supervisor, and deploys of `infra/template.yaml` to LocalStack. One job a module:
//!
//! * [`tools`]: idempotent installs of LocalStack (with the executor plugin from
//!   `infra/localstack-executor`), the IAM evaluator, cfn-lint, aws-sam-cli, cargo-lambda and
//!   zig, and the pinned cargo-nextest.
//! * [`localstack`]: start LocalStack on a free loopback port (or use the one named by
//!   `EVENTRAIL_ENDPOINT` / `AWS_ENDPOINT_URL`), wait for health, stop it without orphans;
//!   [`gateway`] asks its HTTP gateway, [`process`] reads and signals its process tree.
//! * [`iam`]: IAM enforcement in LocalStack: the evaluator's paths, its switch, the denials.
//! * [`concurrency`]: each function's in-flight and peak concurrent invocations, as the
//!   executor plugin counts them.
//! * [`deploy`]: a deploy in order: [`zips`] builds and zips the functions, [`upload`] puts
//!   them in S3, [`stack`] creates or updates the CloudFormation stack through [`clients`],
//!   [`archives`] works around LocalStack's missing archive provider; [`tally`] counts the
//!   stack's resources as they complete and reports a failure, [`summary`] is the screen a
//!   deploy ends with.
//! * [`changeset`]: a stack's change planned as a changeset (what is added, modified,
//!   replaced, removed), rendered for a person, then executed or discarded; on AWS or
//!   LocalStack.
//! * [`paths`], [`progress`], [`error`]: where things live, how progress is reported, what
//!   fails.

pub mod archives;
pub mod changeset;
pub mod clients;
pub mod concurrency;
pub mod deploy;
pub mod error;
pub mod gateway;
pub mod iam;
pub mod localstack;
pub mod paths;
pub mod process;
pub mod progress;
pub mod stack;
pub mod summary;
pub mod tally;
pub mod tools;
pub mod upload;
pub mod zips;

pub use deploy::{DeployOptions, Deployed};
pub use error::{Error, Result};
pub use localstack::{LocalStack, LocalStackOptions};
pub use progress::Progress;
pub use summary::{Place, Summary, local_rest_api_url};
pub use tools::{Installed, Installer};
