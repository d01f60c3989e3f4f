//! Errors raised while reading a template or a samconfig file.

use std::path::PathBuf;

/// Everything that can go wrong while loading `infra/template.yaml` or `samconfig.toml`.
///
/// Every variant names the file and, where it applies, the path inside the document
/// (`Resources.Planner.Properties.Events.TaskCreated`) so the message alone says where to look.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file could not be read.
    #[error("cannot read {file}: {source}; check that the path is right and the file is readable")]
    Read {
        /// File that was being read.
        file: PathBuf,
        /// Underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The file is not valid YAML.
    #[error("{file}: invalid YAML{location}: {source}")]
    Yaml {
        /// File that was being parsed.
        file: PathBuf,
        /// ` at line L column C` when the parser reported a position, otherwise empty.
        location: String,
        /// Underlying parser error.
        #[source]
        source: serde_norway::Error,
    },

    /// A YAML tag that is not a CloudFormation intrinsic function.
    #[error(
        "{file}: at {path}: unknown tag `{tag}`; use a CloudFormation intrinsic \
         (!Ref, !Sub, !GetAtt, !If, ...) or write the long form ({{\"Fn::...\": ...}})"
    )]
    UnknownTag {
        /// File that was being parsed.
        file: PathBuf,
        /// Dotted path of the tagged node.
        path: String,
        /// The tag as written, e.g. `!Reff`.
        tag: String,
    },

    /// The document parsed but a node has the wrong shape.
    #[error("{file}: at {path}: {message}")]
    Invalid {
        /// File that was being parsed.
        file: PathBuf,
        /// Dotted path of the offending node.
        path: String,
        /// What is wrong and what to do about it.
        message: String,
    },

    /// The samconfig file is not valid TOML.
    #[error("{file}: invalid TOML: {source}")]
    Toml {
        /// File that was being parsed.
        file: PathBuf,
        /// Underlying parser error.
        #[source]
        source: toml::de::Error,
    },

    /// A lookup by name found nothing.
    #[error("{file}: {what} `{name}` not found; known: {known}")]
    NotFound {
        /// File that was searched.
        file: PathBuf,
        /// Kind of thing that was looked up ("function", "samconfig environment").
        what: &'static str,
        /// Name that was looked up.
        name: String,
        /// Comma-separated list of the names that do exist.
        known: String,
    },
}

impl TemplateError {
    pub(crate) fn invalid(
        file: &std::path::Path,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        TemplateError::Invalid {
            file: file.to_path_buf(),
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Reads `path` as text; the error names the file.
pub(crate) fn read_text(path: &std::path::Path) -> Result<String, TemplateError> {
    std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
        file: path.to_path_buf(),
        source,
    })
}
