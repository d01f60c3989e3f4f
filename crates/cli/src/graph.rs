//! `eventrail graph`: the whole flow (or the part around one event or function) as Mermaid,
//! Graphviz DOT or SVG, computed from the catalog, the declarations and the template's rules.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use eventrail_model::System;
use eventrail_views::flow::{Focus, Graph};

use crate::infra::project;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Mermaid `flowchart` (GitHub renders it in a ```mermaid block).
    Mermaid,
    /// Graphviz DOT (`dot -Tsvg` renders it).
    Dot,
    /// An SVG picture (rendered in-process, no Graphviz needed).
    Svg,
}

/// Arguments of `eventrail graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "mermaid")]
    format: Format,
    /// Only the part around this event (detail-type): who emits it, who receives it.
    #[arg(long, value_name = "DETAIL_TYPE", conflicts_with = "function")]
    event: Option<String>,
    /// Only the part around this function: what reaches it, what it emits, who receives that.
    #[arg(long, value_name = "NAME")]
    function: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The project root (default: the workspace around the current folder).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
}

/// Runs `eventrail graph`.
pub fn run(args: GraphArgs) -> Result<ExitCode> {
    let project = project(args.root)?;
    let system = System::load(&project.root)?;
    let focus = match (args.event, args.function) {
        (Some(event), _) => Focus::Event(event),
        (None, Some(function)) => Focus::Function(function),
        (None, None) => Focus::All,
    };
    let graph = Graph::build(&system, &focus)?;
    let text = match args.format {
        Format::Mermaid => graph.to_mermaid(),
        Format::Dot => graph.to_dot(),
        Format::Svg => graph.to_svg()?,
    };
    match args.out {
        Some(path) => {
            std::fs::write(&path, &text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
