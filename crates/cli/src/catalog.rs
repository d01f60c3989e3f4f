//! `eventrail catalog`: writes the event catalog as Markdown, one page per event and an index.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use eventrail_model::System;
use eventrail_views::catalog_docs::catalog_pages;

use crate::infra::{project, relative};

/// Arguments of `eventrail catalog`.
#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// Where to write the pages (default: target/eventrail-catalog under the project root).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The project root (default: the workspace around the current folder).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
}

/// Runs `eventrail catalog`.
pub fn run(args: CatalogArgs) -> Result<ExitCode> {
    let project = project(args.root)?;
    let system = System::load(&project.root)?;
    let out = args
        .out
        .unwrap_or_else(|| project.root.join("target/eventrail-catalog"));
    let pages = catalog_pages(&system)?;
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    for page in &pages {
        let path = out.join(&page.file);
        std::fs::write(&path, &page.text)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!(
        "wrote {} pages ({} events and index.md) to {}",
        pages.len(),
        pages.len().saturating_sub(1),
        relative(&project, &out)
    );
    Ok(ExitCode::SUCCESS)
}
