//! `eventrail local`: pinned tools, LocalStack (host mode, no Docker), deploys to it, and a
//! scheduled function fired now.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use eventrail_local::deploy::Build;
use eventrail_local::localstack::{self, LocalStack, LocalStackOptions};
use eventrail_local::{DeployOptions, Installer, Progress, Summary, deploy, paths};

#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Install the pinned tools into .eventrail/ (LocalStack + executor plugin, cfn-lint,
    /// aws-sam-cli, cargo-lambda, zig). Other commands do this on first use too.
    Install,
    /// Start LocalStack and leave it running (EVENTRAIL_ENDPOINT tells other tools where).
    Up(UpArgs),
    /// Stop the LocalStack started by `eventrail local up` (or `deploy`).
    Down,
    /// Build the functions, deploy infra/template.yaml to LocalStack, and print a summary:
    /// the endpoint, the REST API's local URL, the functions and the queues. Each step shows
    /// its count (`stack 87/112`) rather than every stack event (`--verbose` prints them); a
    /// failure names the first failed resource, its reason and the rollback's outcome.
    /// Starts LocalStack (left running) when none is running.
    Deploy(DeployArgs),
    /// Show the running LocalStack and the deployed stack.
    Status(StatusArgs),
    /// The AWS calls IAM enforcement denied on the local stack: the function, its role, the
    /// action, the resource and the statement that would have allowed it. Without a running
    /// LocalStack, the denials of the last run that stopped one.
    Denials(crate::denials::DenialsArgs),
    /// Run a scheduled function now: invoke it (synchronously) with the payload its schedule
    /// sends (scheduledTime = now or `--at`, truncated to the minute; a fresh executionId; the
    /// schedule's ARN; attempt 1) and print its answer. EventBridge Scheduler has no "run
    /// now", so with `--env dev|prod` the function on AWS is invoked the same way (Lambda
    /// Invoke, same payload) rather than through Scheduler.
    Fire(FireArgs),
}

#[derive(Debug, Args)]
pub struct FireArgs {
    /// The scheduled function (as declared: `nightly`).
    function: String,
    /// The scheduled time to send (RFC 3339, `2026-12-07T03:00:00Z`; truncated to the minute)
    /// instead of now: firing the same time twice is what a retried firing looks like, so it
    /// emits the same idempotency keys.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    at: Option<chrono::DateTime<chrono::Utc>>,
    /// Print the payload and the answer as one JSON object.
    #[arg(long)]
    json: bool,
    // Which stack: `--env local` (the LocalStack of `eventrail local up`) unless told.
    #[command(flatten)]
    stack: crate::ops::StackArgs,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Port on 127.0.0.1 (default: a free one).
    #[arg(long)]
    port: Option<u16>,
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Reuse the zips of the last build instead of building.
    #[arg(long)]
    no_build: bool,
    /// Build with `cargo lambda build --release` (fat LTO, as for AWS) instead of the dev
    /// profile the tests share.
    #[arg(long)]
    release: bool,
    /// samconfig.toml environment whose stack name, region and parameters to deploy with
    /// (`dev` is samconfig's `default`). `--config-env` is its old name.
    #[arg(long, default_value = "local", alias = "config-env")]
    env: String,
    /// Print the outputs as JSON.
    #[arg(long)]
    json: bool,
    /// Print every upload and every stack event as it happens, instead of each step's count.
    #[arg(long, short)]
    verbose: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// samconfig.toml environment whose stack to show (`dev` is samconfig's `default`).
    /// `--config-env` is its old name.
    #[arg(long, default_value = "local", alias = "config-env")]
    env: String,
}

pub fn run(command: LocalCommand) -> Result<ExitCode> {
    let root = paths::repo_root()?;
    match command {
        LocalCommand::Install => {
            let installed = Installer::new(&root).ensure_all()?;
            println!(
                "LocalStack python: {}",
                installed.localstack_python.display()
            );
            println!("tools:             {}", installed.tools_bin.display());
            Ok(ExitCode::SUCCESS)
        }
        LocalCommand::Up(args) => up(&root, args),
        LocalCommand::Down => down(&root),
        LocalCommand::Deploy(args) => deploy_command(&root, args),
        LocalCommand::Status(args) => status(&root, args),
        LocalCommand::Denials(args) => crate::denials::run(&root, args),
        LocalCommand::Fire(args) => fire(args),
    }
}

/// Start LocalStack detached and record it for `down`/`status`/`deploy`.
pub(crate) fn start_detached(root: &Path, port: Option<u16>) -> Result<localstack::UpState> {
    let python = Installer::new(root).ensure_localstack()?;
    let options = LocalStackOptions {
        port,
        ..LocalStackOptions::default()
    };
    let stack = LocalStack::start(root, &python, &options)?;
    let state = stack
        .keep_running(root)?
        .context("a freshly started LocalStack has no process to detach")?;
    Ok(state)
}

fn up(root: &Path, args: UpArgs) -> Result<ExitCode> {
    if let Some(state) = localstack::read_up_state(root) {
        println!(
            "LocalStack is already running at {} (pid {}); `eventrail local down` stops it",
            state.endpoint, state.pid
        );
        return Ok(ExitCode::SUCCESS);
    }
    let state = start_detached(root, args.port)?;
    println!(
        "LocalStack is running at {} (pid {}).",
        state.endpoint, state.pid
    );
    println!("log:  {}", state.log.display());
    println!("Other eventrail commands find it on their own; for other tools:");
    println!("  export EVENTRAIL_ENDPOINT={}", state.endpoint);
    println!("Stop it with `eventrail local down`.");
    Ok(ExitCode::SUCCESS)
}

fn down(root: &Path) -> Result<ExitCode> {
    match localstack::read_up_state(root) {
        Some(state) => {
            // Kept for `eventrail local denials` once LocalStack is gone (best effort: a
            // LocalStack that does not answer has nothing to keep).
            if let Ok(report) = eventrail_local::iam::denials(&state.endpoint) {
                let _ = eventrail_local::iam::save_last_report(root, &report);
            }
            localstack::stop_detached(root, &state, localstack::STOP_GRACE)?;
            println!(
                "stopped LocalStack at {} (pid {})",
                state.endpoint, state.pid
            );
        }
        None => {
            // Clear a stale record, if any.
            let _ = std::fs::remove_file(localstack::up_state_path(root));
            println!("no LocalStack started by `eventrail local up` is running");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn deploy_command(root: &Path, args: DeployArgs) -> Result<ExitCode> {
    let installer = Installer::new(root);
    let installed = installer.ensure_all()?;
    let endpoint = match localstack::endpoint_from_env() {
        Some((endpoint, _)) => endpoint,
        None => match localstack::read_up_state(root) {
            Some(state) => state.endpoint,
            None => {
                let state = start_detached(root, None)?;
                eprintln!(
                    "eventrail: LocalStack started at {} and left running (`eventrail local down` stops it)",
                    state.endpoint
                );
                state.endpoint
            }
        },
    };
    let stack = LocalStack::external(&endpoint, Duration::from_secs(10))?;
    let options = DeployOptions {
        environment: crate::ops::samconfig_environment(&args.env).to_owned(),
        build: if args.no_build {
            Build::LastBuild
        } else {
            Build::Fresh
        },
        profile: if args.release {
            eventrail_local::deploy::BuildProfile::Release
        } else {
            eventrail_local::deploy::BuildProfile::Local
        },
        progress: if args.verbose {
            Progress::Verbose
        } else {
            Progress::Shown
        },
        ..DeployOptions::local(root)
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let deployed =
        runtime.block_on(deploy::deploy(root, stack.endpoint(), &installed, &options))?;
    if args.json {
        let value = serde_json::json!({
            "endpoint": stack.endpoint(),
            "stack_name": deployed.stack_name,
            "status": deployed.status,
            "outputs": deployed.outputs,
            "code": deployed.code,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        let summary = Summary {
            place: eventrail_local::Place::LocalStack(stack.endpoint()),
            stack_name: &deployed.stack_name,
            status: &deployed.status,
            changed: deployed.changed,
            outputs: &deployed.outputs,
        };
        println!("{summary}");
    }
    Ok(ExitCode::SUCCESS)
}

fn status(root: &Path, args: StatusArgs) -> Result<ExitCode> {
    let endpoint = match localstack::endpoint_from_env() {
        Some((endpoint, variable)) => {
            println!("LocalStack endpoint from {variable}: {endpoint}");
            endpoint
        }
        None => match localstack::read_up_state(root) {
            Some(state) => {
                println!(
                    "LocalStack started by `eventrail local up`: {} (pid {}, log {})",
                    state.endpoint,
                    state.pid,
                    state.log.display()
                );
                state.endpoint
            }
            None => {
                println!("LocalStack: not running (start it with `eventrail local up`)");
                return Ok(ExitCode::from(1));
            }
        },
    };
    if let Err(error) = localstack::health(&endpoint) {
        // The cause (connection refused, a timeout) is the error's source.
        println!("health: not answering ({:#})", anyhow::Error::new(error));
        return Ok(ExitCode::from(1));
    }
    println!("health: ok");
    let samconfig = eventrail_model::SamConfig::load(root.join("samconfig.toml"))?;
    let environment = samconfig.environment(crate::ops::samconfig_environment(&args.env))?;
    let stack_name = environment
        .stack_name
        .unwrap_or_else(|| format!("eventrail-{}", args.env));
    let region = environment.region.unwrap_or_else(|| "us-east-1".to_owned());
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    match runtime.block_on(deploy::stack_outputs(&endpoint, &region, &stack_name))? {
        None => println!("stack {stack_name}: not deployed (`eventrail local deploy`)"),
        Some((status, outputs)) => {
            println!("stack {stack_name}: {status}");
            print_outputs(&outputs);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_outputs(outputs: &std::collections::BTreeMap<String, String>) {
    let width = outputs.keys().map(String::len).max().unwrap_or(0);
    for (key, value) in outputs {
        println!("  {key:<width$}  {value}");
    }
}

fn fire(args: FireArgs) -> Result<ExitCode> {
    use eventrail_observe::fire;

    let mut stack_args = args.stack;
    if stack_args.env.is_none() && std::env::var_os("EVENTRAIL_ENV").is_none() {
        stack_args.env = Some("local".to_owned());
    }
    let runtime = crate::ops::runtime()?;
    runtime.block_on(async {
        let (stack, project) = stack_args.connect().await?;
        let functions = project.functions()?;
        let Some(declared) = functions.iter().find(|f| f.name == args.function) else {
            anyhow::bail!(
                "function {} is not declared in the workspace (functions: {})",
                args.function,
                functions
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        fire::schedule_of(&declared.name, &declared.declaration).map_err(anyhow::Error::msg)?;
        let id = eventrail_contract::declaration::logical_id(&declared.name);
        let outputs = eventrail_contract::names::FunctionOutputs { logical_id: &id };
        let function_name = stack.outputs.function_name(&declared.name)?.to_owned();
        let schedule_name = stack
            .outputs
            .get(&outputs.schedule_name())
            .context("the deployed stack has no schedule for it; redeploy the template")?
            .to_owned();
        let function_arn = fire::function_arn(&stack.clients.lambda, &function_name).await?;
        let schedule_arn =
            fire::schedule_arn(&function_arn, &schedule_name).with_context(|| {
                format!("{function_name}'s ARN `{function_arn}` is not a function ARN")
            })?;
        let invocation = fire::fresh_invocation(args.at, &schedule_arn);
        let fired = fire::fire(&stack.clients.lambda, &function_name, invocation).await?;
        if args.json {
            let value = serde_json::json!({
                "function": declared.name,
                "function_name": function_name,
                "payload": fired.invocation,
                "answer": fired.answer,
                "function_error": fired.function_error,
            });
            println!("{}", serde_json::to_string_pretty(&value)?);
        } else {
            println!(
                "fired {} ({function_name}) for {} (execution {})",
                declared.name, fired.invocation.scheduled_time, fired.invocation.execution_id
            );
            let answer = serde_json::to_string_pretty(&fired.answer)?;
            match &fired.function_error {
                None => println!("answered:\n{answer}"),
                Some(kind) => println!("failed ({kind}):\n{answer}"),
            }
        }
        Ok(if fired.function_error.is_some() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    })
}

/// `--at`: an RFC 3339 time, in UTC.
fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text.trim())
        .map(|time| time.with_timezone(&chrono::Utc))
        .map_err(|e| format!("`{text}` is not an RFC 3339 time ({e}), e.g. 2026-12-07T03:00:00Z"))
}
