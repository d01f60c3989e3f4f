//! The application as the tools see it: its project settings, the functions' declarations,
//! the catalog index and the samples, and what is generated from them (the template's
//! per-function part and the routing index).

use std::path::PathBuf;

use eventrail_contract::{CatalogIndex, FunctionDeclaration, Project};
use serde_json::Value;

use crate::Template;
use crate::docs::{GRAPH_BEGIN, embed_graph};
use crate::flow::{Focus, Graph};
use crate::generate::{GenerateError, consumers_index, consumers_index_text, generate_template};
use crate::system::System;

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

/// What a generated file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeneratedKind {
    /// The template's generated part or the routing index: what deploys and routing read.
    Infrastructure,
    /// A Markdown file with the flow picture embedded.
    Docs,
}

/// A file the generator writes, with its new text and whether it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// What it is for.
    pub kind: GeneratedKind,
    /// The file.
    pub path: PathBuf,
    /// What it should hold.
    pub text: String,
    /// True when the file on disk differs (or is missing).
    pub stale: bool,
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
    #[error("the flow graph for the docs: {0}")]
    Graph(String),
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

    /// What `eventrail infra generate` writes: the template, the routing index, and the flow
    /// graph embedded in the root's Markdown files that have its markers.
    pub fn generated_files(&self) -> Result<Vec<GeneratedFile>, AppError> {
        let settings = &self.project.settings;
        let template_path = self.project.template_path();
        let current = std::fs::read_to_string(&template_path).map_err(|e| AppError::File {
            file: template_path.clone(),
            message: format!("cannot read: {e}"),
        })?;
        let template = generate_template(
            &current,
            &settings.template,
            &self.functions,
            &self.catalog,
            settings,
        )?;
        let index = consumers_index(&self.functions, &self.catalog, settings, &self.samples()?)?;
        let consumers_path = self.project.consumers_path();
        let consumers = consumers_index_text(&index);
        let consumers_stale =
            std::fs::read_to_string(&consumers_path).ok().as_deref() != Some(consumers.as_str());
        let docs = self.docs_with_graph(&template)?;
        let mut files = vec![
            GeneratedFile {
                kind: GeneratedKind::Infrastructure,
                stale: template != current,
                path: template_path,
                text: template,
            },
            GeneratedFile {
                kind: GeneratedKind::Infrastructure,
                path: consumers_path,
                text: consumers,
                stale: consumers_stale,
            },
        ];
        files.extend(docs);
        Ok(files)
    }

    /// The root's Markdown files with the graph markers, with the graph of the system whose
    /// template text is `template` embedded.
    fn docs_with_graph(&self, template: &str) -> Result<Vec<GeneratedFile>, AppError> {
        let root = &self.project.root;
        let entries = std::fs::read_dir(root).map_err(|e| AppError::File {
            file: root.clone(),
            message: format!("cannot list: {e}"),
        })?;
        let mut docs: Vec<(PathBuf, String)> = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "md") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            if text.contains(GRAPH_BEGIN) {
                docs.push((path, text));
            }
        }
        if docs.is_empty() {
            return Ok(Vec::new());
        }
        docs.sort();
        let parsed = Template::parse(template, self.project.template_path())
            .map_err(|e| AppError::Graph(e.to_string()))?;
        let system =
            System::from_parts(self.clone(), parsed).map_err(|e| AppError::Graph(e.to_string()))?;
        let mermaid = Graph::build(&system, &Focus::All)
            .map_err(|e| AppError::Graph(e.to_string()))?
            .to_mermaid();
        Ok(docs
            .into_iter()
            .filter_map(|(path, current)| {
                let text = embed_graph(&current, &mermaid)?;
                Some(GeneratedFile {
                    kind: GeneratedKind::Docs,
                    stale: text != current,
                    path,
                    text,
                })
            })
            .collect())
    }

    /// Writes the generated files that changed; returns them.
    pub fn write_generated(&self) -> Result<Vec<GeneratedFile>, AppError> {
        let files = self.generated_files()?;
        Self::write(&files)?;
        Ok(files)
    }

    /// Writes only the infrastructure that changed (the template and the routing index), not
    /// the pictures in the docs: what scaffolding a function or an event changes. Returns the
    /// docs whose picture is now stale, for the caller to mention.
    pub fn write_infrastructure(&self) -> Result<Vec<PathBuf>, AppError> {
        let (infra, docs): (Vec<GeneratedFile>, Vec<GeneratedFile>) = self
            .generated_files()?
            .into_iter()
            .partition(|f| f.kind == GeneratedKind::Infrastructure);
        Self::write(&infra)?;
        Ok(docs
            .into_iter()
            .filter(|f| f.stale)
            .map(|f| f.path)
            .collect())
    }

    fn write(files: &[GeneratedFile]) -> Result<(), AppError> {
        for file in files.iter().filter(|f| f.stale) {
            std::fs::write(&file.path, &file.text).map_err(|e| AppError::File {
                file: file.path.clone(),
                message: format!("cannot write: {e}"),
            })?;
        }
        Ok(())
    }
}
