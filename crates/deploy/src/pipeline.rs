//! `eventrail deploy` in order, for AWS and LocalStack alike:
//!
//! 1. build: one release build of every function for the environment's architecture
//!    ([`crate::artifacts`]); on LocalStack, the host's dev-profile zips the tests share;
//! 2. check: the catalog against the one the stack was last deployed with
//!    ([`crate::catalog_snapshot`]), refusing a breaking change unless allowed;
//! 3. package: each zip under a key holding its digest (an unchanged function keeps its
//!    `CodeUri`, so CloudFormation leaves it alone), and the template;
//! 4. review: a changeset, summarised (added, modified, replaced, removed); a dry run stops
//!    here, an environment that confirms asks first;
//! 5. apply: the changeset, counted as resources complete, a failure named (first failed
//!    resource, reason, rollback outcome); then the new catalog snapshot.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use eventrail_check::compat::compatibility;
use eventrail_local::changeset::{Colour, Plan, Planned};
use eventrail_local::clients::Clients;
use eventrail_local::deploy::function_binaries;
use eventrail_local::stack::{StackDeployment, capabilities};
use eventrail_local::upload::{Uploads, bucket_name};
use eventrail_local::zips::{build_local_zips, host_architecture, target_dir};
use eventrail_local::{Installer, Progress};
use eventrail_model::{SamConfig, System, Template};
use eventrail_observe::Connection;

use crate::artifacts::{ARCHITECTURE_PARAMETER, Architecture, BuildOptions, build_artifacts};
use crate::catalog_snapshot::{CatalogSnapshot, SNAPSHOT_NAME};
use crate::error::{DeployError, Result};
use crate::parameters::{Parameters, Source};
use crate::review::{self, Detail};

/// Where the stack goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// LocalStack at this endpoint: host binaries, its archive workaround.
    LocalStack { endpoint: String },
    /// AWS, reached with this connection (profile, region).
    Aws(Connection),
}

/// Whether the changeset is run, and who decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Review {
    /// Ask when the environment confirms changesets (`confirm_changeset = true`, prod).
    AsConfigured,
    /// Run it without asking (`--yes`).
    Approved,
    /// Show it, then delete it (`--dry-run`).
    DryRun,
}

/// What to do with a breaking event change against the deployed catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakingChanges {
    Refuse,
    Allow,
}

/// Asks the operator to run a changeset (the command line reads a terminal).
pub trait Confirm {
    /// True to run the changeset summarised in `summary`.
    fn confirm(&mut self, summary: &str) -> bool;
}

/// One deploy, as the command line asked for it.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    pub root: PathBuf,
    /// The samconfig environment (`default` for dev).
    pub environment: String,
    pub target: Target,
    pub template: PathBuf,
    pub samconfig: PathBuf,
    /// Another stack name than the environment's.
    pub stack_name: Option<String>,
    /// The operator's parameters, merged over samconfig's key by key.
    pub operator_parameters: BTreeMap<String, String>,
    pub review: Review,
    pub breaking: BreakingChanges,
    pub progress: Progress,
    pub timeout: Duration,
}

/// How a deploy ended, when it did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The changeset ran.
    Deployed,
    /// Nothing differs from the deployed stack.
    UpToDate,
    /// `--dry-run`: shown, not run.
    DryRun,
    /// The operator said no.
    Declined,
}

/// What a deploy did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub stack_name: String,
    pub region: String,
    pub ending: Ending,
    /// The stack's status after the deploy (empty when it was not run).
    pub status: String,
    /// Stack outputs by key.
    pub outputs: BTreeMap<String, String>,
    /// The parameters sent, each with where it came from.
    pub parameters: Parameters,
    /// The changeset's summary as shown.
    pub summary: Option<String>,
}

/// Builds, checks, packages, reviews and applies; see the module docs.
pub async fn deploy(request: &DeployRequest, confirm: &mut dyn Confirm) -> Result<Outcome> {
    let root = &request.root;
    let mut template = Template::load(&request.template)?;
    let environment = SamConfig::load(&request.samconfig)?.environment(&request.environment)?;
    let stack_name = request
        .stack_name
        .clone()
        .or_else(|| environment.stack_name.clone())
        .unwrap_or_else(|| format!("eventrail-{}", request.environment));

    // Parameters first: the architecture to build for is one of them.
    let mut parameters = Parameters::merge(
        &environment.parameter_overrides,
        &request.operator_parameters,
    );
    if matches!(request.target, Target::LocalStack { .. }) {
        // The executor plugin runs the functions as host processes.
        parameters.set(
            ARCHITECTURE_PARAMETER,
            host_architecture(),
            Source::Samconfig,
        );
    }
    let declared: BTreeSet<String> = template
        .parameters()
        .iter()
        .map(|p| p.name.clone())
        .collect();
    let (sent, unknown) = parameters.for_template(&declared);
    if !unknown.is_empty() {
        tracing::warn!(
            "parameters the template does not declare, left out: {}",
            unknown.join(", ")
        );
    }

    let (clients, region) = clients(&request.target, environment.region.as_deref()).await;
    let functions = function_binaries(&template, &request.template)?;
    let binaries: Vec<String> = functions.iter().map(|(_, b)| b.clone()).collect();
    let architecture = match parameters.get(ARCHITECTURE_PARAMETER) {
        Some(name) => Architecture::from_lambda_name(name)?,
        None => Architecture::of_environment(&environment, &template)?,
    };
    let zips = if binaries.is_empty() {
        BTreeMap::new()
    } else {
        build(request, &binaries, architecture).await?
    };

    let (bucket, prefix) = match &request.target {
        Target::LocalStack { .. } => (
            environment
                .s3_bucket
                .clone()
                .unwrap_or_else(|| bucket_name(&stack_name)),
            stack_name.clone(),
        ),
        Target::Aws(_) => (
            match environment.s3_bucket.clone() {
                Some(bucket) => bucket,
                None => default_bucket(&clients, &region).await?,
            },
            environment
                .s3_prefix
                .clone()
                .unwrap_or_else(|| stack_name.clone()),
        ),
    };
    let uploads = Uploads::to_bucket(&clients, &bucket, &prefix).await?;

    let system = System::load(root)?;
    let snapshot = CatalogSnapshot::take(root, &system)?;
    check_catalog(root, &system, &uploads, &stack_name, request.breaking).await?;

    uploads
        .code(&mut template, &functions, &zips, request.progress)
        .await?;
    let source = uploads.template(&template).await?;

    let stack = StackDeployment::new(&clients, &stack_name, request.progress);
    let capabilities = capabilities(&environment.capabilities);
    let planned = stack
        .plan(&source, &sent, &capabilities, &environment.tags)
        .await?;
    let outcome = |ending: Ending, status: String, summary: Option<String>| Outcome {
        stack_name: stack_name.clone(),
        region: region.clone(),
        ending,
        status,
        outputs: BTreeMap::new(),
        parameters: parameters.clone(),
        summary,
    };
    let plan: Plan = match planned {
        Planned::NoChanges => {
            let mut done = outcome(Ending::UpToDate, String::new(), None);
            done.outputs = stack.outputs().await?;
            uploads
                .put_named(SNAPSHOT_NAME, snapshot.to_bytes())
                .await?;
            return Ok(done);
        }
        Planned::Changes(plan) => plan,
    };
    let detail = if request.progress.is_verbose() {
        Detail::Every
    } else {
        Detail::OneScreen
    };
    let confirming = request.review == Review::AsConfigured && environment.confirm_changeset;
    // Where each value came from matters most where changesets are confirmed (prod), also
    // when `--yes` skips the question: the log keeps what was deployed.
    if environment.confirm_changeset
        || request.review == Review::DryRun
        || request.progress.is_verbose()
    {
        println!("{}", review::parameters(&plan, &parameters));
    }
    let shown = review::changeset(&plan, Colour::of_stdout(), detail);
    let plain = review::changeset(&plan, Colour::Plain, Detail::Every);
    print!("{shown}");
    match request.review {
        Review::DryRun => {
            stack.discard(&plan).await?;
            return Ok(outcome(Ending::DryRun, String::new(), Some(plain)));
        }
        Review::AsConfigured if confirming => {
            if !confirm.confirm(&plain) {
                stack.discard(&plan).await?;
                return Ok(outcome(Ending::Declined, String::new(), Some(plain)));
            }
        }
        Review::AsConfigured | Review::Approved => {}
    }
    let applied = stack.execute(&plan, request.timeout).await?;
    let outputs = stack.outputs().await?;
    if matches!(request.target, Target::LocalStack { .. }) {
        eventrail_local::archives::ensure_archives_outside_stack(
            &clients,
            &template,
            &parameters.values(),
            &outputs,
            request.progress,
        )
        .await?;
    }
    uploads
        .put_named(SNAPSHOT_NAME, snapshot.to_bytes())
        .await?;
    let mut done = outcome(Ending::Deployed, applied.status, Some(plain));
    done.outputs = outputs;
    Ok(done)
}

/// SDK clients for the target, and the region they use.
async fn clients(target: &Target, samconfig_region: Option<&str>) -> (Clients, String) {
    match target {
        Target::LocalStack { endpoint } => {
            let region = samconfig_region.unwrap_or("us-east-1").to_owned();
            (Clients::new(endpoint, &region).await, region)
        }
        Target::Aws(connection) => {
            let config = connection.sdk_config(samconfig_region).await;
            let region = config
                .region()
                .map(|r| r.as_ref().to_owned())
                .unwrap_or_else(|| "us-east-1".to_owned());
            let label = connection
                .endpoint
                .clone()
                .unwrap_or_else(|| format!("AWS {region}"));
            (Clients::from_sdk_config(&label, config), region)
        }
    }
}

/// The zips to deploy, binary -> path.
async fn build(
    request: &DeployRequest,
    binaries: &[String],
    architecture: Architecture,
) -> Result<BTreeMap<String, PathBuf>> {
    let root = request.root.clone();
    let binaries = binaries.to_vec();
    let progress = request.progress;
    let built = match &request.target {
        // The dev-profile host build the tests share: LocalStack runs host processes.
        Target::LocalStack { .. } => {
            tokio::task::spawn_blocking(move || {
                let target = target_dir(&root);
                build_local_zips(&root, &target, &binaries, progress).map_err(DeployError::from)
            })
            .await
        }
        Target::Aws(_) => {
            tokio::task::spawn_blocking(move || {
                let installed = Installer::new(&root).ensure_build_tools()?;
                let options = BuildOptions {
                    architecture,
                    binaries,
                    target_dir: None,
                    progress,
                };
                let report = build_artifacts(&root, &installed, &options)?;
                Ok(report
                    .artifacts
                    .into_iter()
                    .map(|a| (a.binary, a.zip))
                    .collect())
            })
            .await
        }
    };
    built.map_err(|source| DeployError::BuildTask { source })?
}

/// `eventrail-artifacts-<account>-<region>`: one bucket per account and region, as SAM's
/// managed bucket is, found by the caller's account.
async fn default_bucket(clients: &Clients, region: &str) -> Result<String> {
    let sts = aws_sdk_sts::Client::new(&clients.config);
    let identity = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|source| DeployError::Aws {
            operation: "sts:GetCallerIdentity (are credentials configured? `aws configure`, or --profile)",
            source: Box::new(source),
        })?;
    let account = identity.account().unwrap_or("unknown");
    Ok(format!("eventrail-artifacts-{account}-{region}"))
}

/// Compares the catalog with the one the stack was last deployed with; a breaking change is
/// an error unless allowed.
async fn check_catalog(
    root: &Path,
    system: &System,
    uploads: &Uploads<'_>,
    stack_name: &str,
    breaking: BreakingChanges,
) -> Result<()> {
    let Some(bytes) = uploads.get_named(SNAPSHOT_NAME).await? else {
        tracing::info!(
            "catalog: none recorded for {stack_name} yet; the next deploy checks against this one"
        );
        return Ok(());
    };
    let deployed = CatalogSnapshot::from_bytes(&bytes)?;
    let dir = target_dir(root)
        .join("eventrail")
        .join("deployed-catalog")
        .join(stack_name);
    let baseline = deployed.restore(&dir)?;
    let changes = compatibility(system, &baseline)?;
    let breaking_events: Vec<String> = changes
        .iter()
        .filter(|event| event.breaking())
        .map(|event| {
            let what: Vec<String> = event
                .changes
                .iter()
                .filter(|c| c.breaking)
                .map(|c| {
                    let at = if c.path.is_empty() { "" } else { &c.path };
                    format!("{} {at}: {}", c.kind.as_str(), c.detail)
                })
                .collect();
            format!(
                "  {} (v{} -> v{}; consumers: {}): {}",
                event.detail_type,
                event.old_version,
                event.new_version,
                event.consumers_text(),
                what.join("; ")
            )
        })
        .collect();
    if breaking_events.is_empty() {
        tracing::info!("catalog: no breaking change against the deployed stack {stack_name}");
        return Ok(());
    }
    match breaking {
        BreakingChanges::Allow => {
            tracing::warn!(
                "breaking event changes against the deployed stack {stack_name}, deployed anyway (--allow-breaking):\n{}",
                breaking_events.join("\n")
            );
            Ok(())
        }
        BreakingChanges::Refuse => Err(DeployError::Breaking {
            stack: stack_name.to_owned(),
            events: breaking_events.join("\n"),
        }),
    }
}
