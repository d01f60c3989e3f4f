//! What `cargo xtask coldstart` runs: the release binaries (one cargo invocation), the first
//! event of each function (the sample it consumes) and the environment Lambda would give it.

use std::{
    collections::{BTreeMap, HashMap},
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use eventrail_contract::{FunctionDeclaration, Invoke, Project};
use eventrail_model::Template;
use serde_json::Value;

/// The package of the baseline, a bare `lambda_runtime` hello world, and its binary on
/// `#[tokio::main]`'s multi-threaded runtime: the floor every ratio is taken against.
pub const HELLO: &str = "coldstart-hello";
/// The same hello world on the current-thread runtime (the functions' flavour), measured as a
/// second row.
pub const HELLO_CURRENT_THREAD: &str = "coldstart-hello-current-thread";
/// Region and account the fake AWS pretends to be.
pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

/// A binary to measure.
#[derive(Debug, Clone)]
pub struct Subject {
    pub name: String,
    pub binary: PathBuf,
    /// The first (and only) event it gets.
    pub payload: Bytes,
    /// The function's own variables (from the template), with `{endpoint}` where the fake
    /// AWS endpoint's address goes.
    pub variables: BTreeMap<String, String>,
    /// The same function built from the baseline folder (`--baseline-dir`).
    pub baseline: bool,
}

/// What a baseline row's name ends with (its log file's too).
pub const BASELINE_SUFFIX: &str = "@baseline";

impl Subject {
    /// The row's name: the function's, with [`BASELINE_SUFFIX`] for a baseline build.
    pub fn row(&self) -> String {
        if self.baseline {
            format!("{}{BASELINE_SUFFIX}", self.name)
        } else {
            self.name.clone()
        }
    }

    /// The whole environment of one run: Lambda's own variables, static credentials as Lambda
    /// gives them, the fakes' addresses, then the function's variables.
    pub fn environment(
        &self,
        runtime_api: SocketAddr,
        endpoint: SocketAddr,
    ) -> Vec<(String, String)> {
        let name = self.name.as_str();
        let lambda = [
            ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
            ("AWS_LAMBDA_FUNCTION_NAME", name.to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/27/[$LATEST]coldstart".to_owned(),
            ),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_DEFAULT_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", "AKIDCOLDSTART".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "coldstart-secret".to_owned()),
            ("AWS_SESSION_TOKEN", "coldstart-session".to_owned()),
            ("AWS_ENDPOINT_URL", format!("http://{endpoint}")),
            ("LAMBDA_TASK_ROOT", "/var/task".to_owned()),
            ("LAMBDA_RUNTIME_DIR", "/var/runtime".to_owned()),
            ("_HANDLER", "bootstrap".to_owned()),
            ("TZ", ":UTC".to_owned()),
            ("LANG", "en_US.UTF-8".to_owned()),
            ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".to_owned()),
        ];
        let mut all: Vec<(String, String)> =
            lambda.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        for (key, value) in &self.variables {
            all.push((
                key.clone(),
                value.replace("{endpoint}", &endpoint.to_string()),
            ));
        }
        all
    }
}

/// Where the binaries come from.
#[derive(Debug, Clone)]
pub enum Binaries {
    /// `cargo build --release` first.
    Build,
    /// The release folder of the target directory, as an earlier build left it.
    Built,
    /// A folder of binaries named after their packages.
    Folder(PathBuf),
}

/// Builds the binaries and plans one subject per binary: the hello world first, then the
/// functions (all, or those in `only`).
pub fn subjects(root: &Path, only: &[String], binaries: Binaries) -> Result<Vec<Subject>> {
    let project = Project::load(root).context("reading the project's settings")?;
    let mut functions = project
        .functions()
        .context("reading the functions' declarations")?;
    functions.sort_by(|a, b| a.name.cmp(&b.name));
    for name in only {
        if !functions.iter().any(|f| &f.name == name) {
            bail!(
                "--only {name}: no such function under {} (there are: {})",
                project.functions_dir().display(),
                functions
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    functions.retain(|f| only.is_empty() || only.contains(&f.name));
    let template_path = project.template_path();
    let template = Template::load(&template_path)
        .with_context(|| format!("reading {}", template_path.display()))?;
    let consumers = read_consumers(&project.consumers_path())?;

    let mut packages: Vec<&str> = vec![HELLO];
    packages.extend(functions.iter().map(|f| f.name.as_str()));
    let mut executables = packages.clone();
    executables.insert(1, HELLO_CURRENT_THREAD);
    let binaries = match binaries {
        Binaries::Build => build(root, &packages)?,
        Binaries::Built => in_folder(&release_folder(root)?, &executables)?,
        Binaries::Folder(dir) => in_folder(&dir, &executables)?,
    };
    let binary = |name: &str| {
        binaries
            .get(name)
            .cloned()
            .with_context(|| format!("cargo built no binary named {name}"))
    };

    let mut subjects = Vec::new();
    for function in &functions {
        let sample = first_event(&project, function, &consumers)?;
        let payload =
            std::fs::read(&sample).with_context(|| format!("reading {}", sample.display()))?;
        let declared = template.function_by_binary(&function.name).with_context(|| {
            format!(
                "{} has no function built from {} (run `cargo run -p eventrail -- infra generate`)",
                template_path.display(),
                function.name
            )
        })?;
        let mut variables = BTreeMap::new();
        for (key, value) in &declared.environment {
            let value = resolve(value, &template).with_context(|| {
                format!(
                    "{}: variable {key} of {}",
                    template_path.display(),
                    declared.logical_id
                )
            })?;
            variables.insert(key.clone(), value);
        }
        subjects.push(Subject {
            name: function.name.clone(),
            binary: binary(&function.name)?,
            payload: payload.into(),
            variables,
            baseline: false,
        });
    }
    // The hello world gets the first function's event: it decodes it as a JSON value.
    let hello_payload = subjects
        .first()
        .map(|s| s.payload.clone())
        .unwrap_or_else(|| Bytes::from_static(b"{}"));
    for name in [HELLO_CURRENT_THREAD, HELLO] {
        subjects.insert(
            0,
            Subject {
                name: name.to_owned(),
                binary: binary(name)?,
                payload: hello_payload.clone(),
                variables: BTreeMap::new(),
                baseline: false,
            },
        );
    }
    Ok(subjects)
}

/// `KEY=VALUE` (for `--env`).
pub fn parse_variable(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.to_owned()))
        }
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

/// Adds after each function's subject the same function built from `dir` (its binary named
/// after the package): same event, same environment, its own row.
pub fn with_baselines(subjects: Vec<Subject>, dir: &Path) -> Result<Vec<Subject>> {
    let mut all = Vec::with_capacity(subjects.len() * 2);
    for subject in subjects {
        let twin = (subject.name != HELLO && subject.name != HELLO_CURRENT_THREAD)
            .then(|| -> Result<Subject> {
                let binary = dir.join(&subject.name);
                if !binary.is_file() {
                    bail!(
                        "--baseline-dir: no {} (build the baseline's functions into it)",
                        binary.display()
                    );
                }
                Ok(Subject {
                    binary,
                    baseline: true,
                    ..subject.clone()
                })
            })
            .transpose()?;
        all.push(subject);
        all.extend(twin);
    }
    Ok(all)
}

/// `cargo build --release -p <each>` in one invocation; the executables by name.
fn build(root: &Path, packages: &[&str]) -> Result<HashMap<String, PathBuf>> {
    eprintln!(
        "==> cargo build --release of {} packages (fat LTO: minutes when anything changed)",
        packages.len()
    );
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--message-format=json-render-diagnostics",
        ])
        .stdout(Stdio::piped());
    for package in packages {
        command.args(["-p", package]);
    }
    let mut child = command.spawn().context("starting cargo build")?;
    let stdout = child.stdout.take().context("cargo's output")?;
    let mut binaries = HashMap::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo's output")?;
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        if let (Some(name), Some(executable)) = (
            message["target"]["name"].as_str(),
            message["executable"].as_str(),
        ) {
            binaries.insert(name.to_owned(), PathBuf::from(executable));
        }
    }
    let status = child.wait().context("waiting for cargo build")?;
    if !status.success() {
        bail!("cargo build --release failed ({status}); its errors are above");
    }
    Ok(binaries)
}

/// The release folder of the workspace's target directory.
fn release_folder(root: &Path) -> Result<PathBuf> {
    Ok(super::floor::target_dir(root)?.join("release"))
}

/// The executables named after `packages` in `dir`.
fn in_folder(dir: &Path, packages: &[&str]) -> Result<HashMap<String, PathBuf>> {
    let mut binaries = HashMap::new();
    for package in packages {
        let path = dir.join(package);
        if !path.is_file() {
            bail!(
                "{} is not built; run `cargo xtask coldstart` without --no-build or --bin-dir",
                path.display()
            );
        }
        binaries.insert((*package).to_owned(), path);
    }
    Ok(binaries)
}

fn read_consumers(path: &Path) -> Result<BTreeMap<String, Vec<String>>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: not a routing index (regenerate it with `cargo run -p eventrail -- infra generate`)",
            path.display()
        )
    })
}

/// The sample a function gets as its first event: for a consumer, among the samples the
/// routing index sends to it, the one with the shortest name (the plain case, e.g.
/// `task-created.json` rather than `task-created-urgent.json`); for a directly invoked
/// function, its first command's sample in `samples/commands/`.
fn first_event(
    project: &Project,
    function: &FunctionDeclaration,
    consumers: &BTreeMap<String, Vec<String>>,
) -> Result<PathBuf> {
    let samples = project.samples_dir();
    if function.declaration.invoke == Invoke::Direct {
        let command = function.declaration.commands.first().with_context(|| {
            format!(
                "{} is invoked directly but declares no command",
                function.name
            )
        })?;
        let path = samples
            .join("commands")
            .join(format!("{}.json", eventrail_contract::kebab_case(command)));
        if !path.is_file() {
            bail!(
                "no sample {} for {}'s command {command}",
                path.display(),
                function.name
            );
        }
        return Ok(path);
    }
    consumers
        .iter()
        .filter(|(_, names)| names.contains(&function.name))
        .map(|(file, _)| file)
        .min_by_key(|file| (file.len(), file.as_str()))
        .map(|file| samples.join(file))
        .with_context(|| {
            format!(
                "no sample in {} reaches {} (see {})",
                samples.display(),
                function.name,
                project.consumers_path().display()
            )
        })
}

/// A template variable's value in the fake account: strings as written, a queue's `Ref` its
/// URL on the fake endpoint, other `Ref`s the resource's logical id, `Fn::GetAtt ... Arn` an ARN.
fn resolve(value: &Value, template: &Template) -> Result<String> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        Value::Object(map) if map.len() == 1 => {
            if let Some(target) = map.get("Ref").and_then(Value::as_str) {
                return Ok(if template.queue(target).is_some() {
                    format!("http://{{endpoint}}/{ACCOUNT}/{target}")
                } else {
                    target.to_owned()
                });
            }
            if let Some([Value::String(target), Value::String(attribute)]) = map
                .get("Fn::GetAtt")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                && attribute == "Arn"
            {
                return Ok(format!("arn:aws:coldstart:{REGION}:{ACCOUNT}:{target}"));
            }
            bail!("the cold-start benchmark cannot fake the value {value}")
        }
        _ => bail!("the cold-start benchmark cannot fake the value {value}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_values_resolve_to_the_fake_account() {
        let template = Template::parse(
            "Resources:\n  Outbox:\n    Type: AWS::SQS::Queue\n  Table:\n    Type: AWS::DynamoDB::Table\n",
            "template.yaml",
        )
        .unwrap();
        let resolve = |v: Value| resolve(&v, &template);
        assert_eq!(
            resolve(serde_json::json!({ "Ref": "Outbox" })).unwrap(),
            "http://{endpoint}/123456789012/Outbox"
        );
        assert_eq!(
            resolve(serde_json::json!({ "Ref": "Table" })).unwrap(),
            "Table"
        );
        assert_eq!(resolve(serde_json::json!("604800")).unwrap(), "604800");
        assert!(resolve(serde_json::json!({ "Fn::Sub": "x" })).is_err());
    }

    #[test]
    fn variables_are_key_equals_value() {
        assert_eq!(
            parse_variable("OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318"),
            Ok((
                "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(),
                "http://127.0.0.1:4318".to_owned()
            ))
        );
        assert_eq!(
            parse_variable("A=b=c"),
            Ok(("A".to_owned(), "b=c".to_owned()))
        );
        assert!(parse_variable("no-equals").is_err());
        assert!(parse_variable("=value").is_err());
    }

    #[test]
    fn a_baseline_folder_adds_a_row_after_each_function() {
        let dir = std::env::temp_dir().join(format!("coldstart-baseline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("gift-wrap"), b"").unwrap();
        let subject = |name: &str| Subject {
            name: name.to_owned(),
            binary: PathBuf::from(format!("/release/{name}")),
            payload: Bytes::from_static(b"{}"),
            variables: BTreeMap::new(),
            baseline: false,
        };
        let rows = with_baselines(
            vec![
                subject(HELLO),
                subject(HELLO_CURRENT_THREAD),
                subject("gift-wrap"),
            ],
            &dir,
        )
        .unwrap();
        let names: Vec<String> = rows.iter().map(Subject::row).collect();
        assert_eq!(
            names,
            [
                HELLO,
                HELLO_CURRENT_THREAD,
                "gift-wrap",
                "gift-wrap@baseline"
            ]
        );
        assert_eq!(rows[3].name, "gift-wrap");
        assert_eq!(rows[3].binary, dir.join("gift-wrap"));
        assert_eq!(rows[2].binary, PathBuf::from("/release/gift-wrap"));
        let missing = with_baselines(vec![subject("ribbon")], &dir).unwrap_err();
        assert!(missing.to_string().contains("ribbon"), "{missing}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_run_environment_has_lambda_variables_and_the_fakes() {
        let subject = Subject {
            name: "gift-wrap".to_owned(),
            binary: PathBuf::from("/bin/true"),
            payload: Bytes::from_static(b"{}"),
            variables: BTreeMap::from([(
                "EVENTRAIL_DLQ_URL".to_owned(),
                "http://{endpoint}/123456789012/Q".to_owned(),
            )]),
            baseline: false,
        };
        let api: SocketAddr = "127.0.0.1:9001".parse().unwrap();
        let endpoint: SocketAddr = "127.0.0.1:9002".parse().unwrap();
        let env: HashMap<String, String> = subject.environment(api, endpoint).into_iter().collect();
        assert_eq!(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001");
        assert_eq!(env["AWS_ENDPOINT_URL"], "http://127.0.0.1:9002");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "gift-wrap");
        assert_eq!(
            env["EVENTRAIL_DLQ_URL"],
            "http://127.0.0.1:9002/123456789012/Q"
        );
    }
}
