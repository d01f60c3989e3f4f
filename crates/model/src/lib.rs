//! Reads `infra/template.yaml` (AWS SAM / CloudFormation, short-form tags included) into
//! long-form JSON and a small typed model of what eventrail cares about: functions, their
//! EventBridge rules and targets, the REST API's routes, schedules and SQS mappings, queues,
//! alarms and outputs. It also reads `samconfig.toml`, the events' JSON schemas and the
//! application (its settings, the functions' declarations, the catalog), and joins them into
//! one [`System`] for the offline tools, which knows each function's trigger
//! ([`System::trigger`]).
//!
//! ```no_run
//! use eventrail_model::Template;
//!
//! let mut template = Template::load("infra/template.yaml")?;
//! for rule in template.rules() {
//!     println!("{} -> {:?}: {:?}", rule.logical_id,
//!              rule.target_functions().collect::<Vec<_>>(), rule.pattern);
//! }
//! // Deploying elsewhere: point every function at uploaded code and send the JSON.
//! template.set_code_uri("Planner", serde_json::json!("s3://bucket/planner.zip"))?;
//! let body: String = template.to_json_string();
//! # Ok::<(), eventrail_model::TemplateError>(())
//! ```

mod app;
pub mod declared;
mod error;
mod extract;
mod refs;
mod resources;
mod routes;
mod samconfig;
pub mod schema;
mod sources;
pub mod system;
mod template;
pub mod triggers;
mod yaml;

pub use app::{App, AppError};
pub use declared::{GenerateError, rule_pattern};
pub use error::TemplateError;
pub use eventrail_contract::{FunctionDeclaration, Project};
pub use refs::{direct_ref, references};
pub use resources::{
    Alarm, Archive, DeadLetter, Destination, EventInvokeConfig, Function, Output, Parameter,
    Permissions, Queue, QueuePolicy, RetryPolicy, RoleSource, Rule, RuleOrigin, Setting, Statement,
    Target,
};
pub use routes::{Route, Router};
pub use samconfig::{SamConfig, SamEnvironment, split_words};
pub use sources::{ApiRoute, QueueMapping, RestApi, Schedule};
pub use system::{FlowRule, System, SystemError};
pub use template::Template;
pub use triggers::{FunctionTrigger, HttpEntry, QueueEntry, ScheduleEntry};
pub use yaml::yaml_to_json;
