//! Building and running the tests of `cargo xtask test`, and which tests run where: the
//! end-to-end tests on the deployed stack in one lane, every other test in another.

use std::{
    ffi::OsString,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};
use eventrail_local::Installed;

use super::browser::Browser;
use super::checks::build_denying_warnings;
use super::e2e::Environment;
use crate::step::{Step, cargo, run};
use eventrail_local::deploy::Build;

/// Building and running the tests, once the workspace's binaries are built.
pub struct Tests<'a> {
    pub root: &'a Path,
    pub path: &'a OsString,
    pub target: &'a Path,
    /// ", linted by clippy" when clippy-driver compiles the workspace's crates.
    pub by_clippy: &'static str,
    /// The browser the studio's tests drive, or why there is none.
    pub browser: &'a Browser,
}

impl Tests<'_> {
    /// Every target clippy's `--all-targets` covers: unit and integration tests, benches (in
    /// test mode) and examples.
    pub fn build_all(&self) -> Result<()> {
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
    pub fn doc_tests(&self) -> Result<()> {
        let step = Step::start("cargo test --doc --workspace (the documentation's examples)");
        run(cargo(self.root, self.path).args(["test", "--doc", "--workspace"]))
            .context("an example in the documentation fails: `cargo test --doc --workspace`")?;
        step.done();
        Ok(())
    }

    /// `cargo nextest run` of every test, ignored ones included (tests that need LocalStack or
    /// cargo-lambda are #[ignore]d so a plain `cargo test` passes offline; the test command
    /// runs them all, never skipping them silently), building what it runs first.
    pub fn nextest_building(&self) -> Command {
        let mut command = cargo(self.root, self.path);
        command
            .args(["nextest", "run", "--workspace"])
            .args(NEXTEST_RUN_ALL)
            .env("EVENTRAIL_CLI", self.cli());
        self.browser.apply(&mut command);
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
        self.browser.apply(&mut command);
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
    pub fn in_two_lanes(&self, env: &Environment, installed: &Installed) -> Result<()> {
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
                env.deploy(installed, Build::LastBuild)?;
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

/// The test binary of the `eventrail-tests` package (`tests/integration.rs`, a module per
/// area), which holds the end-to-end tests.
pub const INTEGRATION_TESTS: &str = "integration";

/// The tests that use the stack `cargo xtask test` deploys (its bus, functions and queues):
/// the modules `delivery`, `e2e`, `iam`, `ops`, `poison`, `reliability`, `studio`, `traces`
/// and `triggers` of [`INTEGRATION_TESTS`], less the one test among them that deploys a
/// stack of its own. A new end-to-end test lands in one of those
/// modules by default; one that deploys a stack of its own, or needs LocalStack only, belongs
/// to the other lane (see [`Tests::in_two_lanes`]).
const ON_THE_DEPLOYED_STACK: &str = "binary(integration) and test(/^(delivery|e2e|iam|ops|poison|reliability|studio|traces|triggers)::/) \
     and not test(=e2e::a_scaffolded_function_is_deployed_and_handles_events_from_the_bus)";

/// The tests that need LocalStack: left out by `cargo xtask test --offline`. The
/// supervisor's test starts a LocalStack of its own.
pub const NEEDS_LOCALSTACK: &str = "(binary(integration) and test(/^(delivery|deploy|deploy_command|e2e|iam|ops|parity|poison|redeploy|reliability|studio|traces|triggers|idempotency_store)::/)) \
     | (binary_id(eventrail-local::supervisor) and test(=starts_runs_a_function_and_stops_without_leftovers))";

/// The tests that need a tool installed into `.eventrail/venv` (cargo-lambda, cfn-lint): left
/// out by `cargo xtask test --offline`, which installs nothing.
pub const NEEDS_INSTALLED_TOOLS: &str = "binary(integration) and (test(/^local_invoke::/) \
     | test(=rollout::cfn_lint_accepts_the_rollouts))";

/// End-to-end tests that reconfigure a deployed function (see `test`), run after the other
/// tests on the deployed stack, one at a time.
const RUNS_ALONE: &str = "binary(integration) and \
     (test(=ops::redrive_after_the_gateway_is_back_ships_the_order_once) \
     | test(=studio::a_dead_letter_redriven_from_the_studio_after_the_gateway_is_back_ships_the_order_once) \
     | test(=traces::a_redrive_after_the_gateway_outage_continues_the_order_s_trace) \
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
