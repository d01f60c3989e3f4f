//! What `eventrail infra generate` writes for an application: the template with its generated
//! part, the routing index, and the flow picture embedded in the root's Markdown files.

use std::path::PathBuf;

use eventrail_model::{App, AppError, System, Template};
use eventrail_views::docs::{GRAPH_BEGIN, embed_graph};
use eventrail_views::flow::{Focus, Graph};

use eventrail_contract::names::FunctionOutputs;
use eventrail_contract::{GRADUAL_ROLLOUT_PARAMETER, Trigger};

use crate::routing::{consumers_index, consumers_index_text, triggers_index, triggers_index_text};
use crate::samconfig::{LOCAL_GRADUAL_ROLLOUT, with_local_overrides, with_local_schedules};
use crate::template::generate_template;

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

/// The files generated from an application's declarations, for [`App`].
pub trait Generate {
    /// What `eventrail infra generate` writes: the template, the routing index, and the flow
    /// graph embedded in the root's Markdown files that have its markers.
    fn generated_files(&self) -> Result<Vec<GeneratedFile>, AppError>;

    /// Writes the generated files that changed; returns them.
    fn write_generated(&self) -> Result<Vec<GeneratedFile>, AppError>;

    /// Writes only the infrastructure that changed (the template and the routing index), not
    /// the pictures in the docs: what scaffolding a function or an event changes. Returns the
    /// docs whose picture is now stale, for the caller to mention.
    fn write_infrastructure(&self) -> Result<Vec<PathBuf>, AppError>;
}

impl Generate for App {
    fn generated_files(&self) -> Result<Vec<GeneratedFile>, AppError> {
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
        let triggers_path = triggers_path(self);
        let triggers = triggers_index_text(&triggers_index(&self.functions)?);
        let triggers_stale =
            std::fs::read_to_string(&triggers_path).ok().as_deref() != Some(triggers.as_str());
        let samconfig = local_schedules(self);
        let docs = docs_with_graph(self, &template)?;
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
            GeneratedFile {
                kind: GeneratedKind::Infrastructure,
                path: triggers_path,
                text: triggers,
                stale: triggers_stale,
            },
        ];
        files.extend(samconfig);
        files.extend(docs);
        Ok(files)
    }

    fn write_generated(&self) -> Result<Vec<GeneratedFile>, AppError> {
        let files = self.generated_files()?;
        write(&files)?;
        Ok(files)
    }

    fn write_infrastructure(&self) -> Result<Vec<PathBuf>, AppError> {
        let (infra, docs): (Vec<GeneratedFile>, Vec<GeneratedFile>) = self
            .generated_files()?
            .into_iter()
            .partition(|f| f.kind == GeneratedKind::Infrastructure);
        write(&infra)?;
        Ok(docs
            .into_iter()
            .filter(|f| f.stale)
            .map(|f| f.path)
            .collect())
    }
}

/// samconfig.toml with the local environment's overrides (schedules every minute, rollouts
/// off), when it has that environment's `parameter_overrides` string.
fn local_schedules(app: &App) -> Option<GeneratedFile> {
    let path = app.project.root.join("samconfig.toml");
    let current = std::fs::read_to_string(&path).ok()?;
    let parameters: Vec<String> = app
        .functions
        .iter()
        .filter(|f| matches!(f.declaration.trigger(), Trigger::Schedule(_)))
        .map(|f| {
            FunctionOutputs {
                logical_id: &f.logical_id(),
            }
            .schedule_parameter()
        })
        .collect();
    let mut text = with_local_schedules(&current, &parameters)?;
    if app
        .functions
        .iter()
        .any(|f| f.declaration.rollout.is_some())
    {
        let off = [(
            GRADUAL_ROLLOUT_PARAMETER.to_owned(),
            LOCAL_GRADUAL_ROLLOUT.to_owned(),
        )];
        text = with_local_overrides(&text, &off)?;
    }
    Some(GeneratedFile {
        kind: GeneratedKind::Infrastructure,
        stale: text != current,
        path,
        text,
    })
}

/// The triggers index, beside the routing index (`events/triggers.json`).
pub fn triggers_path(app: &App) -> PathBuf {
    app.project.consumers_path().with_file_name(TRIGGERS_FILE)
}

/// The triggers index's file name.
pub const TRIGGERS_FILE: &str = "triggers.json";

/// The root's Markdown files with the graph markers, with the graph of the system whose
/// template text is `template` embedded.
fn docs_with_graph(app: &App, template: &str) -> Result<Vec<GeneratedFile>, AppError> {
    let root = &app.project.root;
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
    let parsed = Template::parse(template, app.project.template_path())
        .map_err(|e| AppError::Graph(Box::new(e)))?;
    let system =
        System::from_parts(app.clone(), parsed).map_err(|e| AppError::Graph(Box::new(e)))?;
    let mermaid = Graph::build(&system, &Focus::All)
        .map_err(|e| AppError::Graph(Box::new(e)))?
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

fn write(files: &[GeneratedFile]) -> Result<(), AppError> {
    for file in files.iter().filter(|f| f.stale) {
        std::fs::write(&file.path, &file.text).map_err(|e| AppError::File {
            file: file.path.clone(),
            message: format!("cannot write: {e}"),
        })?;
    }
    Ok(())
}
