//! Generation from the functions' declarations: the template's per-function part (function,
//! rule, role, queues, alarms, outputs) written between its marker lines, the bus policy and
//! the failed-events bucket, the routing index of the samples, and, through [`Generate`], the
//! files `eventrail infra generate` writes for an [`App`](eventrail_model::App).

mod files;
pub mod generate;

pub use eventrail_model::declared::GenerateError;
pub use files::{Generate, GeneratedFile, GeneratedKind};
pub use generate::{consumers_index, consumers_index_text, generate_template};
