//! What every command of xtask does: a step's banner and its time, commands run with their
//! failure named, cargo without the variables of `cargo xtask`'s own run, the repository's
//! root and its functions.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{Context, Result, bail};

/// Prints a step's banner and, when it ends, how long it took.
pub struct Step {
    name: String,
    started: Instant,
}

impl Step {
    pub fn start(name: &str) -> Self {
        eprintln!("\n==> {name}");
        Self {
            name: name.to_owned(),
            started: Instant::now(),
        }
    }

    pub fn done(self) {
        eprintln!(
            "<== {} ({:.1}s)",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
    }
}

pub fn repo_root() -> Result<PathBuf> {
    eventrail_local::paths::repo_root().context("finding the repository root")
}

/// Runs `command`, streaming its output; fails naming the command when it fails.
pub fn run(command: &mut Command) -> Result<()> {
    let shown = format!("{command:?}");
    let status = command
        .status()
        .with_context(|| format!("could not start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

pub fn cargo(root: &Path, path: &OsString) -> Command {
    // Without the variables `cargo xtask` (a `cargo run`) set for xtask: see
    // `clear_package_env`.
    let mut command = eventrail_local::tools::cargo_command();
    command.current_dir(root).env("PATH", path);
    command
}

/// The crates under `functions/`, sorted.
pub fn function_crates(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("functions");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every package of the workspace inherits its `rust-version`, so cargo refuses a too-old
    /// toolchain before compiling anything, whichever package a command builds first, with
    /// "rustc X is not supported by the following packages: ... requires rustc 1.95".
    #[test]
    fn every_package_requires_the_workspace_s_rust_version() {
        let root = repo_root().expect("the repository root");
        let manifest =
            std::fs::read_to_string(root.join("Cargo.toml")).expect("the workspace's Cargo.toml");
        let wanted = manifest
            .lines()
            .find_map(|line| line.trim().strip_prefix("rust-version = "))
            .map(|value| value.trim_matches('"').to_owned())
            .expect("[workspace.package] rust-version");
        let output = eventrail_local::tools::cargo_command()
            .current_dir(&root)
            .args(["metadata", "--no-deps", "--format-version", "1"])
            .output()
            .expect("cargo metadata");
        assert!(output.status.success(), "cargo metadata failed");
        let metadata: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("cargo metadata's JSON");
        let packages = metadata["packages"].as_array().expect("packages");
        assert!(packages.len() > 10, "too few packages: {}", packages.len());
        let without: Vec<&str> = packages
            .iter()
            .filter(|package| package["rust_version"].as_str() != Some(wanted.as_str()))
            .filter_map(|package| package["name"].as_str())
            .collect();
        assert!(
            without.is_empty(),
            "these packages do not require rustc {wanted} (add `rust-version.workspace = true`): {without:?}"
        );
    }
}
