//! `cargo xtask zips`: one release Lambda zip per function, arm64 by default, with sizes.
//! The build is `eventrail build`'s ([`eventrail_deploy::artifacts`]): one cargo-lambda run,
//! deterministic zips in `target/lambda-<arch>/`, which changed since the last build.

use anyhow::Result;
use eventrail_deploy::artifacts::{Architecture, BuildOptions, build_artifacts};
use eventrail_local::{Installer, Progress};

use crate::step::{Step, function_crates, repo_root};

/// Options of `cargo xtask zips`.
#[derive(Debug, clap::Args)]
pub struct ZipOptions {
    /// Build for the host's architecture instead of arm64.
    #[arg(long)]
    pub host: bool,
}

/// `cargo xtask zips`.
pub fn zips(options: &ZipOptions) -> Result<()> {
    let root = repo_root()?;
    let installed = Installer::new(&root).ensure_build_tools()?;
    let architecture = if options.host {
        Architecture::from_lambda_name(eventrail_local::zips::host_architecture())?
    } else {
        Architecture::Arm64
    };
    let step = Step::start("cargo lambda build --release, one zip per function");
    let report = build_artifacts(
        &root,
        &installed,
        &BuildOptions {
            architecture,
            binaries: function_crates(&root)?,
            target_dir: None,
            progress: Progress::Shown,
        },
    )?;
    step.done();
    for artifact in &report.artifacts {
        println!(
            "{:<16} {:>10} bytes  {:<9}  {}",
            artifact.binary,
            artifact.bytes,
            artifact.change.word(),
            artifact.zip.display()
        );
    }
    Ok(())
}
