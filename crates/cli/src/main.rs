//! `eventrail`: the command line of the eventrail toolkit (the commands are in the library,
//! `src/lib.rs`).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    eventrail::run(eventrail::Cli::parse())
}
