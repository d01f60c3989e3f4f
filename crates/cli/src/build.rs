//! `eventrail build`: every function's release artifact for an environment's architecture,
//! offline (no AWS call): one cargo-lambda build, deterministic zips, and which changed since
//! the build before. The first step of `eventrail deploy`, usable alone (CI).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Args;
use eventrail_deploy::artifacts::{
    Architecture, BuildOptions, BuildReport, build_artifacts, template_binaries,
};
use eventrail_local::{Installer, Progress};
use eventrail_model::{SamConfig, Template};

use crate::infra::project;
use crate::ops::samconfig_environment;

/// Arguments of `eventrail build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The samconfig.toml environment whose `Architecture` parameter to build for (`dev` is
    /// samconfig's `default`): arm64 for dev and prod, the host's for local.
    #[arg(long, default_value = "default", value_name = "ENV")]
    env: String,
    /// The report as JSON on standard output (the build's own output goes to standard error).
    #[arg(long)]
    json: bool,
    /// The project root (default: the workspace around the current folder).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
}

/// Runs `eventrail build`.
pub fn run(args: BuildArgs) -> Result<ExitCode> {
    let project = project(args.root)?;
    let root = &project.root;
    let template_path = project.template_path();
    let template = Template::load(&template_path)?;
    let samconfig_path = root.join("samconfig.toml");
    let environment = SamConfig::load(&samconfig_path)?
        .environment(samconfig_environment(&args.env))
        .with_context(|| format!("--env {}", args.env))?;
    let architecture = Architecture::of_environment(&environment, &template)
        .with_context(|| format!("{}: --env {}", samconfig_path.display(), args.env))?;
    let binaries = template_binaries(&template, &template_path)?;
    // cargo-lambda and zig, from the tools venv (installed on first use); LocalStack is not.
    let installed = Installer::new(root)
        .ensure_build_tools()
        .context("installing cargo-lambda and zig (`eventrail local install` does the same)")?;
    let options = BuildOptions {
        architecture,
        binaries,
        target_dir: None,
        progress: Progress::Shown,
    };
    let report = build_artifacts(root, &installed, &options)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", table(&report, root));
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per artifact (binary, size, short digest, change, path), then the count.
fn table(report: &BuildReport, root: &Path) -> String {
    let width = report
        .artifacts
        .iter()
        .map(|a| a.binary.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for artifact in &report.artifacts {
        let path = artifact.zip.strip_prefix(root).unwrap_or(&artifact.zip);
        out.push_str(&format!(
            "{:<width$}  {:>8.2} MiB  {}  {:<9}  {}\n",
            artifact.binary,
            artifact.bytes as f64 / (1024.0 * 1024.0),
            artifact.sha256.get(..12).unwrap_or(&artifact.sha256),
            artifact.change.word(),
            path.display(),
        ));
    }
    out.push_str(&format!(
        "{} of {} artifacts changed ({}) in {:.0} s\n",
        report.changed(),
        report.artifacts.len(),
        report.architecture,
        report.elapsed.as_secs_f64()
    ));
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use eventrail_deploy::artifacts::{Artifact, Change};

    use super::*;

    #[test]
    fn the_table_shows_each_artifact_and_the_count_of_changes() {
        let artifact = |binary: &str, change| Artifact {
            binary: binary.to_owned(),
            zip: PathBuf::from(format!("/p/target/lambda-arm64/{binary}/bootstrap.zip")),
            bytes: 3_670_016,
            sha256: "0123456789abcdef".repeat(4),
            change,
        };
        let report = BuildReport {
            architecture: Architecture::Arm64,
            artifacts: vec![
                artifact("alpha", Change::Changed),
                artifact("beta-two", Change::Unchanged),
            ],
            elapsed: Duration::from_secs(42),
        };
        let shown = table(&report, Path::new("/p"));
        assert_eq!(
            shown,
            "alpha         3.50 MiB  0123456789ab  changed    target/lambda-arm64/alpha/bootstrap.zip\n\
             beta-two      3.50 MiB  0123456789ab  unchanged  target/lambda-arm64/beta-two/bootstrap.zip\n\
             1 of 2 artifacts changed (arm64) in 42 s\n"
        );
    }
}
