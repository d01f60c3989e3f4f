//! `eventrail deploy`: build, check against the deployed catalog, review the changeset and
//! deploy the stack of a samconfig environment: AWS for `dev` and `prod`, LocalStack for
//! `local` (or wherever EVENTRAIL_ENDPOINT points).

use std::collections::BTreeMap;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use eventrail_deploy::guided::{self, Known};
use eventrail_deploy::parameters::{Parameters, parse_overrides};
use eventrail_deploy::pipeline::{
    BreakingChanges, Confirm, DeployRequest, Ending, Outcome, Review, Target, deploy,
};
use eventrail_local::Progress;
use eventrail_local::localstack::{self, LocalStack};
use eventrail_local::{Place, Summary, paths};
use eventrail_model::{SamConfig, Template};
use eventrail_observe::Connection;

use crate::ops::samconfig_environment;

/// Arguments of `eventrail deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The samconfig.toml environment to deploy: dev (samconfig's `default`), prod, or local
    /// (LocalStack, started if none is running).
    #[arg(long, default_value = "dev")]
    env: String,
    /// AWS profile (default: the SDK's chain: AWS_PROFILE, then `default`).
    #[arg(long)]
    profile: Option<String>,
    /// AWS region (default: the SDK's chain, then the environment's region in samconfig.toml).
    #[arg(long)]
    region: Option<String>,
    /// Ask for the stack name, the region and every parameter samconfig leaves unset, and save
    /// the answers to samconfig.toml.
    #[arg(long)]
    guided: bool,
    /// Run the changeset without asking, even where the environment confirms (prod).
    #[arg(long, short = 'y')]
    yes: bool,
    /// Show the changeset and delete it: nothing is deployed.
    #[arg(long)]
    dry_run: bool,
    /// Deploy even when an event's schema changed in a way its consumers or the archive can
    /// fail on, against the catalog the stack was deployed with.
    #[arg(long)]
    allow_breaking: bool,
    /// Parameters on top of the environment's in samconfig.toml, key by key (`Key=Value`, or
    /// SAM's `ParameterKey=Key,ParameterValue=Value`): samconfig's other values stay.
    #[arg(long, num_args = 1.., value_name = "KEY=VALUE")]
    parameter_overrides: Vec<String>,
    /// Stack name (default: the environment's `stack_name` in samconfig.toml).
    #[arg(long)]
    stack: Option<String>,
    /// The template (default: infra/template.yaml).
    #[arg(long, value_name = "FILE")]
    template_file: Option<PathBuf>,
    /// The SAM config (default: samconfig.toml).
    #[arg(long, value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// Print every upload and stack event instead of counts.
    #[arg(long)]
    verbose: bool,
    /// Give up waiting for the stack after this many seconds.
    #[arg(long, default_value_t = 1800, value_name = "SECONDS")]
    timeout: u64,
}

/// Runs `eventrail deploy`.
pub fn run(args: DeployArgs) -> Result<ExitCode> {
    let root = paths::repo_root()?;
    let environment = samconfig_environment(&args.env).to_owned();
    let template = args
        .template_file
        .clone()
        .unwrap_or_else(|| root.join("infra").join("template.yaml"));
    let samconfig = args
        .config_file
        .clone()
        .unwrap_or_else(|| root.join("samconfig.toml"));
    let mut operator = parse_overrides(&args.parameter_overrides)?;
    let mut stack_name = args.stack.clone();
    let mut region = args.region.clone();
    if args.guided {
        let answers = ask_guided(&template, &samconfig, &environment, &operator, &args)?;
        // What the answers changed is the operator's; the rest is samconfig's (saved or not).
        let samconfig_values = SamConfig::load(&samconfig)
            .and_then(|c| c.environment(&environment))
            .map(|e| e.parameter_overrides)
            .unwrap_or_default();
        operator = answers
            .parameters
            .into_iter()
            .filter(|(key, value)| samconfig_values.get(key) != Some(value))
            .collect();
        stack_name = Some(answers.stack_name);
        region = Some(answers.region);
    }

    let endpoint = match localstack::endpoint_from_env() {
        Some((endpoint, _)) => Some(endpoint),
        None if environment == "local" => Some(local_endpoint(&root)?),
        None => None,
    };
    let target = match (&endpoint, environment.as_str()) {
        (Some(endpoint), "local") => Target::LocalStack {
            endpoint: endpoint.clone(),
        },
        _ => Target::Aws(Connection {
            profile: args.profile.clone(),
            region,
            endpoint: endpoint.clone(),
        }),
    };
    let request = DeployRequest {
        root: root.clone(),
        environment,
        target: target.clone(),
        template,
        samconfig,
        stack_name,
        operator_parameters: operator,
        review: if args.dry_run {
            Review::DryRun
        } else if args.yes {
            Review::Approved
        } else {
            Review::AsConfigured
        },
        breaking: if args.allow_breaking {
            BreakingChanges::Allow
        } else {
            BreakingChanges::Refuse
        },
        progress: if args.verbose {
            Progress::Verbose
        } else {
            Progress::Shown
        },
        timeout: Duration::from_secs(args.timeout),
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let outcome = runtime.block_on(deploy(&request, &mut Terminal))?;
    print_outcome(&outcome, &target);
    Ok(match outcome.ending {
        Ending::Deployed | Ending::UpToDate | Ending::DryRun => ExitCode::SUCCESS,
        Ending::Declined => ExitCode::from(1),
    })
}

/// The LocalStack the `local` environment deploys to: the one `eventrail local up` left
/// running, else a new one (left running).
fn local_endpoint(root: &std::path::Path) -> Result<String> {
    let endpoint = match localstack::read_up_state(root) {
        Some(state) => state.endpoint,
        None => {
            let state = crate::local::start_detached(root, None)?;
            eprintln!(
                "eventrail: LocalStack started at {} and left running (`eventrail local down` stops it)",
                state.endpoint
            );
            state.endpoint
        }
    };
    LocalStack::external(&endpoint, Duration::from_secs(10))?;
    Ok(endpoint)
}

fn ask_guided(
    template: &std::path::Path,
    samconfig: &std::path::Path,
    environment: &str,
    operator: &BTreeMap<String, String>,
    args: &DeployArgs,
) -> Result<guided::Answers> {
    let parsed_template = Template::load(template)?;
    let config = SamConfig::load(samconfig)?;
    let settings = config.environment(environment).unwrap_or_default();
    let known = Known {
        stack_name: args
            .stack
            .clone()
            .or(settings.stack_name.clone())
            .unwrap_or_else(|| format!("eventrail-{environment}")),
        region: args
            .region
            .clone()
            .or(settings.region.clone())
            .unwrap_or_else(|| "us-east-1".to_owned()),
        parameters: Parameters::merge(&settings.parameter_overrides, operator).values(),
        confirm_changeset: settings.confirm_changeset,
    };
    let stdin = std::io::stdin();
    let answers = guided::ask(
        &parsed_template,
        &known,
        &mut stdin.lock(),
        &mut std::io::stderr(),
    )?;
    if answers.save {
        let text = std::fs::read_to_string(samconfig)
            .with_context(|| format!("reading {}", samconfig.display()))?;
        std::fs::write(samconfig, guided::save(&text, environment, &answers))
            .with_context(|| format!("writing {}", samconfig.display()))?;
        eprintln!(
            "saved to {} [{environment}.deploy.parameters]",
            samconfig.display()
        );
    }
    Ok(answers)
}

/// Asks on the terminal; without one (CI, a pipe) the answer is no, with what to do instead.
struct Terminal;

impl Confirm for Terminal {
    fn confirm(&mut self, _summary: &str) -> bool {
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "this environment confirms each changeset (confirm_changeset = true) and no terminal \
                 can answer: not deployed. Review it with --dry-run, then deploy with --yes."
            );
            return false;
        }
        eprint!("Deploy this changeset? [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        if std::io::stdin().lock().read_line(&mut answer).is_err() {
            return false;
        }
        matches!(answer.trim(), "y" | "Y" | "yes" | "Yes")
    }
}

fn print_outcome(outcome: &Outcome, target: &Target) {
    match outcome.ending {
        Ending::DryRun => {
            println!(
                "dry run: the changeset for {} was deleted; nothing was deployed",
                outcome.stack_name
            );
            return;
        }
        Ending::Declined => {
            println!(
                "not deployed: the changeset for {} was deleted",
                outcome.stack_name
            );
            return;
        }
        Ending::Deployed | Ending::UpToDate => {}
    }
    let changed = outcome.ending == Ending::Deployed;
    let status = if changed {
        outcome.status.as_str()
    } else {
        "deployed"
    };
    let place = match target {
        Target::LocalStack { endpoint } => Place::LocalStack(endpoint),
        Target::Aws(_) => Place::Aws {
            region: &outcome.region,
        },
    };
    let summary = Summary {
        place,
        stack_name: &outcome.stack_name,
        status,
        changed,
        outputs: &outcome.outputs,
    };
    println!("{summary}");
}
