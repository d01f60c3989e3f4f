//! Generation from the functions' declarations: the template's per-function part (function,
//! rule, role, queues, alarms, outputs) written between its marker lines, the bus policy and
//! the failed-events bucket, the routing index of the samples, and, through [`Generate`], the
//! files `eventrail infra generate` writes for an [`App`](eventrail_model::App).
//!
//! Generation writes text and files; what the text must satisfy is `eventrail-check`'s.

mod alarms;
mod bus;
mod facts;
mod feeds;
mod files;
mod function;
mod http;
mod outputs;
mod queues;
mod rollout;
mod routing;
mod rule;
mod samconfig;
mod schedule;
mod template;
mod text;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod trigger_tests;

pub use eventrail_model::declared::GenerateError;
pub use feeds::{POLL_ACTIONS, VISIBILITY_TIMEOUT_FACTOR};
pub use files::{Generate, GeneratedFile, GeneratedKind, TRIGGERS_FILE, triggers_path};
pub use function::IDEMPOTENCY_ACTIONS;
pub use outputs::function_outputs;
pub use queues::MAX_MESSAGE_BYTES;
pub use routing::{consumers_index, consumers_index_text, triggers_index, triggers_index_text};
pub use samconfig::{
    LOCAL_ENVIRONMENT, LOCAL_GRADUAL_ROLLOUT, LOCAL_SCHEDULE, with_local_overrides,
    with_local_schedules,
};
pub use schedule::SCHEDULE_EVENT;
pub use template::{
    OUTPUTS_BEGIN, OUTPUTS_END, PARAMETERS_BEGIN, PARAMETERS_END, RESOURCES_BEGIN, RESOURCES_END,
    generate_template,
};
pub use text::canonical_json;
