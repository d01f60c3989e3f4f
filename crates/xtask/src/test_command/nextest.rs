//! The cargo-nextest that runs the tests, pinned to [`NEXTEST_VERSION`]: the one on PATH
//! when it is that exact version (this machine kind's toolchain ships it), else that version
//! built with `cargo install --locked` into `.eventrail/cargo/bin`, which goes first on PATH.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};
use eventrail_local::{paths, tools};

use crate::step::{Step, cargo, run};

/// The cargo-nextest release the test command runs (its `--version` must say exactly this).
pub const NEXTEST_VERSION: &str = "0.9.143";

/// `cargo install --root` for the pinned cargo-nextest, under the repository's `.eventrail/`.
pub fn install_root(root: &Path) -> PathBuf {
    paths::cache_dir(root).join("cargo")
}

/// What to do about cargo-nextest, given the version `cargo nextest --version` reported
/// (`None`: it did not run).
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// The pinned version answers: use it.
    Use,
    /// Missing or another version: install the pinned one.
    Install { found: Option<String> },
}

pub fn plan(found: Option<&str>) -> Plan {
    match found {
        Some(version) if version == NEXTEST_VERSION => Plan::Use,
        other => Plan::Install {
            found: other.map(str::to_owned),
        },
    }
}

/// The version in the first line of `cargo nextest --version` (`cargo-nextest 0.9.143 (...)`).
pub fn parse_version(output: &str) -> Option<&str> {
    let mut words = output.lines().next()?.split_whitespace();
    (words.next()? == "cargo-nextest").then_some(())?;
    words.next()
}

/// The version of the cargo-nextest `cargo nextest` finds on `path`, if it runs.
fn version_on(root: &Path, path: &OsString) -> Option<String> {
    let output = cargo(root, path)
        .args(["nextest", "--version"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    parse_version(&String::from_utf8_lossy(&output.stdout)).map(str::to_owned)
}

/// Makes sure `cargo nextest` on the returned PATH (`path` with `.eventrail/cargo/bin` first)
/// is [`NEXTEST_VERSION`], installing it if it is not.
pub fn ensure(root: &Path, path: &OsString) -> Result<OsString> {
    let bin = install_root(root).join("bin");
    let path = tools::prepend_path(&bin, Some(path.clone()));
    let found = match plan(version_on(root, &path).as_deref()) {
        Plan::Use => return Ok(path),
        Plan::Install { found } => found,
    };
    let why = match found {
        Some(other) => format!("found {other}"),
        None => "none found".to_owned(),
    };
    let step = Step::start(&format!(
        "cargo install cargo-nextest --version ={NEXTEST_VERSION} --locked into {} ({why}; \
         first run only)",
        install_root(root).display()
    ));
    run(&mut install_command(root, path.clone()))
        .with_context(|| format!("installing cargo-nextest {NEXTEST_VERSION}"))?;
    step.done();
    match version_on(root, &path) {
        Some(version) if version == NEXTEST_VERSION => Ok(path),
        other => bail!(
            "installed cargo-nextest {NEXTEST_VERSION} into {}, but `cargo nextest --version` \
             now says {other:?}",
            bin.display()
        ),
    }
}

/// `cargo install` of the pinned cargo-nextest into [`install_root`]. Its crates are not the
/// workspace's: no clippy wrapper, no workspace target dir.
fn install_command(root: &Path, path: OsString) -> Command {
    let mut command = cargo(root, &path);
    command
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_TARGET_DIR")
        .args(["install", "cargo-nextest", "--locked", "--version"])
        .arg(format!("={NEXTEST_VERSION}"))
        .arg("--root")
        .arg(install_root(root));
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_pinned_version_is_used() {
        assert_eq!(plan(Some(NEXTEST_VERSION)), Plan::Use);
        assert_eq!(
            plan(Some("0.9.142")),
            Plan::Install {
                found: Some("0.9.142".to_owned())
            }
        );
        assert_eq!(plan(None), Plan::Install { found: None });
    }

    #[test]
    fn the_version_is_read_from_nextest_s_first_line() {
        let output = "cargo-nextest 0.9.143 (60fa45f63 2026-08-04)\nrelease: 0.9.143\n";
        assert_eq!(parse_version(output), Some("0.9.143"));
        assert_eq!(parse_version("error: no such command: `nextest`"), None);
        assert_eq!(parse_version(""), None);
    }

    #[test]
    fn the_install_is_pinned_locked_and_under_the_cache_folder() {
        let root = Path::new("/repo");
        let command = install_command(root, OsString::from("/usr/bin"));
        let args: Vec<String> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "install",
                "cargo-nextest",
                "--locked",
                "--version",
                &format!("={NEXTEST_VERSION}"),
                "--root",
                "/repo/.eventrail/cargo",
            ]
        );
    }
}
