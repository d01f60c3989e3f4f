//! `eventrail studio`: one deployed stack in the browser.
//!
//! The studio binds `127.0.0.1` only, prints `studio: http://127.0.0.1:<port>/?token=<token>`
//! once it serves, and serves until Ctrl-C or SIGTERM; then it removes its tap (the
//! temporary rule and queue it reads the bus through, as `eventrail tail` does).
//!
//! - [`auth`](crate::auth): every request carries the run's random token (query or cookie);
//!   writes are POSTs from the studio's own pages (same origin) and allowed only when the
//!   environment is not read-only.
//! - the store: the last `--keep` events (100,000 by default) in the process's memory,
//!   indexed by id, correlation id, business key and detail-type, searched with filters and
//!   any EventBridge pattern; nothing is written to disk.
//! - live: the tap's events go into the store and, as HTML rows, to every open page
//!   (server-sent events on `/stream`).
//! - pages: HTML rendered on the server (maud), one layout; `assets/studio.js` (our own, no
//!   build step) inserts live rows.
//! - personal data: fields the catalog marks `x-personal` are masked in every view unless
//!   `--show-personal`.

mod assets;
mod auth;
mod error;
mod layout;
mod live;
mod mask;
mod messages;
mod pages;
mod prod;
mod rows;
mod server;
mod state;
mod store;
#[cfg(test)]
mod test_support;
mod token;

use std::path::PathBuf;

pub use error::StudioError;
pub use eventrail_model::System;
pub use eventrail_observe::Stack;
pub use store::DEFAULT_KEEP;

/// How the studio runs (`eventrail studio`'s options).
#[derive(Debug, Clone)]
pub struct Options {
    /// The environment's name as the user gave it (`local`, `dev`, `prod`): shown on every
    /// page; `prod` is read-only unless [`Writes::Allowed`] was asked for.
    pub env: String,
    /// The stack's name (shown on every page).
    pub stack_name: String,
    /// The port to bind on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// How many events the store keeps (the oldest go first).
    pub keep: usize,
    /// Whether writes (put, redrive, replay) were allowed on the command line.
    pub writes: WriteRequest,
    /// Whether personal fields are shown or masked.
    pub personal: Personal,
    /// Whether creating the tap on a prod bus needs a yes on the terminal.
    pub confirm: Confirm,
    /// A file of JSON lines, one EventBridge event each, loaded into the store before the
    /// tap starts (the benchmark's 100,000 events).
    pub preload: Option<PathBuf>,
}

/// What the command line asked for writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteRequest {
    /// The default: writes allowed, except on prod.
    Default,
    /// `--allow-writes`: writes allowed on prod too.
    Allow,
}

/// Whether the studio's write pages (put, redrive, replay) work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writes {
    /// The forms are shown and their POSTs run.
    Allowed,
    /// Forms hidden; POSTs answer 403 "read-only: start with --allow-writes".
    ReadOnly,
}

/// Personal fields (`x-personal` in the catalog's schemas).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Personal {
    /// Shown as `"•••"` everywhere (the default).
    #[default]
    Masked,
    /// `--show-personal`: shown as they are.
    Shown,
}

/// Whether to ask before creating the tap on a prod bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// Ask y/N on the terminal; refuse when there is none.
    Ask,
    /// `--yes`: do not ask.
    Yes,
}

/// Runs the studio for `stack` (deployed) and `system` (its application, read from the
/// project) until Ctrl-C or SIGTERM.
pub async fn run(options: Options, stack: Stack, system: System) -> Result<(), StudioError> {
    server::serve(options, stack, system).await
}
