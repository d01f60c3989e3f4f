//! Project automation. `cargo xtask test` is the README's test command: it installs what
//! the checks need (pinned, into `.eventrail/`), then runs every check and test, LocalStack
//! included, and stops what it started.
//!
//! One module a subcommand: [`test_command`] (`cargo xtask test`), [`zips`], [`unify`],
//! [`coldstart`], [`load`]; [`step`] holds what they share (a step's banner, running a command, the
//! repository's root and its functions).

mod coldstart;
#[cfg(test)]
mod doc_commands;
mod load;
mod step;
mod test_command;
mod unify;
mod zips;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "eventrail project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every check and test: fmt, clippy, template lint, executor plugin tests,
    /// release zips, LocalStack + deploy, unit and end-to-end tests.
    Test(test_command::TestOptions),
    /// Build one Lambda zip per function (arm64 by default, as deployed to AWS) and print
    /// their sizes.
    Zips(zips::ZipOptions),
    /// Regenerate crates/workspace-hack from the dependency graph, so the CLI, the functions
    /// and the tests share one compiled graph (`--check`: fail if it is stale).
    Unify(unify::UnifyOptions),
    /// Measure each function's cold start (init, first invocation, peak RSS) against a bare
    /// lambda_runtime hello world, release builds, fake Runtime API and AWS endpoint.
    Coldstart(coldstart::ColdstartOptions),
    /// Send a burst of requests to the HTTP producer on the local stack and follow each to the
    /// watched queue: counts, throughput, latency, the buffered consumers' peak concurrency.
    Load(load::LoadOptions),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    eventrail_local::progress::init();
    // Ctrl-C reaches the tools we run (same process group) and they stop; xtask itself stays
    // alive long enough to stop the LocalStack it started, which runs in its own group.
    let _ = ctrlc::set_handler(|| eprintln!("\nxtask: interrupted; cleaning up"));
    let result = match cli.command {
        Command::Test(options) => test_command::test(&options),
        Command::Zips(options) => zips::zips(&options),
        Command::Unify(options) => unify::command(&options),
        Command::Coldstart(options) => {
            step::repo_root().and_then(|root| coldstart::coldstart(&root, &options))
        }
        Command::Load(options) => step::repo_root().and_then(|root| load::load(&root, &options)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("\nxtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}
