//! The application as the tools see it: its project settings, the functions' declarations,
//! the catalog index and the samples. What is generated from them is `eventrail-generate`'s.

use std::path::PathBuf;

use eventrail_contract::{CatalogIndex, FunctionDeclaration, Project};
use serde_json::Value;

use crate::declared::GenerateError;

/// Everything generation reads, loaded once.
#[derive(Debug, Clone)]
pub struct App {
    /// Where the parts are.
    pub project: Project,
    /// The functions, sorted by name.
    pub functions: Vec<FunctionDeclaration>,
    /// The catalog index.
    pub catalog: CatalogIndex,
}

/// An error of reading the application or generating from it.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Settings, catalog or a declaration.
    #[error(transparent)]
    Project(#[from] eventrail_contract::ProjectError),
    /// Generation.
    #[error(transparent)]
    Generate(#[from] GenerateError),
    /// The flow graph embedded in the docs could not be computed.
    #[error("the flow graph for the docs")]
    Graph(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A file.
    #[error("{file}: {message}")]
    File {
        /// The file.
        file: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl App {
    /// Loads the application rooted at `root`.
    pub fn load(root: impl Into<PathBuf>) -> Result<Self, AppError> {
        let project = Project::load(root.into())?;
        let functions = project.functions()?;
        let catalog = project.catalog()?;
        Ok(Self {
            project,
            functions,
            catalog,
        })
    }

    /// The declaration of function `name`.
    pub fn function(&self, name: &str) -> Option<&FunctionDeclaration> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// The top-level samples (`*.json` directly in the samples folder), by file name.
    pub fn samples(&self) -> Result<Vec<(String, Value)>, AppError> {
        let dir = self.project.samples_dir();
        let fail = |file: PathBuf, message: String| AppError::File { file, message };
        let entries =
            std::fs::read_dir(&dir).map_err(|e| fail(dir.clone(), format!("cannot list: {e}")))?;
        let mut samples = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| fail(path.clone(), format!("cannot read: {e}")))?;
            let value = serde_json::from_str(&text)
                .map_err(|e| fail(path.clone(), format!("not JSON: {e}")))?;
            samples.push((entry.file_name().to_string_lossy().into_owned(), value));
        }
        samples.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(samples)
    }
}
