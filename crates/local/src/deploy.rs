//! Deploy `infra/template.yaml` to LocalStack.
//!
//! 1. Build the template's functions for the host (the executor plugin runs them as host
//!    processes). [`BuildProfile::Local`], the default: `cargo build` in the dev profile, the
//!    same compiled dependency graph as `cargo build`/`cargo test` in the workspace's one target
//!    dir, each binary zipped as `bootstrap` (deterministic zips, so an unchanged function keeps
//!    its code key). [`BuildProfile::Release`]: `cargo lambda build --release` (fat LTO, as AWS
//!    runs it).
//! 2. Upload each `bootstrap.zip` to LocalStack's S3 under a key that contains the zip's
//!    digest, and point the function's `CodeUri` at it: a changed binary is a changed
//!    property, so a re-deploy updates exactly the functions whose code changed.
//! 3. Create or update the stack through LocalStack's CloudFormation (it runs the SAM
//!    transform) with the `local` samconfig environment's parameters, printing stack events
//!    as they happen, and return the stack outputs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use eventrail_model::{SamConfig, Template};
use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};
use crate::tools::{self, Installed};

/// CloudFormation's limit for an inline `TemplateBody`; larger templates go through S3.
const TEMPLATE_BODY_LIMIT: usize = 51_200;

/// How often a deploy reads its stack's events to print them (its status is read every half
/// second).
const STACK_EVENTS_EVERY: Duration = Duration::from_secs(3);

/// How the functions are built for a deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuildProfile {
    /// Host binaries in cargo's dev profile: no LTO, shared with the tests' build. LocalStack
    /// needs nothing more.
    #[default]
    Local,
    /// `cargo lambda build --release`: the release profile (fat LTO), as deployed to AWS.
    Release,
}

/// What to deploy and how.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// samconfig.toml environment to take the stack name, region and parameters from.
    pub environment: String,
    pub template: PathBuf,
    pub samconfig: PathBuf,
    /// Build the functions first (otherwise reuse the zips of the last build).
    pub build: bool,
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
    pub verbose: bool,
}

impl DeployOptions {
    /// The `local` environment of `<root>/samconfig.toml` and `<root>/infra/template.yaml`.
    pub fn local(root: &Path) -> Self {
        Self {
            environment: "local".to_owned(),
            template: root.join("infra").join("template.yaml"),
            samconfig: root.join("samconfig.toml"),
            build: true,
            profile: BuildProfile::Local,
            stack_name: None,
            parameter_overrides: BTreeMap::new(),
            target_dir: None,
            timeout: Duration::from_secs(600),
            verbose: true,
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

/// The Lambda architecture name of this machine (`x86_64` or `arm64`).
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "x86_64",
    }
}

/// The `cargo lambda build` flag for an architecture.
pub fn architecture_flag(architecture: &str) -> &'static str {
    if architecture == "arm64" {
        "--arm64"
    } else {
        "--x86-64"
    }
}

/// Parameters for the stack: the environment's overrides, with `Architecture` forced to
/// the host's (the functions run as host processes under the executor plugin).
pub fn stack_parameters(
    overrides: &BTreeMap<String, String>,
    declared: &BTreeSet<String>,
    architecture: &str,
) -> BTreeMap<String, String> {
    let mut parameters = overrides.clone();
    if declared.contains("Architecture") {
        parameters.insert("Architecture".to_owned(), architecture.to_owned());
    }
    parameters
}

/// S3 key of a function's code: changes whenever the zip's bytes change.
pub fn code_key(prefix: &str, binary: &str, zip: &[u8]) -> String {
    let digest = Sha256::digest(zip);
    let short: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{prefix}/{binary}-{short}.zip")
}

/// Where [`build_local_zips`] writes, under the target dir.
pub const LOCAL_ZIPS_DIR: &str = "lambda-local";

/// Builds `binaries` for the host in cargo's dev profile (the graph the tests share) and zips
/// each as `bootstrap` into `target/lambda-local/<binary>/bootstrap.zip`; returns binary ->
/// zip path. A zip newer than its binary is kept, and zips are deterministic (fixed entry
/// time), so an unchanged function keeps the same code key and is not redeployed.
pub fn build_local_zips(
    root: &Path,
    target: &Path,
    binaries: &[String],
    verbose: bool,
) -> Result<BTreeMap<String, PathBuf>> {
    let started = Instant::now();
    if verbose {
        tracing::info!(
            "building {} function(s) for LocalStack: {} (dev profile, shared with \
             `cargo build` and the tests; a cold build takes a few minutes on 2 cores, a warm one seconds)",
            binaries.len(),
            binaries.join(", ")
        );
    }
    let mut command = tools::cargo_command();
    command
        .current_dir(root)
        .env("CARGO_TARGET_DIR", target)
        .arg("build");
    for binary in binaries {
        command.args(["--package", binary]);
    }
    run_build(&mut command, "")?;
    let bin_dir = target.join("debug");
    let out_dir = target.join(LOCAL_ZIPS_DIR);
    let zips: BTreeMap<String, PathBuf> = binaries
        .iter()
        .map(|binary| (binary.clone(), out_dir.join(binary).join("bootstrap.zip")))
        .collect();
    let stale: Vec<(PathBuf, &PathBuf)> = zips
        .iter()
        .map(|(binary, zip)| (bin_dir.join(binary), zip))
        .filter(|(executable, zip)| zip_is_stale(executable, zip))
        .collect();
    // Each zip deflates a ~60 MB debug binary; they are independent, so all run at once.
    std::thread::scope(|scope| {
        let zipping: Vec<_> = stale
            .iter()
            .map(|(executable, zip)| scope.spawn(move || zip_bootstrap(executable, zip)))
            .collect();
        zipping.into_iter().try_for_each(|thread| {
            thread
                .join()
                .unwrap_or_else(|_| Err(Error::Build("a zipping thread panicked".to_owned())))
        })
    })?;
    let zipped = stale.len();
    if verbose {
        tracing::info!(
            "built {} function(s), zipped {zipped} changed, in {:.0} s",
            binaries.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(zips)
}

/// Runs a build command, its output going to the terminal; returns it as shown to people.
/// `hint` follows the error when the command cannot start.
fn run_build(command: &mut Command, hint: &str) -> Result<String> {
    let shown = tools::describe(command);
    let status = command
        .status()
        .io_context(|| format!("starting `{shown}`{hint}"))?;
    if !status.success() {
        return Err(Error::Build(format!(
            "`{shown}` failed ({status}); the compiler output above says why"
        )));
    }
    Ok(shown)
}

fn zip_is_stale(executable: &Path, zip: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(executable), modified(zip)) {
        (Some(binary), Some(zipped)) => binary > zipped,
        _ => true,
    }
}

/// Zips `executable` as the single entry `bootstrap` (mode 0755, fixed time) into `zip`.
pub fn zip_bootstrap(executable: &Path, zip: &Path) -> Result<()> {
    use std::io::Write as _;
    let bytes = std::fs::read(executable)
        .io_context(|| format!("reading {} (was the function built?)", executable.display()))?;
    if let Some(dir) = zip.parent() {
        std::fs::create_dir_all(dir).io_context(|| format!("creating {}", dir.display()))?;
    }
    let partial = zip.with_extension("zip.partial");
    let file =
        std::fs::File::create(&partial).io_context(|| format!("creating {}", partial.display()))?;
    let mut writer = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .unix_permissions(0o755)
        .last_modified_time(zip::DateTime::default());
    let fail = |e: zip::result::ZipError| Error::Build(format!("zipping {}: {e}", zip.display()));
    writer.start_file("bootstrap", options).map_err(fail)?;
    writer
        .write_all(&bytes)
        .io_context(|| format!("writing {}", partial.display()))?;
    writer.finish().map_err(fail)?;
    std::fs::rename(&partial, zip).io_context(|| format!("writing {}", zip.display()))?;
    Ok(())
}

/// Build release zips of `binaries` for `architecture`; returns binary -> zip path.
pub fn build_zips(
    root: &Path,
    installed: &Installed,
    binaries: &[String],
    architecture: &str,
    verbose: bool,
) -> Result<BTreeMap<String, PathBuf>> {
    let started = Instant::now();
    if verbose {
        tracing::info!(
            "building release zips for {} ({architecture}); a clean release build takes several minutes",
            binaries.join(", ")
        );
    }
    let mut command = Command::new(installed.tools_bin.join("cargo-lambda"));
    tools::clear_package_env(&mut command);
    command
        .current_dir(root)
        .env("PATH", installed.path_env())
        .args(["lambda", "build", "--release", "--output-format", "zip"])
        .arg(architecture_flag(architecture));
    for binary in binaries {
        command.args(["--package", binary]);
    }
    // Progress (cargo's own lines) goes straight to the terminal.
    let shown = run_build(&mut command, " (run `eventrail local install`?)")?;
    let lambda_dir = target_dir(root).join("lambda");
    let mut zips = BTreeMap::new();
    for binary in binaries {
        let zip = lambda_dir.join(binary).join("bootstrap.zip");
        if !zip.is_file() {
            return Err(Error::Build(format!(
                "`{shown}` succeeded but {} is missing; is `{binary}` a binary crate in functions/?",
                zip.display()
            )));
        }
        zips.insert(binary.clone(), zip);
    }
    if verbose {
        tracing::info!(
            "built {} zips in {:.0} s",
            zips.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(zips)
}

/// The workspace's target dir (`CARGO_TARGET_DIR` if set).
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root.join(dir)
            }
        })
        .unwrap_or_else(|| root.join("target"))
}

/// Clients for a LocalStack endpoint.
#[derive(Debug, Clone)]
pub struct Clients {
    pub endpoint: String,
    pub config: aws_config::SdkConfig,
}

impl Clients {
    /// SDK configuration for LocalStack: its endpoint, the region, test credentials.
    pub async fn new(endpoint: &str, region: &str) -> Self {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            // LocalStack answers plain HTTP: no TLS stack is set up.
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new(region.to_owned()))
            .credentials_provider(aws_sdk_cloudformation::config::Credentials::new(
                "test",
                "test",
                None,
                None,
                "localstack",
            ))
            .load()
            .await;
        Self {
            endpoint: endpoint.to_owned(),
            config,
        }
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        // LocalStack serves buckets by path; virtual-host names would need DNS.
        let config = aws_sdk_s3::config::Builder::from(&self.config)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.config)
    }

    fn aws_error(&self, operation: &str, error: impl std::fmt::Display) -> Error {
        Error::Aws {
            operation: operation.to_owned(),
            endpoint: self.endpoint.clone(),
            message: error.to_string(),
        }
    }
}

/// Full message of an SDK error (the Display of `SdkError` alone is just "service error").
fn sdk_message<E, R>(error: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// Each function of `template` (read from `path`) with the crate whose binary it runs, as
/// (logical id, crate); a function that names no crate is an error naming both.
fn function_binaries(template: &Template, path: &Path) -> Result<Vec<(String, String)>> {
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
/// deploy with `build: false`).
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
    build_local_zips(root, &target, &binaries, options.verbose)
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
    let zips = {
        let (root, installed, profile, build, verbose) = (
            root.to_path_buf(),
            installed.clone(),
            options.profile,
            options.build,
            options.verbose,
        );
        let binaries = binaries.clone();
        tokio::task::spawn_blocking(move || match (build, profile) {
            (true, BuildProfile::Local) => build_local_zips(&root, &target, &binaries, verbose),
            (true, BuildProfile::Release) => {
                build_zips(&root, &installed, &binaries, architecture, verbose)
            }
            (false, profile) => {
                let lambda_dir = target.join(match profile {
                    BuildProfile::Local => LOCAL_ZIPS_DIR,
                    BuildProfile::Release => "lambda",
                });
                Ok(binaries
                    .iter()
                    .map(|b| (b.clone(), lambda_dir.join(b).join("bootstrap.zip")))
                    .collect())
            }
        })
        .await
        .map_err(|e| Error::Build(format!("the build task stopped: {e}")))??
    };

    let clients = Clients::new(endpoint, &region).await;
    let s3 = clients.s3();
    let bucket = format!("{stack_name}-artifacts");
    ensure_bucket(&clients, &s3, &bucket).await?;
    let mut code = BTreeMap::new();
    for (logical_id, binary) in &functions {
        let zip_path = &zips[binary];
        let bytes = tokio::fs::read(zip_path).await.io_context(|| {
            format!(
                "reading {} (build it with `cargo lambda build --release --output-format zip`)",
                zip_path.display()
            )
        })?;
        let key = code_key(&stack_name, binary, &bytes);
        let size = bytes.len();
        s3.put_object()
            .bucket(&bucket)
            .key(&key)
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| clients.aws_error("s3:PutObject", sdk_message(&e)))?;
        let uri = format!("s3://{bucket}/{key}");
        if options.verbose {
            tracing::info!(
                "uploaded {binary} ({:.1} MB) to {uri}",
                size as f64 / 1_048_576.0
            );
        }
        template.set_code_uri(logical_id, serde_json::Value::String(uri.clone()))?;
        code.insert(binary.clone(), uri);
    }

    let declared: BTreeSet<String> = template
        .parameters()
        .iter()
        .map(|p| p.name.clone())
        .collect();
    let mut overrides = environment.parameter_overrides.clone();
    overrides.extend(options.parameter_overrides.clone());
    let parameters = stack_parameters(&overrides, &declared, architecture);
    let capabilities: Vec<Capability> = if environment.capabilities.is_empty() {
        vec![Capability::CapabilityIam, Capability::CapabilityAutoExpand]
    } else {
        environment
            .capabilities
            .iter()
            .map(|c| Capability::from(c.as_str()))
            .collect()
    };

    let body = template.to_json_string();
    let template_source = if body.len() <= TEMPLATE_BODY_LIMIT {
        TemplateSource::Body(body)
    } else {
        let key = format!(
            "{stack_name}/template-{}.json",
            short_digest(body.as_bytes())
        );
        s3.put_object()
            .bucket(&bucket)
            .key(&key)
            .body(body.into_bytes().into())
            .send()
            .await
            .map_err(|e| clients.aws_error("s3:PutObject", sdk_message(&e)))?;
        TemplateSource::Url(format!("{endpoint}/{bucket}/{key}"))
    };

    let stack = StackDeployment {
        clients: &clients,
        stack_name: &stack_name,
        verbose: options.verbose,
    };
    let (stack_id, status, changed) = stack
        .create_or_update(
            &template_source,
            &parameters,
            &capabilities,
            options.timeout,
        )
        .await?;
    let outputs = stack.outputs().await?;
    if options.verbose {
        tracing::info!("stack {stack_name} is {status}");
    }
    ensure_archives_outside_stack(
        &clients,
        &template,
        &environment.parameter_overrides,
        &outputs,
        options.verbose,
    )
    .await?;
    Ok(Deployed {
        stack_name,
        stack_id,
        status,
        outputs,
        code,
        changed,
    })
}

/// Creates the archives the stack skipped on this stage (`Condition` false: LocalStack
/// 4.13.1's CloudFormation has no `AWS::Events::Archive` provider) through the EventBridge
/// API, with the template's pattern and retention. Name and source bus come from the
/// `ArchiveName` and `EventBusArn` outputs. An archive that already exists is kept.
async fn ensure_archives_outside_stack(
    clients: &Clients,
    template: &Template,
    overrides: &BTreeMap<String, String>,
    outputs: &BTreeMap<String, String>,
    verbose: bool,
) -> Result<()> {
    let skipped: Vec<_> = template
        .archives()
        .iter()
        .filter(|a| a.condition.is_some())
        .collect();
    if skipped.is_empty() {
        return Ok(());
    }
    let output = |key: &str| {
        outputs.get(key).cloned().ok_or_else(|| {
            Error::Config(format!(
                "the stack has no output {key}; infra/template.yaml must output it so the harness \
                 can create the archive on the local stage"
            ))
        })
    };
    let name = output("ArchiveName")?;
    let source_arn = output("EventBusArn")?;
    let events = aws_sdk_eventbridge::Client::new(&clients.config);
    for archive in skipped {
        let retention = match &archive.retention_days {
            Some(eventrail_model::Setting::Literal(days)) => Some(*days),
            Some(eventrail_model::Setting::Parameter { name, default, .. }) => overrides
                .get(name)
                .and_then(|v| v.parse::<i64>().ok())
                .or(*default),
            _ => None,
        };
        let mut request = events
            .create_archive()
            .archive_name(&name)
            .event_source_arn(&source_arn)
            .description("created by the eventrail harness: LocalStack's CloudFormation has no archive provider");
        if let Some(pattern) = &archive.pattern {
            request = request.event_pattern(pattern.to_string());
        }
        if let Some(days) = retention.and_then(|d| i32::try_from(d).ok()) {
            request = request.retention_days(days);
        }
        match request.send().await {
            Ok(_) => {
                if verbose {
                    tracing::info!(
                        "created archive {name} on {source_arn} ({} is skipped by the stack on this stage)",
                        archive.logical_id
                    );
                }
            }
            Err(e) => {
                let message = aws_sdk_eventbridge::error::DisplayErrorContext(&e).to_string();
                if !message.contains("ResourceAlreadyExists") {
                    return Err(clients.aws_error("events:CreateArchive", message));
                }
            }
        }
    }
    Ok(())
}

fn short_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

enum TemplateSource {
    Body(String),
    Url(String),
}

async fn ensure_bucket(clients: &Clients, s3: &aws_sdk_s3::Client, bucket: &str) -> Result<()> {
    if s3.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(());
    }
    match s3.create_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e) => {
            let message = sdk_message(&e);
            if message.contains("BucketAlreadyOwnedByYou") {
                Ok(())
            } else {
                Err(clients.aws_error(&format!("s3:CreateBucket {bucket}"), message))
            }
        }
    }
}

struct StackDeployment<'a> {
    clients: &'a Clients,
    stack_name: &'a str,
    verbose: bool,
}

/// Statuses from which no progress will come.
fn is_terminal(status: &str) -> bool {
    !status.ends_with("_IN_PROGRESS")
}

/// Statuses that mean the requested change went through.
fn is_success(status: &str) -> bool {
    matches!(
        status,
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE"
    )
}

impl StackDeployment<'_> {
    /// Current status of the stack, or None when it does not exist.
    async fn status(&self) -> Result<Option<(String, String)>> {
        let cfn = self.clients.cloudformation();
        match cfn
            .describe_stacks()
            .stack_name(self.stack_name)
            .send()
            .await
        {
            Ok(output) => Ok(output.stacks().first().map(|s| {
                (
                    s.stack_id().unwrap_or_default().to_owned(),
                    s.stack_status()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                )
            })),
            Err(e) => {
                let message = sdk_message(&e);
                if message.contains("does not exist") {
                    Ok(None)
                } else {
                    Err(self
                        .clients
                        .aws_error("cloudformation:DescribeStacks", message))
                }
            }
        }
    }

    async fn create_or_update(
        &self,
        source: &TemplateSource,
        parameters: &BTreeMap<String, String>,
        capabilities: &[Capability],
        timeout: Duration,
    ) -> Result<(String, String, bool)> {
        let cfn = self.clients.cloudformation();
        let params: Vec<Parameter> = parameters
            .iter()
            .map(|(k, v)| {
                Parameter::builder()
                    .parameter_key(k)
                    .parameter_value(v)
                    .build()
            })
            .collect();
        let mut existing = self.status().await?;
        if let Some((_, status)) = &existing
            && (status == StackStatus::RollbackComplete.as_str()
                || status == StackStatus::RollbackFailed.as_str()
                || status == StackStatus::DeleteComplete.as_str())
        {
            // A stack whose creation failed cannot be updated: start over.
            if self.verbose {
                tracing::info!(
                    "stack {} is {status}; deleting it before creating it again",
                    self.stack_name
                );
            }
            cfn.delete_stack()
                .stack_name(self.stack_name)
                .send()
                .await
                .map_err(|e| {
                    self.clients
                        .aws_error("cloudformation:DeleteStack", sdk_message(&e))
                })?;
            self.wait(timeout, Instant::now(), true).await?;
            existing = None;
        }
        let started = Instant::now();
        let stack_id = match existing {
            None => {
                if self.verbose {
                    tracing::info!("creating stack {}", self.stack_name);
                }
                let mut request = cfn
                    .create_stack()
                    .stack_name(self.stack_name)
                    .set_parameters(Some(params))
                    .set_capabilities(Some(capabilities.to_vec()));
                request = match source {
                    TemplateSource::Body(body) => request.template_body(body),
                    TemplateSource::Url(url) => request.template_url(url),
                };
                request
                    .send()
                    .await
                    .map_err(|e| {
                        self.clients
                            .aws_error("cloudformation:CreateStack", sdk_message(&e))
                    })?
                    .stack_id()
                    .unwrap_or(self.stack_name)
                    .to_owned()
            }
            Some((id, status)) => {
                if !is_terminal(&status) {
                    return Err(Error::Deploy {
                        stack: self.stack_name.to_owned(),
                        message: format!(
                            "is {status}; wait for it to finish (or `eventrail local down` to start afresh)"
                        ),
                    });
                }
                if self.verbose {
                    tracing::info!("updating stack {} ({status})", self.stack_name);
                }
                let mut request = cfn
                    .update_stack()
                    .stack_name(self.stack_name)
                    .set_parameters(Some(params))
                    .set_capabilities(Some(capabilities.to_vec()));
                request = match source {
                    TemplateSource::Body(body) => request.template_body(body),
                    TemplateSource::Url(url) => request.template_url(url),
                };
                match request.send().await {
                    Ok(_) => id,
                    Err(e) => {
                        let message = sdk_message(&e);
                        if message.contains("No updates are to be performed") {
                            if self.verbose {
                                tracing::info!("stack {} is up to date", self.stack_name);
                            }
                            return Ok((id, status, false));
                        }
                        return Err(self
                            .clients
                            .aws_error("cloudformation:UpdateStack", message));
                    }
                }
            }
        };
        let status = self.wait(timeout, started, false).await?;
        if !is_success(&status) {
            let reasons = self.failure_reasons().await;
            return Err(Error::Deploy {
                stack: self.stack_name.to_owned(),
                message: format!(
                    "ended in {status}.\n{reasons}\nLocalStack's log has the details."
                ),
            });
        }
        Ok((stack_id, status, true))
    }

    /// Poll until the stack leaves *_IN_PROGRESS (every half second), printing each new stack
    /// event (read every [`STACK_EVENTS_EVERY`]).
    async fn wait(&self, timeout: Duration, started: Instant, deleting: bool) -> Result<String> {
        let cfn = self.clients.cloudformation();
        let mut seen = BTreeSet::new();
        let mut events_read = Instant::now();
        // Events already there belong to earlier deploys.
        if let Ok(events) = cfn
            .describe_stack_events()
            .stack_name(self.stack_name)
            .send()
            .await
            && !deleting
        {
            for event in events.stack_events() {
                if let Some(id) = event.event_id() {
                    seen.insert(id.to_owned());
                }
            }
        }
        loop {
            let status = match self.status().await? {
                None if deleting => return Ok("DELETE_COMPLETE".to_owned()),
                None => {
                    return Err(Error::Deploy {
                        stack: self.stack_name.to_owned(),
                        message: "disappeared while deploying".to_owned(),
                    });
                }
                Some((_, status)) => status,
            };
            // Events are read every few seconds (and once more at the end): each read returns
            // every event of the stack (256 for the reference system, 126 KB), which LocalStack
            // serializes while its deploy thread waits on the same interpreter.
            let read_events = self.verbose
                && (is_terminal(&status) || events_read.elapsed() >= STACK_EVENTS_EVERY);
            if read_events
                && let Ok(events) = cfn
                    .describe_stack_events()
                    .stack_name(self.stack_name)
                    .send()
                    .await
            {
                events_read = Instant::now();
                let mut new: Vec<_> = events
                    .stack_events()
                    .iter()
                    .filter(|e| e.event_id().is_some_and(|id| !seen.contains(id)))
                    .collect();
                new.reverse(); // oldest first
                for event in new {
                    if let Some(id) = event.event_id() {
                        seen.insert(id.to_owned());
                    }
                    tracing::info!(
                        "  {:>5.1}s  {:<20} {:<32} {}{}",
                        started.elapsed().as_secs_f64(),
                        event
                            .resource_status()
                            .map(|s| s.as_str())
                            .unwrap_or_default(),
                        event.resource_type().unwrap_or_default(),
                        event.logical_resource_id().unwrap_or_default(),
                        event
                            .resource_status_reason()
                            .map(|r| format!("  ({r})"))
                            .unwrap_or_default(),
                    );
                }
            }
            if is_terminal(&status) {
                return Ok(status);
            }
            if started.elapsed() > timeout {
                return Err(Error::Deploy {
                    stack: self.stack_name.to_owned(),
                    message: format!(
                        "still {status} after {} s; LocalStack's log may say what it waits for",
                        timeout.as_secs()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn failure_reasons(&self) -> String {
        let cfn = self.clients.cloudformation();
        let Ok(events) = cfn
            .describe_stack_events()
            .stack_name(self.stack_name)
            .send()
            .await
        else {
            return String::new();
        };
        events
            .stack_events()
            .iter()
            .filter(|e| {
                e.resource_status()
                    .is_some_and(|s| s.as_str().ends_with("_FAILED"))
            })
            .take(10)
            .map(|e| {
                format!(
                    "  {} {}: {}",
                    e.logical_resource_id().unwrap_or_default(),
                    e.resource_status().map(|s| s.as_str()).unwrap_or_default(),
                    e.resource_status_reason().unwrap_or("no reason given")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    async fn outputs(&self) -> Result<BTreeMap<String, String>> {
        let cfn = self.clients.cloudformation();
        let output = cfn
            .describe_stacks()
            .stack_name(self.stack_name)
            .send()
            .await
            .map_err(|e| {
                self.clients
                    .aws_error("cloudformation:DescribeStacks", sdk_message(&e))
            })?;
        Ok(output
            .stacks()
            .first()
            .map(|stack| {
                stack
                    .outputs()
                    .iter()
                    .filter_map(|o| {
                        Some((o.output_key()?.to_owned(), o.output_value()?.to_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// Outputs of an existing stack (None when it does not exist).
pub async fn stack_outputs(
    endpoint: &str,
    region: &str,
    stack_name: &str,
) -> Result<Option<(String, BTreeMap<String, String>)>> {
    let clients = Clients::new(endpoint, region).await;
    let stack = StackDeployment {
        clients: &clients,
        stack_name,
        verbose: false,
    };
    match stack.status().await? {
        None => Ok(None),
        Some((_, status)) => Ok(Some((status, stack.outputs().await?))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architecture_is_forced_to_the_host_only_when_declared() {
        let overrides = BTreeMap::from([
            ("Stage".to_owned(), "local".to_owned()),
            ("Architecture".to_owned(), "arm64".to_owned()),
        ]);
        let declared = BTreeSet::from(["Stage".to_owned(), "Architecture".to_owned()]);
        let p = stack_parameters(&overrides, &declared, "x86_64");
        assert_eq!(p["Architecture"], "x86_64");
        assert_eq!(p["Stage"], "local");
        let p = stack_parameters(&overrides, &BTreeSet::new(), "x86_64");
        assert_eq!(p["Architecture"], "arm64");
    }

    #[test]
    fn code_key_changes_with_the_bytes() {
        let a = code_key("stack", "planner", b"one");
        let b = code_key("stack", "planner", b"two");
        assert!(a.starts_with("stack/planner-") && a.ends_with(".zip"));
        assert_ne!(a, b);
        assert_eq!(a, code_key("stack", "planner", b"one"));
    }

    #[test]
    fn statuses() {
        assert!(is_terminal("CREATE_COMPLETE"));
        assert!(is_terminal("ROLLBACK_COMPLETE"));
        assert!(!is_terminal("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"));
        assert!(is_success("UPDATE_COMPLETE"));
        assert!(!is_success("UPDATE_ROLLBACK_COMPLETE"));
    }

    #[test]
    fn host_architecture_has_a_build_flag() {
        let flag = architecture_flag(host_architecture());
        assert!(flag == "--x86-64" || flag == "--arm64");
    }
}
