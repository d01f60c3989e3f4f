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

    let step = Step::start("cargo xtask unify --check (one compiled graph for every local build)");
    unify(&crate::unify::UnifyOptions { check: true })?;
    step.done();

    // One compiled graph (see `cargo xtask unify`): the CLI, the functions LocalStack runs and
    // the tests all reuse what this step compiles.
    let step = Step::start(
        "cargo build --workspace --bins (the CLI, the functions, the tools: one dependency graph)",
    );
    run(cargo(&root, &path).args(["build", "--workspace", "--bins"]))?;
    step.done();

    let step = Step::start(
        "eventrail lint (catalog, declarations, template, samples; generated files not stale)",
    );
    run(cargo(&root, &path).args(["run", "--quiet", "-p", "eventrail", "--", "lint"])).context(
        "`eventrail lint` has findings: fix them or declare an exception with its reason",
    )?;
    step.done();

    // Python checks, mostly waiting on their own LocalStack or on imports: alongside the
    // test build.
    let logs = eventrail_local::deploy::target_dir(&root).join("xtask-logs");
    let mut checks = vec![
        Background::start(
            "lint infra/template.yaml (cfn-lint, then sam validate --lint)",
            "fix the template (or the generator) where the linters point",
            &mut lint_template(&root, &installed),
            logs.join("template-lint.log"),
        )?,
        Background::start(
            "LocalStack executor plugin tests",
            "the executor plugin (infra/localstack-executor) is broken; run its tests with the \
             LocalStack venv's python to see more",
            Command::new(&installed.localstack_python)
                .current_dir(&root)
                .env("PATH", &path)
                .args(["-m", "unittest", "discover"])
                .args([
                    "-s",
                    "infra/localstack-executor/tests",
                    "-t",
                    "infra/localstack-executor/tests",
                ]),
            logs.join("executor-plugin-tests.log"),
        )?,
    ];

    ensure_nextest(&root, &path)?;
    let step = Step::start("cargo nextest run --no-run (build the tests on the same graph)");
    run(cargo(&root, &path).args(["nextest", "run", "--workspace", "--no-run"]))?;
    step.done();
    // Clippy compiles every dependency again in check mode, whatever the target dir. It runs
    // in its own target dir (its own lock: it never blocks the builds tests start) while the
    // tests run, which mostly wait on LocalStack.
    checks.push(Background::start(
        "cargo clippy --workspace --all-targets -- -D warnings",
        "fix the warnings clippy reports",
        cargo(&root, &path)
            .env(
                "CARGO_TARGET_DIR",
                eventrail_local::deploy::target_dir(&root).join("clippy"),
            )
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
        let result = run(&mut nextest);
        step.done();
        finish_all(checks).and(result)?;
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
        finish_all(checks).and(result)?;
    }
    eprintln!(
        "\nall checks passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A check that runs as a child process while other steps go on (the tests mostly wait on
/// LocalStack, and a build leaves a core idle at times), its output kept in a log file and
/// shown only if it fails. A failure counts like a failing test.
struct Background {
    name: &'static str,
    hint: &'static str,
    /// `None` once waited for.
    child: Option<std::process::Child>,
    log: PathBuf,
    started: Instant,
}

impl Background {
    /// Starts `command`; `hint` says what to do when it fails.
    fn start(
        name: &'static str,
        hint: &'static str,
        command: &mut Command,
        log: PathBuf,
    ) -> Result<Self> {
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let errors = file.try_clone().context("opening a log file twice")?;
        eprintln!(
            "\n==> {name} (in the background; output in {})",
            log.display()
        );
        let child = command
            .stdout(file)
            .stderr(errors)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Self {
            name,
            hint,
            child: Some(child),
            log,
            started: Instant::now(),
        })
    }

    /// Waits for the check; on failure prints its output and says what to do.
    fn finish(mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let status = child
            .wait()
            .with_context(|| format!("waiting for {}", self.name))?;
        if status.success() {
            eprintln!(
                "<== {} passed ({:.1}s, alongside other steps)",
                self.name,
                self.started.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        let output = std::fs::read_to_string(&self.log).unwrap_or_default();
        eprintln!("\n--- {} ---\n{output}", self.name);
        bail!(
            "{} failed ({status}): {} (output above and in {})",
            self.name,
            self.hint,
            self.log.display()
        )
    }
}

impl Drop for Background {
    /// A step failed before this check was waited for: stop it rather than leave it running.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits for every check in `checks`, then fails with the first failure, if any.
fn finish_all(checks: Vec<Background>) -> Result<()> {
    let mut first_error = None;
    for check in checks {
        if let Err(error) = check.finish() {
            eprintln!("xtask: {error:#}");
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(()), Err)
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

/// cfn-lint, then `sam validate --lint`, on the template: one command (through `sh -c`, so
/// the pair can run in the background as one check).
fn lint_template(root: &Path, installed: &Installed) -> Command {
    let mut command = Command::new("sh");
    command
        .current_dir(root)
        .env("SAM_CLI_TELEMETRY", "0")
        .args([
            "-c",
            "\"$0\" infra/template.yaml && \"$1\" validate --lint --region us-east-1 \
             --template-file infra/template.yaml",
        ])
        .arg(installed.tools_bin.join("cfn-lint"))
        .arg(installed.tools_bin.join("sam"));
    command
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

/// `cargo xtask unify`.
pub fn unify(options: &crate::unify::UnifyOptions) -> Result<()> {
    let root = repo_root()?;
    let functions = function_crates(&root)?;
    crate::unify::unify(&root, &functions, options)
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
