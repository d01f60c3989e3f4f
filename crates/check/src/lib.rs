//! The offline checks of an eventrail application: the template's delivery and
//! least-privilege invariants ([`check_invariants`]), the lint findings over the catalog, the
//! declarations, the template and the samples ([`lint::lint`]), and the events' schema
//! compatibility against a baseline ([`compat`]). Checks read the model and report; they
//! change no file.

mod bus_policy;
mod checker;
pub mod compat;
mod feeds;
pub mod invariants;
mod limits;
pub mod lint;
pub mod metadata_rollout;
mod queues;
mod roles;
mod rollout;
mod statements;
mod triggers;
mod violation;

pub use invariants::{Violation, check_invariants};
