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
//! [`Pattern::explain`] and [`Pattern::explain_json`] say why a pattern matched an event,
//! or the first field and operator that failed (see [`Explanation`]).
//!
//! # Limits
//!
//! Work and memory stay bounded on adversarial patterns and events; a limit is an error
//! that names it, never a panic:
//!
//! - a pattern's `$or` expands to at most 1,024 alternatives, a wildcard has at most 5
//!   `*`, and objects and `$or` branches nest at most 100 levels ([`PatternError`]);
//! - an event is read at most 128 levels deep ([`EventError::Json`] for bytes, the JSON
//!   reader's limit; [`EventError::TooDeep`] for a parsed value);
//! - fields of one rule in different arrays of the event cost the sum of the arrays'
//!   sizes, not their product: the machine forgets an array's chosen element once no
//!   condition ahead can look inside that array. The cases it cannot forget (one rule's
//!   fields interleaved across several arrays at the same path, made with dotted or
//!   repeated keys) are bounded by a step limit per event ([`DEFAULT_STEP_LIMIT`],
//!   [`RuleMachine::set_step_limit`], [`EventError::TooComplex`]);
//! - `anything-but` value lists are hashed (one lookup per leaf, whatever their length).
//!
//! The infallible [`Pattern::matches`] and [`RuleMachine::matching_rules`] treat an event
//! past a limit as matching nothing; the `try_` and `_json` forms return the error.

// The pattern language, one module per operator family: how its operand is read, how a
// leaf is compared with it, and its index in the machine.
mod affix;
mod anything_but;
mod cidr;
mod exact;
mod exists;
mod ignore_case;
mod numeric;
mod wildcard;

// Reading a pattern: where the parser stands, the structure ($or, nesting), the union of
// the operators.
mod matcher;
mod parse;
mod place;

// Reading an event: the path index, the flattener (parsed values and serde_json), the
// byte reader.
mod flatten;
mod json_bytes;
mod paths;
mod scan;
mod trie;

// The machine: many rules in one, its transitions, its per-event work lists.
mod machine;
mod scratch;
mod transitions;

// One pattern, looking inside it without an event, and the reference evaluator the
// machine is cross-checked against.
mod analysis;
mod pattern;
mod reference;

// Why a pattern matched an event or did not: the typed explanation, its search over the
// event's leaves, its words.
mod explain;
mod explain_search;
mod explain_words;

// Shared: the texts-by-length table of the indexes, errors, ids, numbers as written,
// event leaf values.
mod affix_table;
mod error;
mod ids;
mod numbers;
mod value;

pub use analysis::{Alternative, Condition, Domain, FieldTest};
pub use error::{EventError, PatternError};
pub use explain::{
    AlternativeExplanation, AlternativeOutcome, Explanation, FailureReason, FieldFailure,
    FieldMatch,
};
pub use explain_words::EventValue;
pub use machine::{DEFAULT_STEP_LIMIT, RuleMachine};
pub use pattern::Pattern;
