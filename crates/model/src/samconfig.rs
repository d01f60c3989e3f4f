//! `samconfig.toml`: the deploy environments (`default`, `prod`, `local`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::TemplateError;

/// A parsed `samconfig.toml`.
#[derive(Debug, Clone)]
pub struct SamConfig {
    file: PathBuf,
    table: toml::Table,
}

/// The deploy settings of one environment, with `[env.deploy.parameters]` taking
/// precedence over `[env.global.parameters]` as in the SAM CLI.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct SamEnvironment {
    /// Environment name (`local`).
    pub name: String,
    /// `stack_name`.
    pub stack_name: Option<String>,
    /// `region`.
    pub region: Option<String>,
    /// `capabilities` (a string with spaces or a list).
    pub capabilities: Vec<String>,
    /// `parameter_overrides`, parsed from `"Key=Value Key2=\"a b\""` or `["Key=Value", ...]`.
    pub parameter_overrides: BTreeMap<String, String>,
    /// `s3_bucket`.
    pub s3_bucket: Option<String>,
    /// `s3_prefix`.
    pub s3_prefix: Option<String>,
    /// `tags`, parsed like parameter overrides.
    pub tags: BTreeMap<String, String>,
    /// `confirm_changeset`: a deploy shows the changeset and asks before it runs it.
    pub confirm_changeset: bool,
}

impl SamConfig {
    /// Reads and parses a samconfig file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, TemplateError> {
        let path = path.as_ref();
        Self::parse(&crate::error::read_text(path)?, path)
    }

    /// Parses samconfig text; `file` names it in error messages.
    pub fn parse(text: &str, file: impl AsRef<Path>) -> Result<Self, TemplateError> {
        let file = file.as_ref().to_path_buf();
        let table = text
            .parse::<toml::Table>()
            .map_err(|source| TemplateError::Toml {
                file: file.clone(),
                source,
            })?;
        Ok(SamConfig { file, table })
    }

    /// Names of the environments (top-level tables), sorted.
    pub fn environments(&self) -> Vec<&str> {
        self.table
            .iter()
            .filter(|(_, v)| v.is_table())
            .map(|(k, _)| k.as_str())
            .collect()
    }

    /// The deploy settings of one environment.
    pub fn environment(&self, name: &str) -> Result<SamEnvironment, TemplateError> {
        let env = self
            .table
            .get(name)
            .and_then(toml::Value::as_table)
            .ok_or_else(|| TemplateError::NotFound {
                file: self.file.clone(),
                what: "samconfig environment",
                name: name.to_owned(),
                known: self.environments().join(", "),
            })?;
        let section = |cmd: &str| {
            env.get(cmd)
                .and_then(|c| c.get("parameters"))
                .and_then(toml::Value::as_table)
        };
        let (deploy, global) = (section("deploy"), section("global"));
        let get = |key: &str| {
            deploy
                .and_then(|t| t.get(key))
                .or_else(|| global.and_then(|t| t.get(key)))
        };
        let path = |key: &str| format!("{name}.deploy.parameters.{key}");
        let string = |key: &str| -> Result<Option<String>, TemplateError> {
            match get(key) {
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(TemplateError::invalid(
                    &self.file,
                    path(key),
                    format!("expected a string, found {other}"),
                )),
            }
        };
        let words = |key: &str| -> Result<Vec<String>, TemplateError> {
            match get(key) {
                None => Ok(Vec::new()),
                Some(toml::Value::String(s)) => split_words(s).ok_or_else(|| {
                    TemplateError::invalid(&self.file, path(key), "unbalanced quotes")
                }),
                Some(toml::Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_str().map(str::to_owned).ok_or_else(|| {
                            TemplateError::invalid(
                                &self.file,
                                path(key),
                                "list items must be strings",
                            )
                        })
                    })
                    .collect(),
                Some(other) => Err(TemplateError::invalid(
                    &self.file,
                    path(key),
                    format!("expected a string or a list, found {other}"),
                )),
            }
        };
        let pairs = |key: &str| -> Result<BTreeMap<String, String>, TemplateError> {
            words(key)?
                .into_iter()
                .map(|w| {
                    let (k, v) = w.split_once('=').ok_or_else(|| {
                        TemplateError::invalid(
                            &self.file,
                            path(key),
                            format!("`{w}` is not `Key=Value`"),
                        )
                    })?;
                    Ok((k.to_owned(), unquote(v).to_owned()))
                })
                .collect()
        };
        Ok(SamEnvironment {
            name: name.to_owned(),
            stack_name: string("stack_name")?,
            region: string("region")?,
            capabilities: words("capabilities")?,
            parameter_overrides: pairs("parameter_overrides")?,
            s3_bucket: string("s3_bucket")?,
            s3_prefix: string("s3_prefix")?,
            tags: pairs("tags")?,
            confirm_changeset: match get("confirm_changeset") {
                None => false,
                Some(toml::Value::Boolean(b)) => *b,
                Some(other) => {
                    return Err(TemplateError::invalid(
                        &self.file,
                        path("confirm_changeset"),
                        format!("expected true or false, found {other}"),
                    ));
                }
            },
        })
    }
}

fn unquote(v: &str) -> &str {
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
}

/// Splits on whitespace outside double quotes; quotes stay in the words. `None` if unbalanced.
pub fn split_words(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if quoted {
        return None;
    }
    if !current.is_empty() {
        words.push(current);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
version = 0.1
[default.global.parameters]
stack_name = "app-dev"
[default.deploy.parameters]
region = "eu-west-1"
capabilities = "CAPABILITY_IAM CAPABILITY_AUTO_EXPAND"
parameter_overrides = "Stage=dev Name=\"a b\""
[local.global.parameters]
stack_name = "app-local"
[local.deploy.parameters]
stack_name = "app-local-deploy"
capabilities = ["CAPABILITY_IAM"]
parameter_overrides = ["Stage=local", "Architecture=x86_64"]
"#;

    #[test]
    fn reads_environments() {
        let cfg = SamConfig::parse(TEXT, "samconfig.toml").unwrap();
        assert_eq!(cfg.environments(), ["default", "local"]);
        let dev = cfg.environment("default").unwrap();
        assert_eq!(dev.stack_name.as_deref(), Some("app-dev"));
        assert_eq!(dev.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            dev.capabilities,
            ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
        );
        assert_eq!(dev.parameter_overrides["Stage"], "dev");
        assert_eq!(dev.parameter_overrides["Name"], "a b");
        let local = cfg.environment("local").unwrap();
        assert_eq!(local.stack_name.as_deref(), Some("app-local-deploy"));
        assert_eq!(local.parameter_overrides["Architecture"], "x86_64");
    }

    #[test]
    fn unknown_environment_lists_known_ones() {
        let cfg = SamConfig::parse(TEXT, "samconfig.toml").unwrap();
        let err = cfg.environment("staging").unwrap_err().to_string();
        assert!(err.contains("samconfig.toml"), "{err}");
        assert!(
            err.contains("staging") && err.contains("default, local"),
            "{err}"
        );
    }

    #[test]
    fn malformed_override_is_reported() {
        let cfg = SamConfig::parse(
            "[x.deploy.parameters]\nparameter_overrides = \"Stage\"\n",
            "s.toml",
        )
        .unwrap();
        let err = cfg.environment("x").unwrap_err().to_string();
        assert!(
            err.contains("x.deploy.parameters.parameter_overrides"),
            "{err}"
        );
    }
}
