//! The steps of `cargo xtask test` and `cargo xtask zips`, each a plain function that runs
//! real commands and fails with what to do next.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{Context, Result, bail};
use eventrail_local::{Installed, Installer};

/// Options of `cargo xtask test`.
#[derive(Debug, clap::Args)]
pub struct TestOptions {
    /// Skip LocalStack, the deploy and the end-to-end tests (unit and offline tests only).
    #[arg(long)]
    pub offline: bool,
    /// Leave LocalStack running afterwards (`eventrail local down` stops it).
    #[arg(long)]
    pub keep: bool,
    /// Extra arguments for `cargo nextest run`, e.g. `-- e2e`.
    #[arg(last = true)]
    pub nextest_args: Vec<String>,
}

/// Options of `cargo xtask zips`.
#[derive(Debug, clap::Args)]
pub struct ZipOptions {
    /// Build for the host's architecture instead of arm64.
    #[arg(long)]
    pub host: bool,
}

/// Prints a step's banner and, when it ends, how long it took.
struct Step {
    name: &'static str,
    started: Instant,
}

impl Step {
    fn start(name: &'static str) -> Self {
        eprintln!("\n==> {name}");
        Self {
            name,
            started: Instant::now(),
        }
    }

    fn done(self) {
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
fn run(command: &mut Command) -> Result<()> {
    let shown = format!("{command:?}");
    let status = command
        .status()
        .with_context(|| format!("could not start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

fn cargo(root: &Path, path: &OsString) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root).env("PATH", path);
    command
}

/// `cargo xtask test`.
pub fn test(options: &TestOptions) -> Result<()> {
    let started = Instant::now();
    let root = repo_root()?;

    let step = Step::start("install pinned tools into .eventrail/ (first run only)");
    let installed = Installer::new(&root).ensure_all().context(
        "installing the pinned tools (LocalStack, cfn-lint, aws-sam-cli, cargo-lambda, zig)",
    )?;
    let path = installed.path_env();
    step.done();

    let step = Step::start("cargo fmt --check");
    run(cargo(&root, &path).args(["fmt", "--all", "--check"]))
        .context("formatting differs: run `cargo fmt --all`")?;
    step.done();

    let step = Step::start("cargo clippy --workspace --all-targets -- -D warnings");
    run(cargo(&root, &path).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    step.done();

    let step = Step::start(
        "eventrail lint (catalog, declarations, template, samples; generated files not stale)",
    );
    run(cargo(&root, &path).args(["run", "--quiet", "-p", "eventrail", "--", "lint"])).context(
        "`eventrail lint` has findings: fix them or declare an exception with its reason",
    )?;
    step.done();

    let step = Step::start("lint infra/template.yaml (cfn-lint, sam validate --lint)");
    lint_template(&root, &installed)?;
    step.done();

    let step = Step::start("LocalStack executor plugin tests");
    run(Command::new(&installed.localstack_python)
        .current_dir(&root)
        .env("PATH", &path)
        .args(["-m", "unittest", "discover"])
        .args([
            "-s",
            "infra/localstack-executor/tests",
            "-t",
            "infra/localstack-executor/tests",
        ]))
    .context("the executor plugin's tests failed")?;
    step.done();

    ensure_nextest(&root, &path)?;
    // Tests that need LocalStack or cargo-lambda are #[ignore]d so a plain `cargo test` passes
    // offline; the test command runs them all (never skipped silently here).
    let nextest_all = || {
        let mut command = cargo(&root, &path);
        command.args([
            "nextest",
            "run",
            "--workspace",
            "--no-fail-fast",
            "--run-ignored",
            "all",
        ]);
        command
    };
    let mut nextest = nextest_all();
    nextest.args(&options.nextest_args);

    if options.offline {
        nextest.args([
            "-E",
            "not binary(e2e) and not binary(ops) and not binary(reliability) and not binary(idempotency_store)",
        ]);
        let step = Step::start("cargo nextest run (offline: no end-to-end tests)");
        run(&mut nextest)?;
        step.done();
    } else {
        let env = crate::e2e::Environment::up(&root, &installed, options.keep)?;
        let step =
            Step::start("cargo nextest run --workspace (unit, offline and end-to-end tests)");
        env.apply(&mut nextest);
        // A test that changes a deployed function's configuration restarts that function's
        // environments on LocalStack, killing invocations other tests have in flight: such
        // tests run alone, after the others (only when no filter was given).
        let alone = options.nextest_args.is_empty();
        if alone {
            nextest.args(["-E", &format!("not ({RUNS_ALONE})")]);
        }
        let mut result = run(&mut nextest);
        if alone {
            let mut isolated = nextest_all();
            isolated.args(["-E", RUNS_ALONE]);
            env.apply(&mut isolated);
            let isolated = run(&mut isolated);
            result = result.and(isolated);
        }
        step.done();
        env.down()?;
        result?;
    }
    eprintln!(
        "\nall checks passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// End-to-end tests that reconfigure a deployed function (see `test`), run after the others.
const RUNS_ALONE: &str =
    "binary(ops) and test(redrive_after_the_gateway_is_back_ships_the_order_once)";

/// cargo-nextest ships with this machine kind's toolchain; install it when a machine lacks it.
fn ensure_nextest(root: &Path, path: &OsString) -> Result<()> {
    let present = cargo(root, path)
        .args(["nextest", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    let step = Step::start("cargo install cargo-nextest --locked (not on this machine)");
    run(cargo(root, path).args(["install", "cargo-nextest", "--locked"]))
        .context("installing cargo-nextest")?;
    step.done();
    Ok(())
}

fn lint_template(root: &Path, installed: &Installed) -> Result<()> {
    let template = root.join("infra/template.yaml");
    run(Command::new(installed.tools_bin.join("cfn-lint"))
        .current_dir(root)
        .arg(&template))
    .context("cfn-lint found problems in infra/template.yaml")?;
    run(Command::new(installed.tools_bin.join("sam"))
        .current_dir(root)
        .env("SAM_CLI_TELEMETRY", "0")
        .args([
            "validate",
            "--lint",
            "--region",
            "us-east-1",
            "--template-file",
        ])
        .arg(&template))
    .context("`sam validate --lint` found problems in infra/template.yaml")
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

/// The crates under `functions/`, sorted.
fn function_crates(root: &Path) -> Result<Vec<String>> {
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
