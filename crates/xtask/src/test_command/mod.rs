//! `cargo xtask test`: every check and test, LocalStack and the deploy included.
//!
//! * [`lanes`]: building and running the tests, in two lanes on the deployed stack;
//! * [`checks`]: the checks beside them (template lint, executor plugin tests, clippy) and
//!   builds that deny warnings;
//! * [`e2e`]: LocalStack and the deployed stack the end-to-end tests run on;
//! * [`nextest`]: the pinned cargo-nextest that runs them;
//! * [`browser`]: the Chromium and chromedriver the studio's browser tests drive.

mod browser;
mod checks;
mod e2e;
mod lanes;
mod nextest;

use std::{ffi::OsString, path::Path, process::Command, time::Instant};

use anyhow::{Context, Result};
use eventrail_local::{Installed, Installer};

use crate::step::{Step, cargo, repo_root, run};
use browser::Browser;
use checks::{Background, build_denying_warnings, finish_all};
use e2e::{AfterRun, Environment};
use eventrail_local::deploy::Build;
use lanes::{INTEGRATION_TESTS, NEEDS_INSTALLED_TOOLS, NEEDS_LOCALSTACK, Tests};

/// Options of `cargo xtask test`.
#[derive(Debug, clap::Args)]
pub struct TestOptions {
    /// Install nothing and start no LocalStack: the Rust checks and every test that needs
    /// neither LocalStack nor the tools installed into .eventrail/venv (the end-to-end tests,
    /// the template's cfn-lint, the executor plugin's tests and the cargo-lambda test are left
    /// out, and named as left out).
    #[arg(long)]
    pub offline: bool,
    /// Leave LocalStack running afterwards (`eventrail local down` stops it).
    #[arg(long)]
    pub keep: bool,
    /// Extra arguments for `cargo nextest run`, e.g. `-- e2e`.
    #[arg(last = true)]
    pub nextest_args: Vec<String>,
}

impl TestOptions {
    fn after_run(&self) -> AfterRun {
        if self.keep {
            AfterRun::KeepRunning
        } else {
            AfterRun::Stop
        }
    }
}

/// `cargo xtask test`.
pub fn test(options: &TestOptions) -> Result<()> {
    let started = Instant::now();
    let root = repo_root()?;

    let path = std::env::var_os("PATH").unwrap_or_default();

    // Clippy lints the workspace's crates while they compile (clippy-driver as the workspace
    // wrapper, as the `cargo xtask` alias builds xtask itself) instead of compiling every
    // dependency a second time in check mode. Every command below inherits it: the deploy's
    // build and the tests' scratch copies too.
    let linted = clippy_driver_runs(&root, &path);
    if linted {
        // SAFETY: no other thread reads or writes the environment yet: the only other
        // thread, Ctrl-C's handler, only prints (the install thread starts below).
        unsafe { std::env::set_var("RUSTC_WORKSPACE_WRAPPER", CLIPPY_DRIVER) };
    }
    // Not incremental, as the `cargo xtask` alias compiled xtask's workspace crates: the same
    // profile, so every build below reuses them (and the scratch copies tests build inherit it).
    // SAFETY: as above, no other thread touches the environment yet.
    unsafe { std::env::set_var(config_env_name(NOT_INCREMENTAL.0), NOT_INCREMENTAL.1) };
    // The installs (downloads, mostly) run beside the formatting check and the build, which
    // need none of them. (LocalStack starts from this thread once they are done: it is told
    // to stop when the thread that started it ends.) Offline, nothing is installed.
    let installing = (!options.offline).then(|| {
        let root = root.clone();
        std::thread::spawn(move || -> Result<Installed> {
            let step = Step::start(
                "install pinned tools into .eventrail/ (first run only; beside the build)",
            );
            let installed = Installer::new(&root).ensure_all().context(
                "installing the pinned tools (LocalStack, cfn-lint, aws-sam-cli, cargo-lambda, zig)",
            )?;
            step.done();
            Ok(installed)
        })
    });
    // Debian's Chromium and chromedriver (apt-get, when missing), beside the other installs.
    let browser_log = eventrail_local::zips::target_dir(&root).join("xtask-logs/apt-chromium.log");
    let installing_browser = (!options.offline).then(|| {
        let path = path.clone();
        std::thread::spawn(move || -> Result<Browser> {
            let step = Step::start(&format!(
                "chromium and chromedriver for the browser tests (apt-get when missing; log in {})",
                browser_log.display()
            ));
            let browser = browser::ensure(&path, &browser_log)
                .context("installing Chromium and chromedriver with apt-get")?;
            step.done();
            Ok(browser)
        })
    });

    let step = Step::start("cargo fmt --check");
    run(cargo(&root, &path).args(["fmt", "--all", "--check"]))
        .context("formatting differs: run `cargo fmt --all`")?;
    step.done();

    let step = Step::start("cargo xtask unify --check (one compiled graph for every local build)");
    crate::unify::command(&crate::unify::UnifyOptions { check: true })?;
    step.done();

    let by_clippy = if linted { ", linted by clippy" } else { "" };
    // The whole run (not offline, no nextest arguments): the end-to-end tests on the deployed
    // stack, in two lanes (see `Tests::in_two_lanes`).
    let whole = !options.offline && options.nextest_args.is_empty();

    // One compiled graph (see `cargo xtask unify`): the CLI, the functions LocalStack runs and
    // the tests all reuse what this step compiles. The whole run builds the end-to-end tests
    // on the stack in the same cargo invocation (one build, one tail where a core idles),
    // while this thread waits for the installs and starts LocalStack.
    let mut build = cargo(&root, &path);
    build.args(["build", "--workspace", "--bins"]);
    let mut building_what = "the CLI, the functions, the tools: one dependency graph";
    let mut stack_tests = String::new();
    if whole {
        build.args(["--test", INTEGRATION_TESTS]);
        stack_tests = format!(" --test {INTEGRATION_TESTS}");
        building_what = "the CLI, the functions, the tools and the integration tests, \
                         end-to-end ones included: one dependency graph; LocalStack starts \
                         alongside";
    }
    let step = Step::start(&format!(
        "cargo build --workspace --bins{stack_tests}{by_clippy} ({building_what})"
    ));
    let (built, installed, environment, browser) = std::thread::scope(|scope| {
        let building = scope.spawn(|| build_denying_warnings(&mut build));
        let installed = installing
            .map(|thread| {
                thread
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("the install thread panicked")))
            })
            .transpose();
        let browser = installing_browser
            .map(|thread| {
                thread
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("the browser install thread panicked")))
            })
            .transpose();
        let (installed, browser) = match (installed, browser) {
            (Ok(installed), Ok(browser)) => (Ok(installed), browser),
            (Err(error), _) | (_, Err(error)) => (Err(error), None),
        };
        // Started from this thread, which lives as long as the run: LocalStack is told to
        // stop when the thread that started it ends.
        let environment = match &installed {
            Ok(Some(installed)) if whole => {
                Some(Environment::start(&root, installed, options.after_run()))
            }
            _ => None,
        };
        let built = building
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the build thread panicked")));
        (built, installed, environment, browser)
    });
    built?;
    step.done();
    let installed = installed?;
    let environment = environment.transpose()?;
    let path = installed.as_ref().map_or(path, Installed::path_env);

    let step = Step::start(
        "eventrail lint (catalog, declarations, template, samples; generated files not stale)",
    );
    run(cargo(&root, &path).args(["run", "--quiet", "-p", "eventrail", "--", "lint"])).context(
        "`eventrail lint` has findings: fix them or declare an exception with its reason",
    )?;
    step.done();

    let target = eventrail_local::zips::target_dir(&root);
    let logs = target.join("xtask-logs");
    let mut checks = match &installed {
        Some(installed) => tool_checks(&root, installed, &path, &logs)?,
        None => {
            eprintln!(
                "\n(offline: left out the template's cfn-lint, the executor plugin's tests and \
                 the tests that need LocalStack or cargo-lambda; `cargo xtask test` runs them)"
            );
            Vec::new()
        }
    };
    if !linted {
        // No clippy-driver on this toolchain: `cargo clippy` says how to install it. It
        // compiles every dependency again in check mode, in its own target dir (its own lock:
        // it never blocks the builds tests start), while the tests run.
        checks.push(Background::start(
            "cargo clippy --workspace --all-targets -- -D warnings",
            "fix the warnings clippy reports (or install clippy: `rustup component add clippy`)",
            cargo(&root, &path)
                .env("CARGO_TARGET_DIR", target.join("clippy"))
                .args([
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ]),
            logs.join("clippy.log"),
        )?);
    }
    // The pinned cargo-nextest first on PATH for every cargo below.
    let path = nextest::ensure(&root, &path)?;
    let browser = browser.unwrap_or_else(|| Browser::Unavailable {
        reason: "offline: no LocalStack, no browser".to_owned(),
    });
    let tests = Tests {
        root: &root,
        path: &path,
        target: &target,
        by_clippy,
        browser: &browser,
    };

    let result = match &installed {
        None => {
            tests.build_all()?;
            if options.nextest_args.is_empty() {
                tests.doc_tests()?;
            }
            let mut nextest = tests.nextest_building();
            nextest.args(&options.nextest_args).args([
                "-E",
                &format!("not ({NEEDS_LOCALSTACK}) and not ({NEEDS_INSTALLED_TOOLS})"),
            ]);
            let step = Step::start(
                "cargo nextest run (offline: no end-to-end tests, no tests of installed tools)",
            );
            let result = run(&mut nextest);
            step.done();
            result
        }
        Some(installed) if !options.nextest_args.is_empty() => {
            tests.build_all()?;
            let env = Environment::start(&root, installed, options.after_run())?;
            env.deploy(installed, Build::Fresh)?;
            let step =
                Step::start("cargo nextest run --workspace (unit, offline and end-to-end tests)");
            let mut nextest = tests.nextest_building();
            nextest.args(&options.nextest_args);
            env.apply(&mut nextest);
            let result = run(&mut nextest);
            step.done();
            let denials = env.check_denials();
            env.down()?;
            result.and(denials)
        }
        Some(installed) => {
            let env = environment.context("LocalStack was not started for the whole run")?;
            let result = tests.in_two_lanes(&env, installed);
            let denials = env.check_denials();
            env.down()?;
            result.and(denials)
        }
    };
    finish_all(checks).and(result)?;
    if let Some(note) = browser.skipped_note().filter(|_| !options.offline) {
        eprintln!("\nnote: {note}");
    }
    eprintln!(
        "\nall checks passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The workspace wrapper the `cargo xtask` alias (.cargo/config.toml) compiles xtask with; the
/// same string here, or cargo would see another wrapper and compile the workspace again.
const CLIPPY_DRIVER: &str = "clippy-driver";

/// The `--config` the `cargo xtask` alias (.cargo/config.toml) compiles xtask with besides the
/// wrapper; `cargo xtask test` gives every cargo it starts the same, through the environment
/// (the `test` profile inherits it).
const NOT_INCREMENTAL: (&str, &str) = ("profile.dev.incremental", "false");

/// The environment variable cargo reads a configuration key from (`profile.dev.incremental`
/// is `CARGO_PROFILE_DEV_INCREMENTAL`).
fn config_env_name(key: &str) -> String {
    format!("CARGO_{}", key.to_uppercase().replace(['.', '-'], "_"))
}

/// Whether `clippy-driver` (rustup's proxy, when the toolchain has clippy) runs.
fn clippy_driver_runs(root: &Path, path: &OsString) -> bool {
    Command::new(CLIPPY_DRIVER)
        .current_dir(root)
        .env("PATH", path)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The checks of the installed tools, started in the background (mostly waiting on their own
/// LocalStack or on imports, alongside the test build): the template's cfn-lint and the
/// executor plugin's tests.
fn tool_checks(
    root: &Path,
    installed: &Installed,
    path: &OsString,
    logs: &Path,
) -> Result<Vec<Background>> {
    Ok(vec![
        Background::start(
            "lint infra/template.yaml (sam validate --lint: cfn-lint's rules)",
            "fix the template (or the generator) where the linters point",
            &mut lint_template(root, installed),
            logs.join("template-lint.log"),
        )?,
        Background::start(
            "LocalStack executor plugin tests",
            "the executor plugin (infra/localstack-executor) is broken; run its tests with the \
             LocalStack venv's python to see more",
            Command::new(&installed.localstack_python)
                .current_dir(root)
                .env("PATH", path)
                .args(["-m", "unittest", "discover"])
                .args([
                    "-s",
                    "infra/localstack-executor/tests",
                    "-t",
                    "infra/localstack-executor/tests",
                ]),
            logs.join("executor-plugin-tests.log"),
        )?,
    ])
}

/// `sam validate --lint` on the template: cfn-lint's rules, run by the SAM CLI (which reads
/// the template as `sam build` and `sam deploy` will). It runs nothing but cfn-lint (`--lint`
/// replaces sam's own translation check, which needs AWS credentials), so cfn-lint is not run
/// a second time on its own.
fn lint_template(root: &Path, installed: &Installed) -> Command {
    let mut command = Command::new(installed.tools_bin.join("sam"));
    command
        .current_dir(root)
        .env("SAM_CLI_TELEMETRY", "0")
        .args(["validate", "--lint", "--region", "us-east-1"])
        .args(["--template-file", "infra/template.yaml"]);
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alias_compiles_xtask_as_the_test_command_compiles_the_rest() {
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.cargo/config.toml");
        let text = std::fs::read_to_string(&config).expect("the workspace's .cargo/config.toml");
        let alias = text
            .lines()
            .find(|line| line.starts_with("xtask = "))
            .expect("the `cargo xtask` alias");
        for wanted in [
            format!(r#"--config build.rustc-workspace-wrapper=\"{CLIPPY_DRIVER}\""#),
            format!("--config {}={}", NOT_INCREMENTAL.0, NOT_INCREMENTAL.1),
        ] {
            assert!(alias.contains(&wanted), "{alias} lacks {wanted}");
        }
        assert_eq!(
            config_env_name(NOT_INCREMENTAL.0),
            "CARGO_PROFILE_DEV_INCREMENTAL"
        );
        assert_eq!(
            config_env_name("build.rustc-workspace-wrapper"),
            "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER"
        );
    }
}
