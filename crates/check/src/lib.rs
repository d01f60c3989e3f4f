//! The offline checks of an eventrail application: the template's delivery and
//! least-privilege invariants ([`check_invariants`]), the lint findings over the catalog, the
//! declarations, the template and the samples ([`lint::lint`]), and the events' schema
//! compatibility against a baseline ([`compat`]). Checks read the model and report; they
//! change no file.

pub mod compat;
pub mod invariants;
pub mod lint;

pub use invariants::{Violation, check_invariants};
