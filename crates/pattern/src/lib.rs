//! EventBridge event patterns: parse, validate, compile and match, one rule or many.
//!
//! The pattern language is the one of Amazon EventBridge event buses: exact values
//! (strings, numbers, booleans, null, empty string), `prefix` and `suffix` (also with
//! `equals-ignore-case`), `equals-ignore-case`, `wildcard`, `anything-but` (values,
//! `prefix`, `suffix`, `equals-ignore-case`, `wildcard`), `numeric` ranges, `cidr`
//! (IPv4 and IPv6), `exists` and `$or`. Arrays in the event match when any element
//! matches; fields of one rule found inside the same array must come from the same
//! element; dotted keys (`"a.b"`) and nesting (`{"a": {"b": ...}}`) name the same
//! field; a missing field never matches `anything-but`.
//!
//! [`Pattern`] is one rule. [`RuleMachine`] compiles many rules into one machine over
//! sorted field paths so that matching cost follows the event's size, not the rule count.
//! [`Pattern::alternatives`] looks inside a pattern without an event (see [`Alternative`]):
//! what each alternative tests, whether a schema's values can satisfy it, a short form.

mod analysis;
mod cidr;
mod error;
mod flatten;
mod machine;
mod matcher;
mod numbers;
mod parse;
mod pattern;
mod reference;
mod value;
mod wildcard;

pub use analysis::{Alternative, Condition, Domain, FieldTest};
pub use error::{EventError, PatternError};
pub use machine::RuleMachine;
pub use pattern::Pattern;
