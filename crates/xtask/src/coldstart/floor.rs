//! The published floor: a `lambda_runtime` hello world built as lambda-perf builds its Rust
//! function, outside this workspace.
//!
//! `crates/coldstart-hello` is a hello world too, but it lives in the workspace: cargo unifies
//! its dependencies' features with the functions' (`crates/workspace-hack`: tokio with `net`,
//! `fs`, `process`, ..., lambda_runtime without its default features) and its `build.rs` links
//! it without PIE, as the functions are linked. A new user's hello world has none of that, so
//! it is not the floor the published figures measure. This module writes that one as a crate
//! of its own under the target directory (`<target>/coldstart-floor/`):
//! - `lambda_runtime` with its default features, `tokio` with `macros` and `rt-multi-thread`
//!   only, `serde_json`; versions as a new project would get them (no lockfile is carried
//!   over from the workspace: the first build resolves them from the registry, later builds
//!   reuse that resolution until the manifest changes);
//! - the workspace's `[profile.release]`, copied as written, so that the profile is the one
//!   thing the floor shares with the functions;
//! - no build script, no linker arguments, an empty `[workspace]` table (so cargo does not
//!   take it for a member of this workspace) and a target directory of its own.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

/// The floor's package and binary name, and its row in the report.
pub const FLOOR: &str = "lambda-perf-hello";

/// The floor's `src/main.rs`: the canonical hello world (`#[tokio::main]`, a worker thread
/// per CPU), as lambda-perf and `lambda_runtime`'s examples write it.
const MAIN_RS: &str = r#"use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn handler(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({ "message": "hello" }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}
"#;

/// The floor's crate: where it is generated and built.
#[derive(Debug, Clone)]
pub struct FloorCrate {
    dir: PathBuf,
}

impl FloorCrate {
    /// The crate's folder under the workspace's target directory.
    pub fn under(target_dir: &Path) -> Self {
        Self {
            dir: target_dir.join("coldstart-floor"),
        }
    }

    /// The executable a build leaves.
    pub fn binary(&self) -> PathBuf {
        self.dir.join("target").join("release").join(FLOOR)
    }

    /// Writes the crate (manifest and `src/main.rs`) with the profile taken from the
    /// workspace manifest at `root`. A manifest that changed drops the old lockfile, so the
    /// dependencies are resolved anew.
    pub fn write(&self, root: &Path) -> Result<()> {
        let workspace_manifest = root.join("Cargo.toml");
        let text = std::fs::read_to_string(&workspace_manifest)
            .with_context(|| format!("reading {}", workspace_manifest.display()))?;
        let profile = release_profile(&text).with_context(|| {
            format!(
                "{} has no [profile.release] to build the floor with",
                workspace_manifest.display()
            )
        })?;
        let manifest = manifest(&profile);
        let src = self.dir.join("src");
        std::fs::create_dir_all(&src).with_context(|| format!("creating {}", src.display()))?;
        let path = self.dir.join("Cargo.toml");
        if std::fs::read_to_string(&path).ok().as_deref() != Some(manifest.as_str()) {
            let lock = self.dir.join("Cargo.lock");
            if lock.exists() {
                std::fs::remove_file(&lock)
                    .with_context(|| format!("removing {}", lock.display()))?;
            }
            std::fs::write(&path, &manifest)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        let main = src.join("main.rs");
        if std::fs::read_to_string(&main).ok().as_deref() != Some(MAIN_RS) {
            std::fs::write(&main, MAIN_RS)
                .with_context(|| format!("writing {}", main.display()))?;
        }
        Ok(())
    }

    /// `cargo build --release` of the crate, in its own target directory; its executable.
    pub fn build(&self) -> Result<PathBuf> {
        eprintln!(
            "==> cargo build --release of the published floor ({}, outside the workspace)",
            self.dir.display()
        );
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(&self.dir)
            .args(["build", "--release", "--target-dir", "target"])
            // Nothing of the workspace's build reaches the floor: its target directory is its
            // own, and a wrapper or flags set for the workspace's crates are not passed on.
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .env_remove("CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .status()
            .context("starting cargo build for the published floor")?;
        if !status.success() {
            bail!(
                "building the published floor failed ({status}); its errors are above (it \
                 needs the registry the first time, to resolve lambda_runtime, tokio and \
                 serde_json)"
            );
        }
        self.built()
    }

    /// The executable the build left.
    fn built(&self) -> Result<PathBuf> {
        let binary = self.binary();
        if !binary.is_file() {
            bail!(
                "cargo built the published floor but left no {}",
                binary.display()
            );
        }
        Ok(binary)
    }

    /// The versions the build resolved, e.g. `lambda_runtime 1.5.0, tokio 1.54.1, serde_json
    /// 1.0.145`, read from the crate's lockfile (empty before the first build).
    pub fn resolved(&self) -> String {
        let lock = std::fs::read_to_string(self.dir.join("Cargo.lock")).unwrap_or_default();
        ["lambda_runtime", "tokio", "serde_json"]
            .iter()
            .filter_map(|name| locked_version(&lock, name).map(|v| format!("{name} {v}")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The workspace's target directory (`cargo metadata`), which holds the floor's crate.
pub fn target_dir(root: &Path) -> Result<PathBuf> {
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(root)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("reading cargo metadata's output")?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata names no target directory")
}

/// The floor's manifest, around the workspace's release profile.
fn manifest(release_profile: &str) -> String {
    format!(
        "# Written by `cargo xtask coldstart` (crates/xtask/src/coldstart/floor.rs): the published\n\
         # cold-start floor, a hello world as a new project writes it, outside the workspace.\n\
         [package]\n\
         name = \"{FLOOR}\"\n\
         version = \"0.0.0\"\n\
         edition = \"2021\"\n\
         publish = false\n\
         \n\
         [dependencies]\n\
         lambda_runtime = \"1\"\n\
         tokio = {{ version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }}\n\
         serde_json = \"1\"\n\
         \n\
         # Not a member of the workspace it sits in.\n\
         [workspace]\n\
         \n\
         # The workspace's release profile, as written there.\n\
         {release_profile}"
    )
}

/// The `[profile.release]` table of a manifest's text, with its sub-tables
/// (`[profile.release.package.x]`, `[profile.release.build-override]`), as written; `None` when
/// there is none.
fn release_profile(manifest: &str) -> Option<String> {
    let mut out = String::new();
    let mut inside = false;
    for line in manifest.lines() {
        let header = line.trim_start();
        if header.starts_with('[') {
            let name = header
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or_default()
                .trim();
            inside = name == "profile.release" || name.starts_with("profile.release.");
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The version of package `name` in a `Cargo.lock` text (the first entry of that name).
fn locked_version<'a>(lock: &'a str, name: &str) -> Option<&'a str> {
    let wanted = format!("name = \"{name}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == wanted {
            return lines
                .next()?
                .trim()
                .strip_prefix("version = \"")?
                .strip_suffix('"');
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKSPACE: &str = "[workspace]\nmembers = [\"a\"]\n\n[profile.release]\n# why\nopt-level = 3\nlto = true\n\n[profile.release.package.zip]\nopt-level = 1\n\n[profile.dev]\ndebug = false\n\n[profile.dev.package.zip]\nopt-level = 3\n";

    #[test]
    fn the_release_profile_is_copied_as_written_and_nothing_else() {
        let profile = release_profile(WORKSPACE).unwrap();
        assert_eq!(
            profile,
            "[profile.release]\n# why\nopt-level = 3\nlto = true\n\n[profile.release.package.zip]\nopt-level = 1\n\n"
        );
        assert!(release_profile("[package]\nname = \"x\"\n").is_none());
    }

    #[test]
    fn the_manifest_is_a_workspace_of_its_own_with_bare_dependencies() {
        let text = manifest(&release_profile(WORKSPACE).unwrap());
        assert!(text.contains("\n[workspace]\n"), "{text}");
        assert!(text.contains("lambda_runtime = \"1\"\n"), "{text}");
        assert!(
            text.contains(
                "tokio = { version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }"
            ),
            "{text}"
        );
        assert!(text.contains("opt-level = 3\nlto = true\n"), "{text}");
        assert!(!text.contains("build ="), "no build script: {text}");
        assert!(!text.contains("profile.dev"), "{text}");
    }

    #[test]
    fn the_current_workspace_manifest_has_a_release_profile() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
        let text = std::fs::read_to_string(root).unwrap();
        let profile = release_profile(&text).unwrap();
        assert!(profile.starts_with("[profile.release]\n"), "{profile}");
    }

    #[test]
    fn versions_are_read_from_the_lockfile() {
        let lock = "[[package]]\nname = \"lambda_runtime\"\nversion = \"1.5.0\"\n\n[[package]]\nname = \"tokio\"\nversion = \"1.54.1\"\n";
        assert_eq!(locked_version(lock, "lambda_runtime"), Some("1.5.0"));
        assert_eq!(locked_version(lock, "tokio"), Some("1.54.1"));
        assert_eq!(locked_version(lock, "serde_json"), None);
    }

    #[test]
    fn writing_twice_keeps_the_resolution_and_a_new_manifest_drops_it() {
        let root =
            std::env::temp_dir().join(format!("coldstart-floor-test-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("Cargo.toml"), WORKSPACE).unwrap();
        let floor = FloorCrate::under(&root.join("target"));
        floor.write(&root).unwrap();
        let lock = floor.dir.join("Cargo.lock");
        std::fs::write(&lock, "resolved").unwrap();
        floor.write(&root).unwrap();
        assert!(lock.exists(), "an unchanged manifest keeps its lockfile");
        assert_eq!(
            std::fs::read_to_string(floor.dir.join("src/main.rs")).unwrap(),
            MAIN_RS
        );

        std::fs::write(
            root.join("Cargo.toml"),
            WORKSPACE.replace("lto = true", "lto = false"),
        )
        .unwrap();
        floor.write(&root).unwrap();
        assert!(
            !lock.exists(),
            "a changed profile is resolved and built anew"
        );
        let manifest = std::fs::read_to_string(floor.dir.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("lto = false"), "{manifest}");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
