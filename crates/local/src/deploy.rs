//! Deploy `infra/template.yaml` to LocalStack: the steps in order, each done by a module of
//! its own.
//!
//! 1. [`crate::zips`]: build the template's functions for the host (the executor plugin runs
//!    them as host processes) and zip each binary as `bootstrap`; [`BuildProfile::Local`] (the
//!    default) shares the tests' dev-profile build, [`BuildProfile::Release`] is `cargo lambda
//!    build --release`.
//! 2. [`crate::upload`]: upload each zip to LocalStack's S3 under a key that contains its
//!    digest, and point the function's `CodeUri` at it: a re-deploy updates exactly the
//!    functions whose code changed.
//! 3. [`crate::changeset`]: plan the stack's change through LocalStack's CloudFormation with
//!    the samconfig environment's parameters and run it, counting its resources as they
//!    complete (every stack event with [`Progress::Verbose`]).
//! 4. [`crate::archives`]: create the archives LocalStack's CloudFormation cannot (a LocalStack
//!    4.13.1 workaround), and return the stack outputs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use eventrail_model::{SamConfig, Template};

use crate::archives::ensure_archives_outside_stack;
use crate::changeset::Planned;
use crate::clients::Clients;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::stack::{Applied, StackDeployment, capabilities, stack_parameters};
use crate::tools::Installed;
use crate::upload::Uploads;
use crate::zips::{build_local_zips, build_zips, built_zips, host_architecture, target_dir};

// What a deploy's callers name besides the options: the build profile they choose, and the
// outputs of a stack deployed earlier.
pub use crate::stack::stack_outputs;
pub use crate::zips::BuildProfile;

/// Whether a deploy builds the functions first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Build {
    /// Build and zip them with the options' profile, then deploy.
    #[default]
    Fresh,
    /// Upload the zips the last build with that profile left (the demo and the test command
    /// build them ahead, beside other work).
    LastBuild,
}

/// What to deploy and how.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// samconfig.toml environment to take the stack name, region and parameters from.
    pub environment: String,
    pub template: PathBuf,
    pub samconfig: PathBuf,
    /// Build the functions first, or upload the zips of the last build.
    pub build: Build,
    /// How to build them.
    pub profile: BuildProfile,
    /// Deploy under this stack name instead of the samconfig environment's.
    pub stack_name: Option<String>,
    /// Parameters set on top of the samconfig environment's (e.g. another `BusName`).
    pub parameter_overrides: BTreeMap<String, String>,
    /// Cargo's target dir for the build (default: `CARGO_TARGET_DIR`, else `<root>/target`).
    pub target_dir: Option<PathBuf>,
    /// Give up waiting for the stack after this long.
    pub timeout: Duration,
    /// Whether the build, the uploads and the stack events are reported.
    pub progress: Progress,
}

impl DeployOptions {
    /// The `local` environment of `<root>/samconfig.toml` and `<root>/infra/template.yaml`.
    pub fn local(root: &Path) -> Self {
        Self {
            environment: "local".to_owned(),
            template: root.join("infra").join("template.yaml"),
            samconfig: root.join("samconfig.toml"),
            build: Build::Fresh,
            profile: BuildProfile::Local,
            stack_name: None,
            parameter_overrides: BTreeMap::new(),
            target_dir: None,
            timeout: Duration::from_secs(600),
            progress: Progress::Shown,
        }
    }
}

/// A deployed stack.
#[derive(Debug, Clone)]
pub struct Deployed {
    pub stack_name: String,
    pub stack_id: String,
    pub status: String,
    /// Stack outputs by key (`EventBusName`, `PlannerFailureQueueUrl`, ...).
    pub outputs: BTreeMap<String, String>,
    /// Function binary name -> S3 URI of the code it runs.
    pub code: BTreeMap<String, String>,
    /// False when the stack was already up to date.
    pub changed: bool,
}

impl Deployed {
    pub fn output(&self, key: &str) -> Option<&str> {
        self.outputs.get(key).map(String::as_str)
    }
}

/// Each function of `template` (read from `path`) with the crate whose binary it runs, as
/// (logical id, crate); a function that names no crate is an error naming both.
pub fn function_binaries(template: &Template, path: &Path) -> Result<Vec<(String, String)>> {
    template
        .functions()
        .iter()
        .map(|function| match &function.binary {
            Some(binary) => Ok((function.logical_id.clone(), binary.clone())),
            None => Err(Error::Config(format!(
                "{}: function {} has no Metadata.BuildProperties.Binary and no CodeUri naming its crate",
                path.display(),
                function.logical_id
            ))),
        })
        .collect()
}

/// [`build_local_zips`] of every function `options.template` deploys, into
/// `options.target_dir` (else the workspace's target dir): what a local deploy with `build`
/// uploads, built ahead of it (the demo and the test command build beside other work, then
/// deploy with [`Build::LastBuild`]).
pub fn build_template_local_zips(
    root: &Path,
    options: &DeployOptions,
) -> Result<BTreeMap<String, PathBuf>> {
    let template = Template::load(&options.template)?;
    let binaries: Vec<String> = function_binaries(&template, &options.template)?
        .into_iter()
        .map(|(_, binary)| binary)
        .collect();
    let target = options
        .target_dir
        .clone()
        .unwrap_or_else(|| target_dir(root));
    build_local_zips(root, &target, &binaries, options.progress)
}

/// Build, upload and deploy; see the module docs.
pub async fn deploy(
    root: &Path,
    endpoint: &str,
    installed: &Installed,
    options: &DeployOptions,
) -> Result<Deployed> {
    let mut template = Template::load(&options.template)?;
    let samconfig = SamConfig::load(&options.samconfig)?;
    let environment = samconfig.environment(&options.environment)?;
    let stack_name = options
        .stack_name
        .clone()
        .or_else(|| environment.stack_name.clone())
        .unwrap_or_else(|| format!("eventrail-{}", options.environment));
    let region = environment
        .region
        .clone()
        .unwrap_or_else(|| "us-east-1".to_owned());
    let architecture = host_architecture();

    let functions = function_binaries(&template, &options.template)?;
    let binaries: Vec<String> = functions.iter().map(|(_, b)| b.clone()).collect();
    let target = options
        .target_dir
        .clone()
        .unwrap_or_else(|| target_dir(root));
    // The build (minutes when cold) and the zipping block: run them off the async runtime.
    let zips = if options.build == Build::Fresh {
        let (root, installed, profile, progress) = (
            root.to_path_buf(),
            installed.clone(),
            options.profile,
            options.progress,
        );
        let binaries = binaries.clone();
        tokio::task::spawn_blocking(move || {
            build_zips(&root, &target, &installed, &binaries, profile, progress)
        })
        .await
        .map_err(Error::BuildTask)??
    } else {
        built_zips(&target, &binaries, options.profile)
    };

    let clients = Clients::new(endpoint, &region).await;
    let uploads = Uploads::to_bucket_of(&clients, &stack_name).await?;
    let code = uploads
        .code(&mut template, &functions, &zips, options.progress)
        .await?;

    let declared: BTreeSet<String> = template
        .parameters()
        .iter()
        .map(|p| p.name.clone())
        .collect();
    let mut overrides = environment.parameter_overrides.clone();
    overrides.extend(options.parameter_overrides.clone());
    let parameters = stack_parameters(&overrides, &declared, architecture);
    let capabilities = capabilities(&environment.capabilities);
    let template_source = uploads.template(&template).await?;

    // Through a changeset, as on AWS: LocalStack 4.13.1's UpdateStack ends a failed update in
    // UPDATE_COMPLETE (docs/localstack.md), its changesets report it as AWS does.
    let stack = StackDeployment::new(&clients, &stack_name, options.progress);
    let applied = match stack
        .plan(
            &template_source,
            &parameters,
            &capabilities,
            &environment.tags,
        )
        .await?
    {
        Planned::Changes(plan) => stack.execute(&plan, options.timeout).await?,
        Planned::NoChanges => {
            options
                .progress
                .report(|| format!("stack {stack_name} is up to date"));
            let (stack_id, status) = stack.status().await?.unwrap_or_default();
            Applied {
                stack_id,
                status,
                changed: false,
            }
        }
    };
    let outputs = stack.outputs().await?;
    ensure_archives_outside_stack(
        &clients,
        &template,
        &environment.parameter_overrides,
        &outputs,
        options.progress,
    )
    .await?;
    Ok(Deployed {
        stack_name,
        stack_id: applied.stack_id,
        status: applied.status,
        outputs,
        code,
        changed: applied.changed,
    })
}
