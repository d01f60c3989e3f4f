//! `cargo xtask zips`: one release Lambda zip per function, arm64 by default, with sizes.

use anyhow::{Context, Result};
use eventrail_local::Installer;

use crate::step::{Step, cargo, function_crates, repo_root, run};

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
    let installed = Installer::new(&root).ensure_all()?;
    let path = installed.path_env();
    let functions = function_crates(&root)?;
    // Its own output folder, so these zips never replace the host-architecture ones that
    // the LocalStack deploy uploads from target/lambda/.
    let dir = root.join(if options.host {
        "target/lambda-host"
    } else {
        "target/lambda-arm64"
    });
    let step = Step::start("cargo lambda build --release --output-format zip");
    let mut command = cargo(&root, &path);
    command.args(["lambda", "build", "--release", "--output-format", "zip"]);
    command.arg("--lambda-dir").arg(&dir);
    if !options.host {
        command.arg("--arm64");
    }
    for function in &functions {
        command.args(["--package", function]);
    }
    run(&mut command)?;
    step.done();
    for function in &functions {
        let zip = dir.join(function).join("bootstrap.zip");
        let meta =
            std::fs::metadata(&zip).with_context(|| format!("no zip at {}", zip.display()))?;
        println!("{function:<16} {:>10} bytes  {}", meta.len(), zip.display());
    }
    Ok(())
}
