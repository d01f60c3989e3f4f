//! One release build of every function, as `eventrail build` and `eventrail deploy` run it:
//!
//! 1. the target's standard library is there (added with rustup if not, [`crate::toolchain`]);
//! 2. ONE `cargo lambda build --release --arm64|--x86-64 --package <each function>` into
//!    `<target>/lambda-<arch>/<binary>/bootstrap`: one compiled dependency graph, the
//!    workspace's release profile as it is (fat LTO, one codegen unit), and after an edit to
//!    one handler only that function is compiled and linked again;
//! 3. each `bootstrap` zipped here, not by cargo-lambda, with a fixed time and mode
//!    ([`eventrail_local::zips::zip_bootstrap_with`], deflate level 6), so an unchanged
//!    binary gives a byte-identical `bootstrap.zip`: the same code hash, and CloudFormation
//!    leaves that function alone;
//! 4. `artifacts.json` ([`crate::manifest`]) records each zip's SHA-256; each artifact is
//!    `new`, `changed` or `unchanged` against the record of the build before.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eventrail_local::Installed;
use eventrail_local::zips::{Compression, cargo_lambda_release, target_dir, zip_bootstrap_with};
use eventrail_model::{SamEnvironment, Template};
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

pub use crate::manifest::Change;
use crate::manifest::{Manifest, ManifestError};
use crate::toolchain::{StdLibrary, ToolchainError, ensure_std};

/// A Lambda instruction set architecture, by Lambda's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Architecture {
    Arm64,
    X86_64,
}

impl Architecture {
    /// The architecture Lambda calls `name` (`arm64`, `x86_64`).
    pub fn from_lambda_name(name: &str) -> Result<Self, ArtifactError> {
        match name {
            "arm64" => Ok(Self::Arm64),
            "x86_64" => Ok(Self::X86_64),
            other => Err(ArtifactError::UnknownArchitecture {
                name: other.to_owned(),
            }),
        }
    }

    /// Lambda's name for it (the template's `Architecture` parameter).
    pub fn lambda_name(self) -> &'static str {
        match self {
            Self::Arm64 => "arm64",
            Self::X86_64 => "x86_64",
        }
    }

    /// The Rust target a Lambda of this architecture runs (Amazon Linux 2023, glibc).
    pub fn rust_target(self) -> &'static str {
        match self {
            Self::Arm64 => "aarch64-unknown-linux-gnu",
            Self::X86_64 => "x86_64-unknown-linux-gnu",
        }
    }

    /// The folder under the target dir holding this architecture's artifacts and manifest.
    pub fn artifacts_dir(self, target: &Path) -> PathBuf {
        target.join(format!("lambda-{}", self.lambda_name()))
    }

    /// The architecture a samconfig environment deploys: its `Architecture` parameter
    /// override, else the template parameter's default, else Lambda's own default (x86_64,
    /// what a function without `Architectures` runs on).
    pub fn of_environment(
        environment: &SamEnvironment,
        template: &Template,
    ) -> Result<Self, ArtifactError> {
        if let Some(name) = environment.parameter_overrides.get(ARCHITECTURE_PARAMETER) {
            return Self::from_lambda_name(name);
        }
        let default = template
            .parameters()
            .iter()
            .find(|p| p.name == ARCHITECTURE_PARAMETER)
            .and_then(|p| p.default.as_ref())
            .and_then(|value| value.as_str());
        match default {
            Some(name) => Self::from_lambda_name(name),
            None => Ok(Self::X86_64),
        }
    }
}

impl std::fmt::Display for Architecture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.lambda_name())
    }
}

impl Serialize for Architecture {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.lambda_name())
    }
}

/// The template parameter (and samconfig override) naming the functions' architecture.
pub const ARCHITECTURE_PARAMETER: &str = "Architecture";

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub architecture: Architecture,
    /// The functions' binaries (their crates' names), e.g. from [`template_binaries`].
    pub binaries: Vec<String>,
    /// Another target dir than the workspace's (`CARGO_TARGET_DIR`, else `<root>/target`).
    pub target_dir: Option<PathBuf>,
    pub progress: eventrail_local::Progress,
}

/// One function's artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Artifact {
    pub binary: String,
    /// `<target>/lambda-<arch>/<binary>/bootstrap.zip`.
    pub zip: PathBuf,
    /// The zip's size.
    pub bytes: u64,
    /// SHA-256 of the zip, lowercase hex.
    pub sha256: String,
    /// Against the build before.
    pub change: Change,
}

/// What a build produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildReport {
    pub architecture: Architecture,
    /// One per binary, in the order asked.
    pub artifacts: Vec<Artifact>,
    /// The whole build: the toolchain check, cargo-lambda, zipping and the manifest.
    #[serde(rename = "elapsed_seconds", serialize_with = "seconds")]
    pub elapsed: Duration,
}

impl BuildReport {
    /// The artifacts that are new or changed since the build before.
    pub fn changed(&self) -> usize {
        self.artifacts
            .iter()
            .filter(|a| a.change.is_change())
            .count()
    }
}

fn seconds<S: Serializer>(elapsed: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64((elapsed.as_secs_f64() * 10.0).round() / 10.0)
}

/// A build that failed, with what to do next.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("unknown Lambda architecture `{name}`: Lambda's are arm64 and x86_64")]
    UnknownArchitecture { name: String },
    #[error(
        "no functions to build: the template declares none with a binary \
         (Metadata.BuildProperties.Binary or a CodeUri naming its crate)"
    )]
    NoFunctions,
    #[error(transparent)]
    Toolchain(#[from] ToolchainError),
    #[error("starting `{command}` (cargo-lambda and zig come from `eventrail local install`)")]
    Start {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}); the compiler output above says why")]
    Failed {
        command: String,
        status: std::process::ExitStatus,
    },
    #[error(
        "`{command}` succeeded but {} is missing; is `{binary}` a binary crate of the workspace?",
        path.display()
    )]
    Missing {
        command: String,
        binary: String,
        path: PathBuf,
    },
    #[error("zipping `{binary}`")]
    Zip {
        binary: String,
        #[source]
        source: eventrail_local::Error,
    },
    #[error("reading {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("a zipping thread panicked")]
    Panicked,
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Functions(eventrail_local::Error),
}

/// The binaries of the functions `template` (read from `path`) declares, in its order.
pub fn template_binaries(template: &Template, path: &Path) -> Result<Vec<String>, ArtifactError> {
    let functions = eventrail_local::deploy::function_binaries(template, path)
        .map_err(ArtifactError::Functions)?;
    Ok(functions.into_iter().map(|(_, binary)| binary).collect())
}

/// Builds, zips and records every binary of `options`; see the module docs. Cargo's output
/// goes to standard error (standard output stays free for a report, `--json`).
pub fn build_artifacts(
    root: &Path,
    installed: &Installed,
    options: &BuildOptions,
) -> Result<BuildReport, ArtifactError> {
    if options.binaries.is_empty() {
        return Err(ArtifactError::NoFunctions);
    }
    let started = Instant::now();
    let architecture = options.architecture;
    let triple = architecture.rust_target();
    if ensure_std(root, triple)? == StdLibrary::Added {
        options.progress.report(|| {
            format!("added the Rust standard library for {triple} (`rustup target add {triple}`)")
        });
    }
    let target = options
        .target_dir
        .clone()
        .unwrap_or_else(|| target_dir(root));
    let dir = architecture.artifacts_dir(&target);
    options.progress.report(|| {
        format!(
            "building {} function(s) for {architecture} Lambda in one release build (fat LTO; \
             a first build takes minutes, a rebuild after one handler's edit relinks that one)",
            options.binaries.len()
        )
    });
    let mut command = cargo_lambda_release(
        root,
        installed,
        &options.binaries,
        architecture.lambda_name(),
    );
    command.arg("--lambda-dir").arg(&dir);
    if options.target_dir.is_some() {
        command.env("CARGO_TARGET_DIR", &target);
    }
    let shown = run(&mut command)?;

    let executables: Vec<(&String, PathBuf)> = options
        .binaries
        .iter()
        .map(|binary| (binary, dir.join(binary).join("bootstrap")))
        .collect();
    for (binary, path) in &executables {
        if !path.is_file() {
            return Err(ArtifactError::Missing {
                command: shown,
                binary: (*binary).clone(),
                path: path.clone(),
            });
        }
    }
    let zipped = zip_all(&executables)?;

    let mut manifest = Manifest::load(&dir);
    let previous = manifest.clone();
    let artifacts: Vec<Artifact> = zipped
        .into_iter()
        .map(|(binary, zip, bytes, sha256)| {
            manifest.record(&binary, &sha256);
            Artifact {
                change: previous.change(&binary, &sha256),
                binary,
                zip,
                bytes,
                sha256,
            }
        })
        .collect();
    manifest.save(&dir)?;
    Ok(BuildReport {
        architecture,
        artifacts,
        elapsed: started.elapsed(),
    })
}

/// Runs the build, its output on standard error; returns the command as shown to people.
fn run(command: &mut Command) -> Result<String, ArtifactError> {
    let shown = describe(command);
    // cargo writes its progress on stderr already; cargo-lambda's own lines go there too.
    let status = command
        .stdout(Stdio::from(std::io::stderr()))
        .status()
        .map_err(|source| ArtifactError::Start {
            command: shown.clone(),
            source,
        })?;
    if !status.success() {
        return Err(ArtifactError::Failed {
            command: shown,
            status,
        });
    }
    Ok(shown)
}

/// `cargo lambda build ...` as a person would type it: `cargo-<tool>` by its path is run as
/// `cargo <tool>`, so it is shown as `cargo`.
fn describe(command: &Command) -> String {
    let program = Path::new(command.get_program())
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let program = if program.starts_with("cargo-") {
        "cargo".to_owned()
    } else {
        program
    };
    std::iter::once(program)
        .chain(
            command
                .get_args()
                .map(|arg| arg.to_string_lossy().into_owned()),
        )
        .collect::<Vec<_>>()
        .join(" ")
}

/// Zips every executable beside itself as `bootstrap.zip` and hashes the zip: binary, zip,
/// its size and SHA-256. The zips are independent, so they run at once.
fn zip_all(
    executables: &[(&String, PathBuf)],
) -> Result<Vec<(String, PathBuf, u64, String)>, ArtifactError> {
    std::thread::scope(|scope| {
        let zipping: Vec<_> = executables
            .iter()
            .map(|(binary, executable)| {
                scope.spawn(move || {
                    let zip = executable.with_file_name("bootstrap.zip");
                    zip_bootstrap_with(executable, &zip, Compression::Small).map_err(|source| {
                        ArtifactError::Zip {
                            binary: (*binary).clone(),
                            source,
                        }
                    })?;
                    let (bytes, sha256) = digest(&zip)?;
                    Ok(((*binary).clone(), zip, bytes, sha256))
                })
            })
            .collect();
        zipping
            .into_iter()
            .map(|thread| thread.join().unwrap_or(Err(ArtifactError::Panicked)))
            .collect()
    })
}

/// The size and SHA-256 (lowercase hex) of a file.
pub fn digest(path: &Path) -> Result<(u64, String), ArtifactError> {
    let bytes = std::fs::read(path).map_err(|source| ArtifactError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let hash = Sha256::digest(&bytes);
    let hex = hash.iter().map(|byte| format!("{byte:02x}")).collect();
    Ok((bytes.len() as u64, hex))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("eventrail-artifacts-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    const SAMCONFIG: &str = r#"
version = 0.1
[default.deploy.parameters]
parameter_overrides = "Stage=dev Architecture=arm64"
[prod.deploy.parameters]
parameter_overrides = "Stage=prod Architecture=arm64"
[local.deploy.parameters]
parameter_overrides = "Stage=local Architecture=x86_64"
[bare.deploy.parameters]
parameter_overrides = "Stage=bare"
[odd.deploy.parameters]
parameter_overrides = "Architecture=sparc"
"#;

    fn template(default: Option<&str>) -> Template {
        let parameter = match default {
            Some(name) => {
                format!("Parameters:\n  Architecture:\n    Type: String\n    Default: {name}\n")
            }
            None => String::new(),
        };
        Template::parse(&format!("{parameter}Resources: {{}}\n"), "template.yaml").unwrap()
    }

    #[test]
    fn each_environment_builds_for_its_samconfig_architecture() {
        let config = eventrail_model::SamConfig::parse(SAMCONFIG, "samconfig.toml").unwrap();
        let of = |env: &str, template: &Template| {
            Architecture::of_environment(&config.environment(env).unwrap(), template)
        };
        let plain = template(None);
        assert_eq!(of("default", &plain).unwrap(), Architecture::Arm64);
        assert_eq!(of("prod", &plain).unwrap(), Architecture::Arm64);
        assert_eq!(of("local", &plain).unwrap(), Architecture::X86_64);
        // No override: the template parameter's default, else Lambda's default.
        assert_eq!(
            of("bare", &template(Some("arm64"))).unwrap(),
            Architecture::Arm64
        );
        assert_eq!(of("bare", &plain).unwrap(), Architecture::X86_64);
        let error = of("odd", &plain).unwrap_err().to_string();
        assert!(
            error.contains("sparc") && error.contains("arm64"),
            "{error}"
        );
    }

    #[test]
    fn the_same_binary_zips_to_the_same_bytes() {
        let dir = scratch("zips");
        let executable = dir.join("first").join("bootstrap");
        std::fs::create_dir_all(executable.parent().unwrap()).unwrap();
        std::fs::write(&executable, b"\x7fELF a binary's bytes").unwrap();
        let name = "first".to_owned();
        let once = zip_all(&[(&name, executable.clone())]).unwrap();
        let zip = once[0].1.clone();
        let first_bytes = std::fs::read(&zip).unwrap();
        // Later, with another modification time on the binary: the zip must not change.
        std::thread::sleep(Duration::from_millis(1100));
        std::fs::write(&executable, b"\x7fELF a binary's bytes").unwrap();
        let twice = zip_all(&[(&name, executable.clone())]).unwrap();
        assert_eq!(std::fs::read(&zip).unwrap(), first_bytes);
        assert_eq!(once[0].3, twice[0].3);
        assert_eq!(once[0].2, first_bytes.len() as u64);
        // And another binary gives another digest.
        std::fs::write(&executable, b"\x7fELF other bytes").unwrap();
        let other = zip_all(&[(&name, executable)]).unwrap();
        assert_ne!(other[0].3, once[0].3);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn architectures_go_by_lambda_names_into_their_own_folders() {
        assert_eq!(
            Architecture::from_lambda_name("arm64").unwrap(),
            Architecture::Arm64
        );
        assert_eq!(
            Architecture::X86_64.artifacts_dir(Path::new("/t")),
            Path::new("/t/lambda-x86_64")
        );
        assert_eq!(
            Architecture::Arm64.rust_target(),
            "aarch64-unknown-linux-gnu"
        );
        assert_eq!(
            serde_json::to_value(Architecture::Arm64).unwrap(),
            serde_json::json!("arm64")
        );
    }

    #[test]
    fn the_command_is_shown_as_typed() {
        let mut command = Command::new("/x/tools/bin/cargo-lambda");
        command.args(["lambda", "build", "--release", "--arm64"]);
        assert_eq!(describe(&command), "cargo lambda build --release --arm64");
    }
}
