//! Building the functions and zipping each binary as `bootstrap`, as Lambda runs it.
//!
//! [`BuildProfile::Local`]: `cargo build` in the dev profile, the same compiled dependency
//! graph as `cargo build`/`cargo test` in the workspace's one target dir, each binary zipped
//! into `target/lambda-local/` (deterministic zips, so an unchanged function keeps its code
//! key). [`BuildProfile::Release`]: `cargo lambda build --release` (fat LTO, as AWS runs it)
//! into `target/lambda/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::error::{Error, IoContext, Result};
use crate::progress::Progress;
use crate::tools::{self, Installed};

/// How the functions are built for a deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuildProfile {
    /// Host binaries in cargo's dev profile: no LTO, shared with the tests' build. LocalStack
    /// needs nothing more.
    #[default]
    Local,
    /// `cargo lambda build --release`: the release profile (fat LTO), as deployed to AWS.
    Release,
}

impl BuildProfile {
    /// The folder under the target dir where this profile's zips are written.
    pub fn zips_dir(self) -> &'static str {
        match self {
            Self::Local => LOCAL_ZIPS_DIR,
            Self::Release => RELEASE_ZIPS_DIR,
        }
    }
}

/// The Lambda architecture name of this machine (`x86_64` or `arm64`).
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "x86_64",
    }
}

/// The `cargo lambda build` flag for an architecture.
pub fn architecture_flag(architecture: &str) -> &'static str {
    if architecture == "arm64" {
        "--arm64"
    } else {
        "--x86-64"
    }
}

/// Where [`build_local_zips`] writes, under the target dir.
pub const LOCAL_ZIPS_DIR: &str = "lambda-local";
/// Where `cargo lambda build` ([`build_release_zips`]) writes, under the target dir.
pub const RELEASE_ZIPS_DIR: &str = "lambda";

/// Builds `binaries` with `profile` and zips them; returns binary -> zip path.
/// [`BuildProfile::Local`] builds into `target`; [`BuildProfile::Release`] runs cargo-lambda
/// from `installed` into the workspace's target dir.
pub fn build_zips(
    root: &Path,
    target: &Path,
    installed: &Installed,
    binaries: &[String],
    profile: BuildProfile,
    progress: Progress,
) -> Result<BTreeMap<String, PathBuf>> {
    match profile {
        BuildProfile::Local => build_local_zips(root, target, binaries, progress),
        BuildProfile::Release => {
            build_release_zips(root, installed, binaries, host_architecture(), progress)
        }
    }
}

/// The zips the last build with `profile` left under `target`, built or not: binary -> zip.
pub fn built_zips(
    target: &Path,
    binaries: &[String],
    profile: BuildProfile,
) -> BTreeMap<String, PathBuf> {
    let dir = target.join(profile.zips_dir());
    binaries
        .iter()
        .map(|binary| (binary.clone(), dir.join(binary).join("bootstrap.zip")))
        .collect()
}

/// Builds `binaries` for the host in cargo's dev profile (the graph the tests share) and zips
/// each as `bootstrap` into `target/lambda-local/<binary>/bootstrap.zip`; returns binary ->
/// zip path. A zip newer than its binary is kept, and zips are deterministic (fixed entry
/// time), so an unchanged function keeps the same code key and is not redeployed.
pub fn build_local_zips(
    root: &Path,
    target: &Path,
    binaries: &[String],
    progress: Progress,
) -> Result<BTreeMap<String, PathBuf>> {
    let started = Instant::now();
    progress.report(|| {
        format!(
            "building {} functions for LocalStack (dev profile, shared with the tests; \
             minutes when cold, seconds when warm)",
            binaries.len()
        )
    });
    let mut command = tools::cargo_command();
    command
        .current_dir(root)
        .env("CARGO_TARGET_DIR", target)
        .arg("build");
    for binary in binaries {
        command.args(["--package", binary]);
    }
    run_build(&mut command, "")?;
    let bin_dir = target.join("debug");
    let zips = built_zips(target, binaries, BuildProfile::Local);
    let stale: Vec<(PathBuf, &PathBuf)> = zips
        .iter()
        .map(|(binary, zip)| (bin_dir.join(binary), zip))
        .filter(|(executable, zip)| zip_is_stale(executable, zip))
        .collect();
    // Each zip deflates a ~60 MB debug binary; they are independent, so all run at once.
    std::thread::scope(|scope| {
        let zipping: Vec<_> = stale
            .iter()
            .map(|(executable, zip)| scope.spawn(move || zip_bootstrap(executable, zip)))
            .collect();
        zipping.into_iter().try_for_each(|thread| {
            thread
                .join()
                .unwrap_or_else(|_| Err(Error::Build("a zipping thread panicked".to_owned())))
        })
    })?;
    let zipped = stale.len();
    progress.report(|| {
        format!(
            "built {} function(s), zipped {zipped} changed, in {:.0} s",
            binaries.len(),
            started.elapsed().as_secs_f64()
        )
    });
    Ok(zips)
}

/// Runs a build command, its output going to the terminal; returns it as shown to people.
/// `hint` follows the error when the command cannot start.
fn run_build(command: &mut Command, hint: &str) -> Result<String> {
    let shown = tools::describe(command);
    let status = command
        .status()
        .io_context(|| format!("starting `{shown}`{hint}"))?;
    if !status.success() {
        return Err(Error::Build(format!(
            "`{shown}` failed ({status}); the compiler output above says why"
        )));
    }
    Ok(shown)
}

fn zip_is_stale(executable: &Path, zip: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(executable), modified(zip)) {
        (Some(binary), Some(zipped)) => binary > zipped,
        _ => true,
    }
}

/// How hard [`zip_bootstrap_with`] deflates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Level 1: the dev-profile zips, ~60 MB binaries zipped on every local deploy.
    Fast,
    /// Level 6: release zips for AWS, a fifth smaller than level 1 for a few tenths of a
    /// second each (less to upload, less for Lambda to fetch at a cold start).
    Small,
}

impl Compression {
    fn level(self) -> i64 {
        match self {
            Self::Fast => 1,
            Self::Small => 6,
        }
    }
}

/// Zips `executable` as the single entry `bootstrap` (mode 0755, fixed time) into `zip`.
pub fn zip_bootstrap(executable: &Path, zip: &Path) -> Result<()> {
    zip_bootstrap_with(executable, zip, Compression::Fast)
}

/// [`zip_bootstrap`] with the given compression; the same input and compression always give
/// the same bytes.
pub fn zip_bootstrap_with(executable: &Path, zip: &Path, compression: Compression) -> Result<()> {
    use std::io::Write as _;
    let bytes = std::fs::read(executable)
        .io_context(|| format!("reading {} (was the function built?)", executable.display()))?;
    if let Some(dir) = zip.parent() {
        std::fs::create_dir_all(dir).io_context(|| format!("creating {}", dir.display()))?;
    }
    // A name of this process and thread alone: two deploys may zip the same function at once
    // (the test command's stack and a test's own), and each renames only its own file.
    let partial = zip.with_extension(format!(
        "zip.{}-{:?}.partial",
        std::process::id(),
        std::thread::current().id()
    ));
    let file =
        std::fs::File::create(&partial).io_context(|| format!("creating {}", partial.display()))?;
    let mut writer = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(compression.level()))
        .unix_permissions(0o755)
        .last_modified_time(zip::DateTime::default());
    let fail = |source: zip::result::ZipError| Error::Zip {
        path: zip.to_path_buf(),
        source,
    };
    writer.start_file("bootstrap", options).map_err(fail)?;
    writer
        .write_all(&bytes)
        .io_context(|| format!("writing {}", partial.display()))?;
    writer.finish().map_err(fail)?;
    std::fs::rename(&partial, zip).io_context(|| format!("writing {}", zip.display()))?;
    Ok(())
}

/// Build release zips of `binaries` for `architecture` with `cargo lambda build`; returns
/// binary -> zip path.
pub fn build_release_zips(
    root: &Path,
    installed: &Installed,
    binaries: &[String],
    architecture: &str,
    progress: Progress,
) -> Result<BTreeMap<String, PathBuf>> {
    let started = Instant::now();
    progress.report(|| {
        format!(
            "building release zips for {} ({architecture}); a clean release build takes several minutes",
            binaries.join(", ")
        )
    });
    let mut command = cargo_lambda_release(root, installed, binaries, architecture);
    command.args(["--output-format", "zip"]);
    // Progress (cargo's own lines) goes straight to the terminal.
    let shown = run_build(&mut command, " (run `eventrail local install`?)")?;
    let lambda_dir = target_dir(root).join(RELEASE_ZIPS_DIR);
    let mut zips = BTreeMap::new();
    for binary in binaries {
        let zip = lambda_dir.join(binary).join("bootstrap.zip");
        if !zip.is_file() {
            return Err(Error::Build(format!(
                "`{shown}` succeeded but {} is missing; is `{binary}` a binary crate in functions/?",
                zip.display()
            )));
        }
        zips.insert(binary.clone(), zip);
    }
    progress.report(|| {
        format!(
            "built {} zips in {:.0} s",
            zips.len(),
            started.elapsed().as_secs_f64()
        )
    });
    Ok(zips)
}

/// `cargo lambda build --release` of `binaries` (one `--package` each, so one cargo run and
/// one compiled dependency graph) for `architecture` (`arm64`, `x86_64`), with cargo-lambda
/// and zig from `installed`, run in `root`; callers add the output flags.
pub fn cargo_lambda_release(
    root: &Path,
    installed: &Installed,
    binaries: &[String],
    architecture: &str,
) -> Command {
    let mut command = Command::new(installed.tools_bin.join("cargo-lambda"));
    tools::clear_package_env(&mut command);
    command
        .current_dir(root)
        .env("PATH", installed.path_env())
        .args(["lambda", "build", "--release"])
        // cargo-lambda's own "release optimizations" would lay `panic = "abort"` and a
        // `target-cpu` over the workspace's release profile (`--config` flags on the cargo it
        // runs). The profile keeps panics unwinding on purpose (Cargo.toml says why), so the
        // release build is the workspace's profile and nothing else.
        .arg("--disable-optimizations")
        .arg(architecture_flag(architecture));
    for binary in binaries {
        command.args(["--package", binary]);
    }
    command
}

/// The workspace's target dir (`CARGO_TARGET_DIR` if set).
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root.join(dir)
            }
        })
        .unwrap_or_else(|| root.join("target"))
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_architecture_has_a_build_flag() {
        let flag = architecture_flag(host_architecture());
        assert!(flag == "--x86-64" || flag == "--arm64");
    }

    #[test]
    fn the_release_build_is_the_workspace_profile_alone() {
        let installed = Installed {
            localstack_python: PathBuf::from("/x/python"),
            tools_bin: PathBuf::from("/x/bin"),
        };
        let command = cargo_lambda_release(Path::new("/r"), &installed, &["a".to_owned()], "arm64");
        let args: Vec<String> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(
            args.contains(&"--disable-optimizations".to_owned()),
            "{args:?}"
        );
        assert!(args.contains(&"--arm64".to_owned()), "{args:?}");
    }

    #[test]
    fn each_profile_reads_its_own_zips() {
        let target = Path::new("/t");
        let binaries = ["planner".to_owned()];
        let local = built_zips(target, &binaries, BuildProfile::Local);
        let release = built_zips(target, &binaries, BuildProfile::Release);
        assert_eq!(
            local["planner"],
            Path::new("/t/lambda-local/planner/bootstrap.zip")
        );
        assert_eq!(
            release["planner"],
            Path::new("/t/lambda/planner/bootstrap.zip")
        );
    }
}
