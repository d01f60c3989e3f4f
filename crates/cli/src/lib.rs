//! `eventrail`: the command line of the eventrail toolkit, as a library so that tests can
//! check commands against its parser (`Cli::try_parse_from`) without running them.
//!
//! Each subcommand lives in its own module with an `Args`/command type and a `run`
//! function returning the process exit code; adding one is a module, an enum variant
//! and a match arm (and its name in the one-line description, which a test checks).

mod build;
mod catalog;
mod demo;
mod denials;
mod deploy;
mod dlq;
mod graph;
mod infra;
mod lint;
mod local;
mod migrate;
mod new;
mod ops;
mod pattern;
mod put;
mod replay;
mod routes;
mod studio;
mod tail;
mod trace;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The command line: `eventrail <command> ...`.
#[derive(Debug, Parser)]
#[command(name = "eventrail", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Test EventBridge event patterns offline.
    #[command(subcommand)]
    Pattern(pattern::PatternCommand),
    /// Show which functions receive each event, through which rule (reads the project's
    /// template).
    Routes(routes::RoutesArgs),
    /// Run the system on LocalStack without Docker: install, up, down, deploy, status, denials.
    #[command(subcommand)]
    Local(local::LocalCommand),
    /// Run the reference shop on LocalStack and show each order's flow as it happens.
    Demo(demo::DemoArgs),
    /// Scaffold a function (handler, test, declaration, template) or a catalog event.
    #[command(subcommand)]
    New(new::NewCommand),
    /// Move a function written with its own build.rs and main.rs to Cargo.toml + src/lib.rs.
    #[command(subcommand)]
    Migrate(migrate::MigrateCommand),
    /// Generate the template's per-function part from the functions' declarations.
    #[command(subcommand)]
    Infra(infra::InfraCommand),
    /// Draw the whole flow (or the part around one event or function): Mermaid, DOT or SVG.
    Graph(graph::GraphArgs),
    /// Check the catalog, declarations, template and samples together (exit 1 on findings);
    /// `--against <git-ref>` also checks schema compatibility.
    Lint(lint::LintArgs),
    /// Write the event catalog as Markdown: one page per event and an index.
    Catalog(catalog::CatalogArgs),
    /// Put events on the deployed stack's bus, checked against the catalog first (or send a
    /// command sample to the function that declares it).
    Put(put::PutArgs),
    /// Watch the deployed stack's bus live, through a temporary rule and queue.
    Tail(tail::TailArgs),
    /// The deployed stack's failure queues: list, show, redrive.
    Dlq(dlq::DlqArgs),
    /// Replay a window of the deployed stack's archive onto its bus.
    Replay(replay::ReplayArgs),
    /// Open the deployed stack in a browser: live flows, why (not), the system, dead
    /// letters, put and replay (127.0.0.1 only, with a token).
    Studio(studio::StudioArgs),
    /// Rebuild one flow from the functions' logs: a waterfall of its hops (`--json`,
    /// `--otlp-json FILE`).
    Trace(trace::TraceArgs),
    /// Build every function's release artifact for an environment's architecture, offline,
    /// and say which changed.
    Build(build::BuildArgs),
    /// Build, check against the deployed stack, review the changeset and deploy a samconfig
    /// environment (AWS, or LocalStack for `local`).
    Deploy(deploy::DeployArgs),
}

/// Runs one parsed command line; the process's exit code (2 on an error, which is printed).
pub fn run(cli: Cli) -> ExitCode {
    eventrail_local::progress::init();
    let outcome = match cli.command {
        Command::Pattern(command) => pattern::run(command),
        Command::Routes(args) => routes::run(args),
        Command::Local(command) => local::run(command),
        Command::Demo(args) => demo::run(args),
        Command::New(command) => new::run(command),
        Command::Migrate(command) => migrate::run(command),
        Command::Infra(command) => infra::run(command),
        Command::Graph(args) => graph::run(args),
        Command::Lint(args) => lint::run(args),
        Command::Catalog(args) => catalog::run(args),
        Command::Put(args) => put::run(args),
        Command::Tail(args) => tail::run(args),
        Command::Dlq(args) => dlq::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Studio(args) => studio::run(args),
        Command::Trace(args) => trace::run(args),
        Command::Build(args) => build::run(args),
        Command::Deploy(args) => deploy::run(args),
    };
    outcome.unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        ExitCode::from(2)
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn the_one_line_description_names_every_command() {
        let command = Cli::command();
        let about = command
            .get_about()
            .map(ToString::to_string)
            .unwrap_or_default();
        let words: Vec<&str> = about
            .split(|c: char| !(c.is_alphanumeric() || c == '-'))
            .collect();
        let missing: Vec<&str> = command
            .get_subcommands()
            .map(clap::Command::get_name)
            .filter(|name| !words.contains(name))
            .collect();
        assert!(
            missing.is_empty(),
            "the description (crates/cli/Cargo.toml) does not name {missing:?}: {about}"
        );
    }
}
