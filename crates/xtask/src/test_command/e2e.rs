//! The environment the end-to-end tests run in: LocalStack started once (or the one named by
//! `EVENTRAIL_ENDPOINT`), the stack deployed once, its outputs written to a file the tests read.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{Context, Result};
use eventrail_local::deploy::{Build, deploy};
use eventrail_local::localstack::OnStarterExit;
use eventrail_local::{DeployOptions, Installed, LocalStack, LocalStackOptions};

/// What becomes of the LocalStack a run started once the run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterRun {
    /// Stopped (also when the run is killed: it is told to stop with its starter).
    Stop,
    /// Left running and recorded for `eventrail local down` (`--keep`).
    KeepRunning,
}

/// LocalStack plus the deployed stack. Stopped by [`Environment::down`] (or on drop).
pub struct Environment {
    localstack: Option<LocalStack>,
    endpoint: String,
    outputs_file: PathBuf,
    root: PathBuf,
    after_run: AfterRun,
}

impl Environment {
    /// Starts LocalStack (or connects to the one `EVENTRAIL_ENDPOINT` names).
    pub fn start(root: &Path, installed: &Installed, after_run: AfterRun) -> Result<Self> {
        let started = Instant::now();
        eprintln!("\n==> start LocalStack (host mode, executor plugin)");
        let python = installed.localstack_python.clone();
        let options = LocalStackOptions {
            on_starter_exit: match after_run {
                AfterRun::Stop => OnStarterExit::Stop,
                AfterRun::KeepRunning => OnStarterExit::KeepRunning,
            },
            ..LocalStackOptions::default()
        };
        let localstack = LocalStack::connect_or_start(root, || Ok(python), &options)
            .context("starting LocalStack")?;
        let endpoint = localstack.endpoint().to_owned();
        eprintln!(
            "<== LocalStack at {endpoint} ({:.1}s)",
            started.elapsed().as_secs_f64()
        );
        Ok(Self {
            localstack: Some(localstack),
            endpoint,
            outputs_file: root.join("target/eventrail/stack-outputs.json"),
            root: root.to_path_buf(),
            after_run,
        })
    }

    /// Deploys `infra/template.yaml` and writes its outputs where the tests read them.
    pub fn deploy(&self, installed: &Installed, build: Build) -> Result<()> {
        let started = Instant::now();
        eprintln!("\n==> deploy infra/template.yaml to LocalStack");
        let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
        let deployed = runtime
            .block_on(deploy(
                &self.root,
                &self.endpoint,
                installed,
                &DeployOptions {
                    build,
                    ..DeployOptions::local(&self.root)
                },
            ))
            .context("deploying the stack to LocalStack")?;
        eprintln!(
            "<== stack {} {} ({:.1}s)",
            deployed.stack_name,
            deployed.status,
            started.elapsed().as_secs_f64()
        );
        if let Some(dir) = self.outputs_file.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let document = serde_json::json!({
            "stack_name": deployed.stack_name,
            "endpoint": self.endpoint,
            "outputs": deployed.outputs,
        });
        std::fs::write(&self.outputs_file, serde_json::to_vec_pretty(&document)?)
            .with_context(|| format!("writing {}", self.outputs_file.display()))?;
        Ok(())
    }

    /// Points a test command at this environment.
    pub fn apply(&self, command: &mut Command) {
        command
            .env("EVENTRAIL_ENDPOINT", &self.endpoint)
            .env("EVENTRAIL_STACK_OUTPUTS", &self.outputs_file);
    }

    /// The calls IAM enforcement denied during the run, kept in `.eventrail/` (for `eventrail
    /// local denials` once LocalStack is gone); an error names every denial no test caused on
    /// purpose and asserted. With enforcement off, it says so.
    pub fn check_denials(&self) -> Result<()> {
        use eventrail_local::iam;
        let report = iam::denials(&self.endpoint).context("reading LocalStack's IAM denials")?;
        let saved = iam::save_last_report(&self.root, &report)?;
        if report.enforcement == iam::Enforcement::Off {
            eprintln!("warning: {}", iam::OFF_WARNING);
            return Ok(());
        }
        if let Some(problem) = &report.evaluator_problem {
            anyhow::bail!("IAM enforcement is on but its evaluator cannot run: {problem}");
        }
        let unexpected = report.unexpected();
        eprintln!(
            "IAM: {} denial(s) during the run, {} caused on purpose by tests (`eventrail local \
             denials` shows them; saved to {})",
            report.denials.len(),
            report.denials.len() - unexpected.len(),
            saved.display()
        );
        if unexpected.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for denial in &unexpected {
            text.push_str(&format!(
                "\n  #{} {}: role {} may not {} on {} ({})",
                denial.id,
                denial.function,
                denial.role_name(),
                denial.action,
                denial.resource,
                denial.decision
            ));
        }
        anyhow::bail!(
            "IAM denied {} call(s) that no test caused on purpose: on AWS these calls would fail \
             too. Fix the role or resource policy (see `eventrail local denials` for the statement \
             that would allow each):{text}",
            unexpected.len()
        )
    }

    /// Stops LocalStack (unless it was already running, or `--keep`).
    pub fn down(mut self) -> Result<()> {
        let Some(localstack) = self.localstack.take() else {
            return Ok(());
        };
        if self.after_run == AfterRun::KeepRunning {
            if let Some(state) = localstack.keep_running(&self.root)? {
                eprintln!(
                    "LocalStack left running at {} (pid {}); stop it with `cargo run -p eventrail -- local down`",
                    state.endpoint, state.pid
                );
            }
            return Ok(());
        }
        eprintln!("\n==> stop LocalStack");
        localstack.stop().context("stopping LocalStack")
    }
}
