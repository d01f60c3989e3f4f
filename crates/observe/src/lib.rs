//! Watch what a deployed eventrail stack does, for the demo and the end-to-end tests.
//!
//! - [`Stack`]: the stack's outputs (read from the file `cargo xtask test` writes, or given
//!   by the deploy) and clients; invokes functions, puts events, replays the archive. Function
//!   names come from the application's declarations (`eventrail_contract::Project`).
//! - [`Tap`]: a catch-all rule (`{"source":[{"prefix":"<the app's source prefix>"}]}`) on the bus whose
//!   target is an SQS queue the tap creates, with a queue policy that lets only that rule
//!   send; every application event can then be read back.
//! - [`Flow`]: the events of one correlation id in causal order (causation id -> parent).
//! - [`FailureRecord`]: failure queue messages decoded: poison dead letters, Lambda
//!   on-failure records, EventBridge delivery dead letters. [`WatchedMessage`]: a message of
//!   a queue the app declares watched (`[[workspace.metadata.eventrail.watch]]`).
//! - [`Watch`]: follows flows across the tap, the watched queues and every failure queue;
//!   the shared queues are read without stealing other readers' messages.
//! - [`demo`]: the demo an app declares (`eventrail demo` runs it).
//! - [`render`]: the text people read (the demo prints it, failing tests show it).
//!
//! For operating a deployed system (the `eventrail` commands `put`, `tail`, `dlq`, `replay`):
//! - [`Stack::deployed`]: the stack found through the standard SDK configuration
//!   ([`Connection`]) and its CloudFormation outputs.
//! - [`CatalogCheck`]: an event checked against the current catalog's schemas.
//! - [`Tail`]: a temporary tap with a lease; stale ones of killed runs are removed.
//! - [`dlq`]: failure queues at a glance and their records peeked without taking them;
//!   [`FailureRecord::original_event`] is the one place the original event is read.
//! - [`redrive`]: the redrive engine (delete only after the redelivery was accepted), over
//!   the [`RedriveClient`] trait; an SQS-fed function's records go back into its queue.
//! - [`put`]: a document read as events or a command and checked, as `eventrail put` does.
//! - [`replay`]: an archive window replayed to the bus or one function's rules, refused when it
//!   would run expired events' side effects again.
//! - [`function_queues`]: a function's failure, delivery and feeding queues, and the redrive
//!   request built from them (`eventrail dlq` and the studio share it).
//! - [`fire`]: a scheduled function invoked now with the payload its schedule sends
//!   (`eventrail local fire`).
//! - [`trace`]: one flow rebuilt from the span lines in the functions' logs (`eventrail trace`).

pub mod aws;
mod bus;
mod catalog;
pub mod demo;
mod deployed;
pub mod dlq;
mod error;
mod event;
mod failure;
pub mod fire;
mod flow;
pub mod function_queues;
pub mod json;
mod outputs;
pub mod put;
pub mod redrive;
pub mod render;
pub mod replay;
mod report;
mod stack;
pub mod stored;
mod tail;
mod tap;
pub mod trace;
mod watch;
mod watched;

pub use aws::Clients;
pub use bus::{BusEvent, put_envelope};
pub use catalog::CatalogCheck;
pub use deployed::{Connection, stack_outputs};
pub use dlq::{DeadLetterMessage, QueueSummary};
pub use error::{ObserveError, Result};
pub use event::ObservedEvent;
pub use eventrail_model::Router;
pub use failure::{DeliveryFailure, FailureKind, FailureRecord, HandlerFailure};
pub use flow::{CausalStep, Flow, FlowProblem, group_by_correlation};
pub use outputs::{ENDPOINT_VAR, FailureLayer, FailureQueue, OUTPUTS_VAR, StackOutputs};
pub use redrive::{RedriveClient, RedriveOutcome, RedriveReport, RedriveRequest};
pub use report::FlowReport;
pub use stack::{ReplayOutcome, ReplayStatus, Stack};
pub use tail::{TAIL_PREFIX, Tail, clean_stale_tails, tail_pattern};
pub use tap::{Tap, catch_all_pattern};
pub use watch::{Progress, Watch};
pub use watched::{MessageBody, WatchedMessage, WatchedQueueUrl};
