//! Pictures and pages of an eventrail application, drawn from its [`System`] model: the flow
//! graph (commands, HTTP routes, schedules and queues, producers, events, rules, buffers,
//! functions, failure queues) as Mermaid, Graphviz DOT or SVG, the graph embedded between
//! markers in the project's Markdown files, and the event catalog as Markdown pages. Views
//! only read the model; they change no file.
//!
//! [`System`]: eventrail_model::System

pub mod catalog_docs;
pub mod docs;
mod dot;
pub mod flow;
mod graph;
mod mermaid;
mod svg;

pub use catalog_docs::{Page, catalog_pages};
pub use flow::{Focus, Graph};
pub use svg::SvgError;
