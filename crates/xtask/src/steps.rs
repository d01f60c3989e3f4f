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
    name: String,
    started: Instant,
}

impl Step {
    fn start(name: &str) -> Self {
        eprintln!("\n==> {name}");
        Self {
            name: name.to_owned(),
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
    // Without the variables `cargo xtask` (a `cargo run`) set for xtask: see
    // `clear_package_env`.
    let mut command = eventrail_local::tools::cargo_command();
    command.current_dir(root).env("PATH", path);
    command
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
    // to stop when the thread that started it ends.)
    let installing = {
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
    };

    let step = Step::start("cargo fmt --check");
    run(cargo(&root, &path).args(["fmt", "--all", "--check"]))
        .context("formatting differs: run `cargo fmt --all`")?;
    step.done();

    let step = Step::start("cargo xtask unify --check (one compiled graph for every local build)");
    unify(&crate::unify::UnifyOptions { check: true })?;
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
    let (built, installed, environment) = std::thread::scope(|scope| {
        let building = scope.spawn(|| build_denying_warnings(&mut build));
        let installed = installing
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the install thread panicked")));
        // Started from this thread, which lives as long as the run: LocalStack is told to
        // stop when the thread that started it ends.
        let environment = match &installed {
            Ok(installed) if whole => Some(crate::e2e::Environment::start(
                &root,
                installed,
                options.keep,
            )),
            _ => None,
        };
        let built = building
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the build thread panicked")));
        (built, installed, environment)
    });
    built?;
    step.done();
    let installed = installed?;
    let environment = environment.transpose()?;
    let path = installed.path_env();

    let step = Step::start(
        "eventrail lint (catalog, declarations, template, samples; generated files not stale)",
    );
    run(cargo(&root, &path).args(["run", "--quiet", "-p", "eventrail", "--", "lint"])).context(
        "`eventrail lint` has findings: fix them or declare an exception with its reason",
    )?;
    step.done();

    // Python checks, mostly waiting on their own LocalStack or on imports: alongside the
    // test build.
    let target = eventrail_local::deploy::target_dir(&root);
    let logs = target.join("xtask-logs");
    let mut checks = vec![
        Background::start(
            "lint infra/template.yaml (sam validate --lint: cfn-lint's rules)",
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
    ensure_nextest(&root, &path)?;
    let tests = Tests {
        root: &root,
        path: &path,
        target: &target,
        by_clippy,
    };

    let result = if options.offline {
        tests.build_all()?;
        if options.nextest_args.is_empty() {
            tests.doc_tests()?;
        }
        let mut nextest = tests.nextest_building();
        nextest
            .args(&options.nextest_args)
            .args(["-E", &format!("not ({NEEDS_LOCALSTACK})")]);
        let step = Step::start("cargo nextest run (offline: no end-to-end tests)");
        let result = run(&mut nextest);
        step.done();
        result
    } else if !options.nextest_args.is_empty() {
        tests.build_all()?;
        let env = crate::e2e::Environment::start(&root, &installed, options.keep)?;
        env.deploy(&installed, true)?;
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
    } else {
        let env = environment.context("LocalStack was not started for the whole run")?;
        let result = tests.in_two_lanes(&env, &installed);
        let denials = env.check_denials();
        env.down()?;
        result.and(denials)
    };
    finish_all(checks).and(result)?;
    eprintln!(
        "\nall checks passed in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Building and running the tests, once the workspace's binaries are built.
struct Tests<'a> {
    root: &'a Path,
    path: &'a OsString,
    target: &'a Path,
    /// ", linted by clippy" when clippy-driver compiles the workspace's crates.
    by_clippy: &'static str,
}

impl Tests<'_> {
    /// Every target clippy's `--all-targets` covers: unit and integration tests, benches (in
    /// test mode) and examples.
    fn build_all(&self) -> Result<()> {
        let step = Step::start(&format!(
            "cargo test --workspace --all-targets --no-run{} (the tests, benches and examples, \
             on the same graph)",
            self.by_clippy
        ));
        build_denying_warnings(cargo(self.root, self.path).args([
            "test",
            "--workspace",
            "--all-targets",
            "--no-run",
        ]))?;
        step.done();
        Ok(())
    }

    /// The examples in the documentation (nextest does not run doctests): `cargo test --doc`.
    fn doc_tests(&self) -> Result<()> {
        let step = Step::start("cargo test --doc --workspace (the documentation's examples)");
        run(cargo(self.root, self.path).args(["test", "--doc", "--workspace"]))
            .context("an example in the documentation fails: `cargo test --doc --workspace`")?;
        step.done();
        Ok(())
    }

    /// `cargo nextest run` of every test, ignored ones included (tests that need LocalStack or
    /// cargo-lambda are #[ignore]d so a plain `cargo test` passes offline; the test command
    /// runs them all, never skipping them silently), building what it runs first.
    fn nextest_building(&self) -> Command {
        let mut command = cargo(self.root, self.path);
        command
            .args(["nextest", "run", "--workspace"])
            .args(NEXTEST_RUN_ALL)
            .env("EVENTRAIL_CLI", self.cli());
        command
    }

    /// `cargo nextest run` of the test binaries `list` wrote down: it runs no cargo build, so
    /// it never waits on cargo's lock while another lane's test builds a scratch copy.
    fn nextest_listed(&self, list: &Listed) -> Command {
        let mut command = cargo(self.root, self.path);
        command
            .args(["nextest", "run", "--binaries-metadata"])
            .arg(&list.binaries)
            .arg("--cargo-metadata")
            .arg(&list.cargo_metadata)
            .args(NEXTEST_RUN_ALL)
            .env("EVENTRAIL_CLI", self.cli());
        command
    }

    /// The `eventrail` binary the build step left (the tests run it instead of `cargo run`).
    fn cli(&self) -> PathBuf {
        self.target.join("debug").join("eventrail")
    }

    /// Writes the output of `command` to `to`; fails naming the command.
    fn write_output(command: &mut Command, to: &Path) -> Result<()> {
        let shown = format!("{command:?}");
        let output = command
            .stderr(std::process::Stdio::inherit())
            .output()
            .with_context(|| format!("could not start {shown}"))?;
        if !output.status.success() {
            bail!("{shown} failed ({})", output.status);
        }
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(to, &output.stdout).with_context(|| format!("writing {}", to.display()))
    }

    /// Writes down the workspace's cargo metadata once, for every [`Tests::list`].
    fn write_cargo_metadata(&self) -> Result<PathBuf> {
        let to = self
            .target
            .join("xtask-nextest")
            .join("cargo-metadata.json");
        Self::write_output(
            cargo(self.root, self.path).args([
                "metadata",
                "--format-version",
                "1",
                "--all-features",
                "--no-deps",
            ]),
            &to,
        )?;
        Ok(to)
    }

    /// Writes down the test binaries `cargo test <selection>` builds, for [`nextest_listed`].
    fn list(&self, name: &str, selection: &[&str], cargo_metadata: &Path) -> Result<Listed> {
        let listed = Listed {
            binaries: self
                .target
                .join("xtask-nextest")
                .join(format!("{name}-binaries.json")),
            cargo_metadata: cargo_metadata.to_path_buf(),
        };
        Self::write_output(
            cargo(self.root, self.path)
                .args(["nextest", "list", "--list-type", "binaries-only"])
                .args(["--message-format", "json"])
                .args(selection),
            &listed.binaries,
        )?;
        Ok(listed)
    }

    /// The deploy and the end-to-end tests on the deployed stack ([stack] lane, built with the
    /// binaries) overlap the build of the other tests, then those ([other] lane) run beside
    /// them. The stack's tests run two at a time, as they were written for; a test that
    /// reconfigures a deployed function runs after the others on the stack.
    fn in_two_lanes(&self, env: &crate::e2e::Environment, installed: &Installed) -> Result<()> {
        let step = Step::start("zip the functions for LocalStack (dev profile, built above)");
        let options = eventrail_local::DeployOptions {
            target_dir: Some(self.target.to_path_buf()),
            ..eventrail_local::DeployOptions::local(self.root)
        };
        eventrail_local::deploy::build_template_local_zips(self.root, &options)
            .context("building the functions for LocalStack")?;
        step.done();

        // Before the next build takes cargo's lock: the stack's test binaries, built above.
        let cargo_metadata = self.write_cargo_metadata()?;
        let stack_list = self.list(
            "stack",
            &["--workspace", "--test", INTEGRATION_TESTS],
            &cargo_metadata,
        )?;

        std::thread::scope(|scope| {
            let stack_lane = scope.spawn(move || -> Result<()> {
                env.deploy(installed, false)?;
                let mut first = self.nextest_listed(&stack_list);
                // Two at a time whatever the machine: the load the stack's tests were written
                // for (more at once on LocalStack has retried invocations and duplicated an
                // event, see BENCHMARKS.md section 4).
                first.args([
                    "--test-threads",
                    "2",
                    "-E",
                    &format!("({ON_THE_DEPLOYED_STACK}) and not ({RUNS_ALONE})"),
                ]);
                env.apply(&mut first);
                let result = Lane::start("stack", &mut first)?.finish();
                let mut alone = self.nextest_listed(&stack_list);
                alone.args(["--test-threads", "1", "-E", RUNS_ALONE]);
                env.apply(&mut alone);
                result.and(Lane::start("stack", &mut alone)?.finish())
            });

            let other = self.build_all().and_then(|()| {
                self.doc_tests()?;
                // The targets nextest runs, all built above (its default selection would also
                // build the examples outside test mode: another compile for nothing to run).
                let list = self.list(
                    "all",
                    &["--workspace", "--lib", "--bins", "--tests"],
                    &cargo_metadata,
                )?;
                let mut other = self.nextest_listed(&list);
                other.args(["-E", &format!("not ({ON_THE_DEPLOYED_STACK})")]);
                env.apply(&mut other);
                Lane::start("other", &mut other)?.finish()
            });
            let stack = stack_lane
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the stack lane's thread panicked")));
            stack.and(other)
        })
    }
}

/// Written down by [`Tests::list`].
struct Listed {
    binaries: PathBuf,
    cargo_metadata: PathBuf,
}

/// `cargo nextest run` arguments: every test, ignored ones included, all failures reported.
const NEXTEST_RUN_ALL: [&str; 3] = ["--no-fail-fast", "--run-ignored", "all"];

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

/// Runs a cargo build with its diagnostics as JSON, shows each one as cargo would, and fails
/// on a warning as `-D warnings` would (dependencies' lints are capped by cargo, so every
/// warning is the workspace's own). Cached warnings of fresh crates are replayed, so a rerun
/// fails too until they are fixed.
fn build_denying_warnings(command: &mut Command) -> Result<()> {
    use std::io::{BufRead, IsTerminal};
    let format = if std::io::stderr().is_terminal() {
        "--message-format=json-diagnostic-rendered-ansi"
    } else {
        "--message-format=json"
    };
    command.arg(format).stdout(std::process::Stdio::piped());
    let shown = format!("{command:?}");
    let mut child = command
        .spawn()
        .with_context(|| format!("could not start {shown}"))?;
    let mut warnings = 0usize;
    if let Some(stdout) = child.stdout.take() {
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.with_context(|| format!("reading the output of {shown}"))?;
            let Some(diagnostic) = compiler_diagnostic(&line) else {
                continue;
            };
            eprint!("{}", diagnostic.rendered);
            warnings += usize::from(diagnostic.counts_as_warning());
        }
    }
    let status = child
        .wait()
        .with_context(|| format!("waiting for {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status}); its errors are above");
    }
    if warnings > 0 {
        bail!(
            "{warnings} warning(s) from the compiler or clippy, above: fix them (the test command \
             denies warnings, as `cargo clippy --all-targets -- -D warnings` does)"
        );
    }
    Ok(())
}

/// One diagnostic of a `compiler-message` line of cargo's JSON output.
#[derive(Debug, PartialEq)]
struct Diagnostic {
    level: String,
    message: String,
    rendered: String,
}

impl Diagnostic {
    /// A warning, not rustc's closing "N warnings emitted" count.
    fn counts_as_warning(&self) -> bool {
        self.level == "warning"
            && !(self.message.ends_with(" warnings emitted")
                || self.message.ends_with(" warning emitted"))
    }
}

/// The diagnostic on a line of cargo's JSON messages, if the line is one.
fn compiler_diagnostic(line: &str) -> Option<Diagnostic> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    if value.get("reason")?.as_str()? != "compiler-message" {
        return None;
    }
    let message = value.get("message")?;
    let text = |field: &str| {
        message
            .get(field)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Some(Diagnostic {
        level: text("level"),
        message: text("message"),
        rendered: text("rendered"),
    })
}

/// The test binary of the `eventrail-tests` package (`tests/integration.rs`, a module per
/// area), which holds the end-to-end tests.
const INTEGRATION_TESTS: &str = "integration";

/// The tests that use the stack `cargo xtask test` deploys (its bus, functions and queues):
/// the modules `e2e`, `ops` and `reliability` of [`INTEGRATION_TESTS`], less the one test
/// among them that deploys a stack of its own. A new end-to-end test lands in one of those
/// modules by default; one that deploys a stack of its own, or needs LocalStack only, belongs
/// to the other lane (see [`Tests::in_two_lanes`]).
const ON_THE_DEPLOYED_STACK: &str = "binary(integration) and test(/^(delivery|e2e|iam|ops|poison|reliability)::/) \
     and not test(=e2e::a_scaffolded_function_is_deployed_and_handles_events_from_the_bus)";

/// The tests that need LocalStack: left out by `cargo xtask test --offline`. The
/// supervisor's test starts a LocalStack of its own.
const NEEDS_LOCALSTACK: &str = "(binary(integration) and test(/^(delivery|e2e|iam|ops|poison|reliability|idempotency_store)::/)) \
     | (binary_id(eventrail-local::supervisor) and test(=starts_runs_a_function_and_stops_without_leftovers))";

/// End-to-end tests that reconfigure a deployed function (see `test`), run after the other
/// tests on the deployed stack, one at a time.
const RUNS_ALONE: &str = "binary(integration) and \
     (test(=ops::redrive_after_the_gateway_is_back_ships_the_order_once) \
     | test(=iam::a_statement_removed_with_the_aws_cli_denies_inventory_s_next_dead_letter_send) \
     | test(=delivery::an_event_the_function_may_not_receive_is_dead_lettered_and_redriven_once_permitted))";

/// A `cargo nextest run` in a lane of its own: its output lines are prefixed with the lane's
/// name, as two lanes run at once.
struct Lane {
    name: &'static str,
    /// `None` once waited for.
    child: Option<std::process::Child>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Lane {
    fn start(name: &'static str, command: &mut Command) -> Result<Self> {
        use std::io::BufRead;
        let shown = format!("{command:?}");
        eprintln!("[{name}] {shown}");
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .with_context(|| format!("could not start {shown}"))?;
        let mut readers = Vec::new();
        let stdout = child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>);
        let stderr = child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>);
        for stream in [stdout, stderr].into_iter().flatten() {
            readers.push(std::thread::spawn(move || {
                for line in std::io::BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    eprintln!("[{name}] {line}");
                }
            }));
        }
        Ok(Self {
            name,
            child: Some(child),
            readers,
        })
    }

    /// Waits for the lane; fails naming it when any of its tests failed.
    fn finish(mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let status = child
            .wait()
            .with_context(|| format!("waiting for the {} lane", self.name))?;
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        if !status.success() {
            bail!(
                "the [{}] lane's cargo nextest run failed ({status}): see its lines above",
                self.name
            );
        }
        Ok(())
    }
}

impl Drop for Lane {
    /// A step failed before this lane was waited for: stop it rather than leave it running.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clippy_warning_counts_and_the_closing_tally_does_not() {
        let lint = r#"{"reason":"compiler-message","package_id":"path+file:///r/cl#0.1.0","message":{"level":"warning","message":"useless use of `vec!`","code":{"code":"clippy::useless_vec"},"spans":[],"rendered":"warning: useless use of `vec!`\n"}}"#;
        let tally = r#"{"reason":"compiler-message","message":{"level":"warning","message":"2 warnings emitted","spans":[],"rendered":"warning: 2 warnings emitted\n"}}"#;
        let artifact = r#"{"reason":"compiler-artifact","package_id":"x","filenames":[]}"#;
        let found = compiler_diagnostic(lint).expect("a diagnostic");
        assert!(found.counts_as_warning());
        assert_eq!(found.rendered, "warning: useless use of `vec!`\n");
        assert!(
            !compiler_diagnostic(tally)
                .expect("a diagnostic")
                .counts_as_warning()
        );
        assert_eq!(compiler_diagnostic(artifact), None);
        assert_eq!(compiler_diagnostic("   Compiling cl v0.1.0"), None);
    }

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

    #[test]
    fn an_error_is_shown_but_is_not_a_warning() {
        let error = r#"{"reason":"compiler-message","message":{"level":"error","message":"mismatched types","rendered":"error[E0308]: mismatched types\n"}}"#;
        let found = compiler_diagnostic(error).expect("a diagnostic");
        assert_eq!(found.level, "error");
        assert!(!found.counts_as_warning());
    }
}
