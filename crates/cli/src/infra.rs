//! `eventrail infra generate`: writes the per-function part of the template and the routing
//! index from the functions' declarations.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use eventrail_generate::Generate;
use eventrail_model::{App, Project};

/// `eventrail infra ...`.
#[derive(Debug, Subcommand)]
pub enum InfraCommand {
    /// Regenerate the functions' resources and outputs in the template (between its
    /// "generated" markers) and the routing index, from functions/*/Cargo.toml.
    Generate(GenerateArgs),
}

/// Arguments of `eventrail infra generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Change nothing; exit 1 when a generated file is stale (for CI).
    #[arg(long)]
    check: bool,
    /// The project root (default: the workspace around the current folder).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
}

/// The project at `root`, or the one around the current folder.
pub fn project(root: Option<PathBuf>) -> Result<Project> {
    match root {
        Some(root) => Ok(Project::load(&root)?),
        None => {
            let here = std::env::current_dir().context("cannot read the current folder")?;
            Ok(Project::discover(here)?)
        }
    }
}

/// Runs `eventrail infra ...`.
pub fn run(command: InfraCommand) -> Result<ExitCode> {
    match command {
        InfraCommand::Generate(args) => generate(args),
    }
}

fn generate(args: GenerateArgs) -> Result<ExitCode> {
    let project = project(args.root)?;
    let app = App::load(&project.root)?;
    if args.check {
        let stale: Vec<_> = app
            .generated_files()?
            .into_iter()
            .filter(|f| f.stale)
            .collect();
        if stale.is_empty() {
            println!(
                "generated files are up to date ({} functions)",
                app.functions.len()
            );
            return Ok(ExitCode::SUCCESS);
        }
        for file in &stale {
            eprintln!("stale: {}", relative(&project, &file.path));
        }
        eprintln!("run `cargo run -p eventrail -- infra generate` and commit the result");
        return Ok(ExitCode::from(1));
    }
    for file in app.write_generated()? {
        let state = if file.stale { "updated" } else { "unchanged" };
        println!("{state:9} {}", relative(&project, &file.path));
    }
    Ok(ExitCode::SUCCESS)
}

/// `path` relative to the project root, for messages.
pub fn relative(project: &Project, path: &std::path::Path) -> String {
    path.strip_prefix(&project.root)
        .unwrap_or(path)
        .display()
        .to_string()
}
