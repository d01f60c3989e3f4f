//! The pages, one module each; every module has `routes()`, which the server merges.

pub(crate) mod catalog;
pub(crate) mod dlq;
pub(crate) mod event;
pub(crate) mod flow;
pub(crate) mod flows;
mod forms;
pub(crate) mod function;
pub(crate) mod put;
pub(crate) mod replay;
pub(crate) mod system;
#[cfg(test)]
mod testing;
pub(crate) mod why;
