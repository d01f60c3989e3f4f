//! Schema compatibility: each event's current schema against the one of a baseline (a git
//! ref, or an older copy of the project), every change classified as compatible or breaking.
//!
//! The view is the consumers'. A change is breaking when a consumer can fail on it: an event
//! valid under the new schema reaching a consumer written for the old one (a new field in an
//! object that rejects unknown fields, a new enum value, a field that may now be missing), or
//! an old event, replayed from the archive, reaching a consumer written for the new one (a
//! field it now requires, a removed enum value, a changed type). Changes to descriptions and
//! additions to open objects are compatible.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use eventrail_contract::{CatalogIndex, TraceContextMode};
use serde::Serialize;
use serde_json::Value;

use eventrail_model::System;
use eventrail_model::schema::{Schema, SchemaField};

use crate::metadata_rollout::{classify, is_trace_context_field};

/// What a baseline is, or why it cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CompatError {
    /// `git show` failed.
    #[error("cannot read {path} at git ref `{reference}`: {message}")]
    Git {
        /// The ref.
        reference: String,
        /// The file.
        path: String,
        /// What git said.
        message: String,
    },
    /// A file of the baseline.
    #[error("{}: {message}", file.display())]
    File {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Where the old schemas come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Baseline {
    /// An older copy of the project (its root folder): same layout, read from disk.
    Dir(PathBuf),
    /// A git ref of the repository holding the project (`main`, `v1.2.0`, `HEAD~3`).
    Git {
        /// The project root (a folder of the work tree).
        root: PathBuf,
        /// The ref.
        reference: String,
    },
}

impl Baseline {
    /// `arg` as given to `--against`: an existing folder, else a git ref.
    pub fn from_arg(root: &Path, arg: &str) -> Self {
        let dir = Path::new(arg);
        if dir.is_dir() {
            Baseline::Dir(dir.to_owned())
        } else {
            Baseline::Git {
                root: root.to_owned(),
                reference: arg.to_owned(),
            }
        }
    }

    /// What people read: the ref or the folder.
    pub fn describe(&self) -> String {
        match self {
            Baseline::Dir(dir) => dir.display().to_string(),
            Baseline::Git { reference, .. } => format!("git ref {reference}"),
        }
    }

    /// The text of a file (relative to the project root) in the baseline; `None` when the
    /// baseline does not have it.
    fn read(&self, relative: &str) -> Result<Option<String>, CompatError> {
        match self {
            Baseline::Dir(dir) => {
                let path = dir.join(relative);
                if !path.exists() {
                    return Ok(None);
                }
                std::fs::read_to_string(&path)
                    .map(Some)
                    .map_err(|e| CompatError::File {
                        file: path,
                        message: format!("cannot read: {e}"),
                    })
            }
            Baseline::Git { root, reference } => {
                let fail = |message: String| CompatError::Git {
                    reference: reference.clone(),
                    path: relative.to_owned(),
                    message,
                };
                let verify = Command::new("git")
                    .arg("-C")
                    .arg(root)
                    .args(["rev-parse", "--verify", "--quiet"])
                    .arg(format!("{reference}^{{commit}}"))
                    .output()
                    .map_err(|e| fail(format!("cannot run git: {e}")))?;
                if !verify.status.success() {
                    return Err(fail(
                        "no such commit, branch or tag (and no such folder)".to_owned(),
                    ));
                }
                let out = Command::new("git")
                    .arg("-C")
                    .arg(root)
                    .arg("show")
                    .arg(format!("{reference}:./{relative}"))
                    .output()
                    .map_err(|e| fail(format!("cannot run git: {e}")))?;
                if out.status.success() {
                    Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned()))
                } else {
                    Ok(None)
                }
            }
        }
    }
}

/// The kinds of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    /// A required field is gone.
    RequiredFieldRemoved,
    /// A required field is gone and a new one of the same type sits beside it.
    FieldRenamed,
    /// An optional field is gone.
    OptionalFieldRemoved,
    /// A new required field.
    RequiredFieldAdded,
    /// A new optional field.
    OptionalFieldAdded,
    /// An optional field became required.
    FieldMadeRequired,
    /// A required field became optional.
    FieldMadeOptional,
    /// The field's JSON type changed.
    TypeChanged,
    /// Allowed values were removed.
    EnumValuesRemoved,
    /// Allowed values were added.
    EnumValuesAdded,
    /// The event left the catalog.
    EventRemoved,
    /// Trace context (`metadata.traceparent`, `metadata.tracestate`) that the baseline's
    /// metadata lacks: breaking only when the baseline rejects unknown metadata fields and
    /// the app's producers write it ([`crate::metadata_rollout`]); a version bump does not
    /// help, the two-step rollout does.
    TraceContextAdded,
}

impl ChangeKind {
    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::RequiredFieldRemoved => "required-field-removed",
            ChangeKind::FieldRenamed => "field-renamed",
            ChangeKind::OptionalFieldRemoved => "optional-field-removed",
            ChangeKind::RequiredFieldAdded => "required-field-added",
            ChangeKind::OptionalFieldAdded => "optional-field-added",
            ChangeKind::FieldMadeRequired => "field-made-required",
            ChangeKind::FieldMadeOptional => "field-made-optional",
            ChangeKind::TypeChanged => "type-changed",
            ChangeKind::EnumValuesRemoved => "enum-values-removed",
            ChangeKind::EnumValuesAdded => "enum-values-added",
            ChangeKind::EventRemoved => "event-removed",
            ChangeKind::TraceContextAdded => "trace-context-added",
        }
    }
}

/// One change of an event's schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The field (`data.task.budget_cents`), empty for the whole event.
    pub path: String,
    /// What changed.
    pub kind: ChangeKind,
    /// Whether a consumer can fail on it.
    pub breaking: bool,
    /// The details (`string -> integer`, `removed EUR`), and why it breaks.
    pub detail: String,
}

/// The changes of one event against the baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventChanges {
    /// The detail-type.
    pub detail_type: String,
    /// Its schema file, relative to the project root.
    pub schema: String,
    /// The baseline's version.
    pub old_version: u32,
    /// The current version (the baseline's for a removed event).
    pub new_version: u32,
    /// The changes.
    pub changes: Vec<Change>,
    /// The consumers (functions whose rules match it), with the version each declares.
    pub consumers: Vec<(String, Option<u32>)>,
}

impl EventChanges {
    /// Whether any change is breaking.
    pub fn breaking(&self) -> bool {
        self.changes.iter().any(|c| c.breaking)
    }

    /// The breaking changes a version bump is the answer to: all but trace context, whose
    /// answer is the two-step rollout.
    pub fn needing_a_bump(&self) -> impl Iterator<Item = &Change> {
        self.changes
            .iter()
            .filter(|c| c.breaking && c.kind != ChangeKind::TraceContextAdded)
    }

    /// Whether the version went up.
    pub fn bumped(&self) -> bool {
        self.new_version > self.old_version
    }

    /// The consumers, for messages: `planner (declares v1), metrics`.
    pub fn consumers_text(&self) -> String {
        if self.consumers.is_empty() {
            return "none".to_owned();
        }
        self.consumers
            .iter()
            .map(|(f, v)| match v {
                Some(v) => format!("{f} (declares v{v})"),
                None => f.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn parent(path: &str) -> &str {
    path.rsplit_once('.').map_or("", |(p, _)| p)
}

fn types_text(types: &[String]) -> String {
    if types.is_empty() {
        "any".to_owned()
    } else {
        types.join("|")
    }
}

fn values_text(values: &BTreeSet<String>) -> String {
    values.iter().cloned().collect::<Vec<_>>().join(", ")
}

fn value_set(values: &Option<Vec<Value>>) -> Option<BTreeSet<String>> {
    values
        .as_ref()
        .map(|v| v.iter().map(|x| x.to_string()).collect())
}

/// Whether the object holding `path` rejects unknown fields, in `schema`.
fn closed_parent(schema: &Schema, rows: &BTreeMap<String, SchemaField>, path: &str) -> bool {
    let p = parent(path);
    let p = p.strip_suffix("[]").unwrap_or(p);
    if p.is_empty() {
        schema.closed_at("")
    } else {
        rows.get(p).is_some_and(|r| r.closed)
    }
}

/// The changes from `old` to `new`, topmost first (a removed object is one change, not one
/// per field inside it).
pub fn compare(old: &Schema, new: &Schema) -> Vec<Change> {
    let old_rows: BTreeMap<String, SchemaField> = old
        .fields()
        .into_iter()
        .map(|f| (f.path.clone(), f))
        .collect();
    let new_rows: BTreeMap<String, SchemaField> = new
        .fields()
        .into_iter()
        .map(|f| (f.path.clone(), f))
        .collect();
    let mut changes = Vec::new();
    let removed: Vec<&SchemaField> = old_rows
        .values()
        .filter(|f| !new_rows.contains_key(&f.path))
        .filter(|f| {
            let p = parent(&f.path);
            p.is_empty() || new_rows.contains_key(p.strip_suffix("[]").unwrap_or(p))
        })
        .collect();
    let added: Vec<&SchemaField> = new_rows
        .values()
        .filter(|f| !old_rows.contains_key(&f.path))
        .filter(|f| {
            let p = parent(&f.path);
            p.is_empty() || old_rows.contains_key(p.strip_suffix("[]").unwrap_or(p))
        })
        .collect();
    let mut renamed_to: BTreeSet<&str> = BTreeSet::new();
    for gone in &removed {
        let rename = gone
            .required
            .then(|| {
                added.iter().find(|a| {
                    parent(&a.path) == parent(&gone.path)
                        && a.required
                        && a.types == gone.types
                        && !renamed_to.contains(a.path.as_str())
                })
            })
            .flatten();
        match rename {
            Some(to) => {
                renamed_to.insert(to.path.as_str());
                changes.push(Change {
                    path: gone.path.clone(),
                    kind: ChangeKind::FieldRenamed,
                    breaking: true,
                    detail: format!(
                        "renamed to `{}`? consumers still read `{}`",
                        to.path, gone.path
                    ),
                });
            }
            None if gone.required => changes.push(Change {
                path: gone.path.clone(),
                kind: ChangeKind::RequiredFieldRemoved,
                breaking: true,
                detail: "consumers written for the old schema expect it".to_owned(),
            }),
            None => {
                let closed = closed_parent(new, &new_rows, &gone.path);
                changes.push(Change {
                    path: gone.path.clone(),
                    kind: ChangeKind::OptionalFieldRemoved,
                    breaking: closed,
                    detail: if closed {
                        "old events (archive replays) still carry it and the new schema rejects \
                         unknown fields"
                            .to_owned()
                    } else {
                        "optional, and unknown fields are allowed".to_owned()
                    },
                });
            }
        }
    }
    for new_field in added
        .iter()
        .filter(|a| !renamed_to.contains(a.path.as_str()))
    {
        if new_field.required {
            changes.push(Change {
                path: new_field.path.clone(),
                kind: ChangeKind::RequiredFieldAdded,
                breaking: true,
                detail: "made required: old events (archive replays) lack it".to_owned(),
            });
        } else {
            let closed = closed_parent(old, &old_rows, &new_field.path);
            changes.push(Change {
                path: new_field.path.clone(),
                kind: ChangeKind::OptionalFieldAdded,
                breaking: closed,
                detail: if closed {
                    "consumers written for the old schema reject unknown fields \
                     (additionalProperties: false)"
                        .to_owned()
                } else {
                    "optional, in an object that allows unknown fields".to_owned()
                },
            });
        }
    }
    for (path, before) in &old_rows {
        let Some(after) = new_rows.get(path) else {
            continue;
        };
        if before.types != after.types {
            changes.push(Change {
                path: path.clone(),
                kind: ChangeKind::TypeChanged,
                breaking: true,
                detail: format!(
                    "{} -> {}",
                    types_text(&before.types),
                    types_text(&after.types)
                ),
            });
        }
        match (before.required, after.required) {
            (false, true) => changes.push(Change {
                path: path.clone(),
                kind: ChangeKind::FieldMadeRequired,
                breaking: true,
                detail: "old events (archive replays) may lack it".to_owned(),
            }),
            (true, false) => changes.push(Change {
                path: path.clone(),
                kind: ChangeKind::FieldMadeOptional,
                breaking: true,
                detail: "consumers written for the old schema expect it".to_owned(),
            }),
            _ => {}
        }
        if let (Some(a), Some(b)) = (value_set(&before.values), value_set(&after.values)) {
            let gone: BTreeSet<String> = a.difference(&b).cloned().collect();
            let new_values: BTreeSet<String> = b.difference(&a).cloned().collect();
            if !gone.is_empty() {
                changes.push(Change {
                    path: path.clone(),
                    kind: ChangeKind::EnumValuesRemoved,
                    breaking: true,
                    detail: format!("removed {}", values_text(&gone)),
                });
            }
            if !new_values.is_empty() {
                changes.push(Change {
                    path: path.clone(),
                    kind: ChangeKind::EnumValuesAdded,
                    breaking: true,
                    detail: format!(
                        "added {}: consumers written for the old schema reject them",
                        values_text(&new_values)
                    ),
                });
            }
        }
    }
    changes.sort_by(|a, b| (&a.path, a.kind).cmp(&(&b.path, b.kind)));
    changes
}

/// `changes` (from [`compare`]) with each optional trace context field the baseline lacks
/// judged by the rollout rule: breaking only when the baseline's metadata is closed and the
/// app (`mode`) writes trace context.
pub fn judge_trace_context(
    changes: Vec<Change>,
    old: &Schema,
    mode: TraceContextMode,
) -> Vec<Change> {
    let metadata_closed = old.closed_at("metadata");
    changes
        .into_iter()
        .map(|change| {
            if change.kind == ChangeKind::OptionalFieldAdded && is_trace_context_field(&change.path)
            {
                let verdict = classify(metadata_closed, mode);
                Change {
                    kind: ChangeKind::TraceContextAdded,
                    breaking: verdict.breaking,
                    detail: verdict.detail,
                    ..change
                }
            } else {
                change
            }
        })
        .collect()
}

/// Every catalog event's changes against the baseline (events without changes left out).
pub fn compatibility(
    system: &System,
    baseline: &Baseline,
) -> Result<Vec<EventChanges>, CompatError> {
    let settings = &system.app.project.settings;
    let Some(index_text) = baseline.read(&settings.catalog)? else {
        return Err(CompatError::File {
            file: PathBuf::from(&settings.catalog),
            message: format!(
                "the baseline ({}) has no catalog index",
                baseline.describe()
            ),
        });
    };
    let old_index: CatalogIndex =
        serde_json::from_str(&index_text).map_err(|e| CompatError::File {
            file: PathBuf::from(&settings.catalog),
            message: format!("not a catalog index in {}: {e}", baseline.describe()),
        })?;
    let index_dir = parent_dir(&settings.catalog);
    let mut out = Vec::new();
    for old_event in &old_index.events {
        let consumers = consumers_of(system, &old_event.detail_type);
        let Some(current) = system.event(&old_event.detail_type) else {
            out.push(EventChanges {
                detail_type: old_event.detail_type.clone(),
                schema: join(&index_dir, &old_event.schema),
                old_version: old_event.version,
                new_version: old_event.version,
                changes: vec![Change {
                    path: String::new(),
                    kind: ChangeKind::EventRemoved,
                    breaking: true,
                    detail: "the event left the catalog".to_owned(),
                }],
                consumers,
            });
            continue;
        };
        let relative = join(&index_dir, &old_event.schema);
        let Some(old_text) = baseline.read(&relative)? else {
            continue;
        };
        let old_value: Value = serde_json::from_str(&old_text).map_err(|e| CompatError::File {
            file: PathBuf::from(&relative),
            message: format!("not JSON in {}: {e}", baseline.describe()),
        })?;
        let old_schema =
            Schema::from_value(old_value, &relative).map_err(|e| CompatError::File {
                file: e.file,
                message: e.message,
            })?;
        let Some(new_schema) = system.schemas.get(&current.detail_type) else {
            continue;
        };
        let changes = judge_trace_context(
            compare(&old_schema, new_schema),
            &old_schema,
            settings.trace_context,
        );
        if changes.is_empty() && current.version == old_event.version {
            continue;
        }
        out.push(EventChanges {
            detail_type: current.detail_type.clone(),
            schema: join(&index_dir, &current.schema),
            old_version: old_event.version,
            new_version: current.version,
            changes,
            consumers,
        });
    }
    Ok(out)
}

fn parent_dir(relative: &str) -> String {
    Path::new(relative)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn join(dir: &str, file: &str) -> String {
    if dir.is_empty() {
        file.to_owned()
    } else {
        format!("{dir}/{file}")
    }
}

/// The functions whose rules match `detail_type`, with the version each declares.
fn consumers_of(system: &System, detail_type: &str) -> Vec<(String, Option<u32>)> {
    let mut out: Vec<(String, Option<u32>)> = Vec::new();
    for rule in system.rules_for(detail_type) {
        for f in &rule.functions {
            if out.iter().any(|(x, _)| x == f) {
                continue;
            }
            let declared = system
                .app
                .function(f)
                .and_then(|d| d.declaration.versions.get(detail_type).copied());
            out.push((f.clone(), declared));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An event schema like the catalog's: `data` with the given properties and required
    /// names, objects closed unless `open`.
    fn schema(properties: Value, required: &[&str], open: bool) -> Schema {
        Schema::from_value(
            json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {"data": {
                    "type": "object",
                    "additionalProperties": open,
                    "properties": properties,
                    "required": required
                }},
                "required": ["data"]
            }),
            "x.json",
        )
        .unwrap()
    }

    fn base() -> Schema {
        schema(
            json!({
                "order_id": {"type": "string"},
                "total": {"type": "integer"},
                "currency": {"type": "string", "enum": ["EUR", "USD"]},
                "note": {"type": "string"}
            }),
            &["order_id", "total", "currency"],
            false,
        )
    }

    fn kinds(changes: &[Change]) -> Vec<(String, ChangeKind, bool)> {
        changes
            .iter()
            .map(|c| (c.path.clone(), c.kind, c.breaking))
            .collect()
    }

    #[test]
    fn identical_schemas_have_no_changes() {
        assert!(compare(&base(), &base()).is_empty());
    }

    #[test]
    fn each_kind_of_change() {
        let removed = schema(
            json!({"order_id": {"type": "string"}, "currency": {"type": "string", "enum": ["EUR", "USD"]}, "note": {"type": "string"}}),
            &["order_id", "currency"],
            false,
        );
        assert_eq!(
            kinds(&compare(&base(), &removed)),
            vec![("data.total".into(), ChangeKind::RequiredFieldRemoved, true)]
        );

        let renamed = schema(
            json!({"order_id": {"type": "string"}, "amount": {"type": "integer"}, "currency": {"type": "string", "enum": ["EUR", "USD"]}, "note": {"type": "string"}}),
            &["order_id", "amount", "currency"],
            false,
        );
        let changes = compare(&base(), &renamed);
        assert_eq!(
            kinds(&changes),
            vec![("data.total".into(), ChangeKind::FieldRenamed, true)]
        );
        assert!(changes[0].detail.contains("data.amount"));

        let retyped = schema(
            json!({"order_id": {"type": "string"}, "total": {"type": "string"}, "currency": {"type": "string", "enum": ["EUR", "USD"]}, "note": {"type": "string"}}),
            &["order_id", "total", "currency"],
            false,
        );
        let changes = compare(&base(), &retyped);
        assert_eq!(
            kinds(&changes),
            vec![("data.total".into(), ChangeKind::TypeChanged, true)]
        );
        assert_eq!(changes[0].detail, "integer -> string");

        let required = schema(
            json!({"order_id": {"type": "string"}, "total": {"type": "integer"}, "currency": {"type": "string", "enum": ["EUR", "USD"]}, "note": {"type": "string"}}),
            &["order_id", "total", "currency", "note"],
            false,
        );
        assert_eq!(
            kinds(&compare(&base(), &required)),
            vec![("data.note".into(), ChangeKind::FieldMadeRequired, true)]
        );

        let fewer_values = schema(
            json!({"order_id": {"type": "string"}, "total": {"type": "integer"}, "currency": {"type": "string", "enum": ["EUR"]}, "note": {"type": "string"}}),
            &["order_id", "total", "currency"],
            false,
        );
        let changes = compare(&base(), &fewer_values);
        assert_eq!(
            kinds(&changes),
            vec![("data.currency".into(), ChangeKind::EnumValuesRemoved, true)]
        );
        assert!(changes[0].detail.contains("USD"));
    }

    #[test]
    fn optional_and_new_values_break_old_consumers() {
        let optional = schema(
            json!({"order_id": {"type": "string"}, "total": {"type": "integer"}, "currency": {"type": "string", "enum": ["EUR", "USD"]}, "note": {"type": "string"}}),
            &["order_id", "currency"],
            false,
        );
        assert_eq!(
            kinds(&compare(&base(), &optional)),
            vec![("data.total".into(), ChangeKind::FieldMadeOptional, true)]
        );
        let more_values = schema(
            json!({"order_id": {"type": "string"}, "total": {"type": "integer"}, "currency": {"type": "string", "enum": ["EUR", "USD", "GBP"]}, "note": {"type": "string"}}),
            &["order_id", "total", "currency"],
            false,
        );
        let changes = compare(&base(), &more_values);
        assert_eq!(
            kinds(&changes),
            vec![("data.currency".into(), ChangeKind::EnumValuesAdded, true)]
        );
        assert!(changes[0].detail.contains("GBP"));
        // Several changes at once are each reported, sorted by field.
        let both = schema(
            json!({"order_id": {"type": "integer"}, "currency": {"type": "string", "enum": ["EUR"]}, "note": {"type": "string"}}),
            &["order_id", "currency"],
            false,
        );
        assert_eq!(
            kinds(&compare(&base(), &both)),
            vec![
                ("data.currency".into(), ChangeKind::EnumValuesRemoved, true),
                ("data.order_id".into(), ChangeKind::TypeChanged, true),
                ("data.total".into(), ChangeKind::RequiredFieldRemoved, true),
            ]
        );
    }

    /// An event schema whose metadata (a `$defs` entry, as schemars writes it) is closed or
    /// open and has the trace context fields or not.
    fn with_metadata(closed: bool, trace_context: bool) -> Schema {
        let mut properties = json!({
            "correlation_id": {"type": "string"},
            "idempotency_key": {"type": "string"}
        });
        if trace_context {
            properties["traceparent"] = json!({"type": ["string", "null"]});
            properties["tracestate"] = json!({"type": ["string", "null"]});
        }
        Schema::from_value(
            json!({
                "$defs": {"Metadata": {
                    "type": "object",
                    "additionalProperties": !closed,
                    "properties": properties,
                    "required": ["correlation_id", "idempotency_key"]
                }},
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "metadata": {"$ref": "#/$defs/Metadata"},
                    "data": {"type": "object", "additionalProperties": false,
                             "properties": {"ref": {"type": "string"}}, "required": ["ref"]}
                },
                "required": ["metadata", "data"]
            }),
            "x.json",
        )
        .unwrap()
    }

    fn judged(old: &Schema, new: &Schema, mode: TraceContextMode) -> Vec<Change> {
        judge_trace_context(compare(old, new), old, mode)
    }

    #[test]
    fn trace_context_against_closed_metadata_breaks_when_producers_write_it() {
        let changes = judged(
            &with_metadata(true, false),
            &with_metadata(false, true),
            TraceContextMode::Write,
        );
        assert_eq!(
            kinds(&changes),
            vec![
                (
                    "metadata.traceparent".into(),
                    ChangeKind::TraceContextAdded,
                    true
                ),
                (
                    "metadata.tracestate".into(),
                    ChangeKind::TraceContextAdded,
                    true
                ),
            ]
        );
        assert!(
            changes[0].detail.contains("additionalProperties: false"),
            "{}",
            changes[0].detail
        );
    }

    #[test]
    fn trace_context_in_accept_mode_is_compatible() {
        let changes = judged(
            &with_metadata(true, false),
            &with_metadata(false, true),
            TraceContextMode::Accept,
        );
        assert_eq!(
            kinds(&changes),
            vec![
                (
                    "metadata.traceparent".into(),
                    ChangeKind::TraceContextAdded,
                    false
                ),
                (
                    "metadata.tracestate".into(),
                    ChangeKind::TraceContextAdded,
                    false
                ),
            ]
        );
        assert!(changes[0].detail.contains("trace-context = \"write\""));
    }

    #[test]
    fn trace_context_against_open_metadata_or_one_that_has_it_is_compatible() {
        let open_baseline = judged(
            &with_metadata(false, false),
            &with_metadata(false, true),
            TraceContextMode::Write,
        );
        assert!(
            open_baseline
                .iter()
                .all(|c| c.kind == ChangeKind::TraceContextAdded && !c.breaking),
            "{open_baseline:#?}"
        );
        assert_eq!(open_baseline.len(), 2);
        // A baseline whose (closed) metadata already lists the fields: nothing changed.
        assert!(
            judged(
                &with_metadata(true, true),
                &with_metadata(false, true),
                TraceContextMode::Write
            )
            .is_empty()
        );
    }

    #[test]
    fn other_metadata_additions_keep_their_own_verdict() {
        // A field named like trace context, in the closed payload, stays an optional field
        // added, breaking whatever the mode.
        let old = base();
        let added = schema(
            json!({"order_id": {"type": "string"}, "total": {"type": "integer"}, "currency": {"type": "string", "enum": ["EUR", "USD"]}, "note": {"type": "string"}, "traceparent": {"type": "string"}}),
            &["order_id", "total", "currency"],
            false,
        );
        assert_eq!(
            kinds(&judged(&old, &added, TraceContextMode::Accept)),
            vec![(
                "data.traceparent".into(),
                ChangeKind::OptionalFieldAdded,
                true
            )]
        );
    }

    #[test]
    fn additions_break_closed_objects_only() {
        let props = json!({"order_id": {"type": "string"}, "extra": {"type": "string"}});
        let closed_old = schema(
            json!({"order_id": {"type": "string"}}),
            &["order_id"],
            false,
        );
        let closed_new = schema(props.clone(), &["order_id"], false);
        assert_eq!(
            kinds(&compare(&closed_old, &closed_new)),
            vec![("data.extra".into(), ChangeKind::OptionalFieldAdded, true)]
        );
        let open_old = schema(json!({"order_id": {"type": "string"}}), &["order_id"], true);
        let open_new = schema(props, &["order_id"], true);
        assert_eq!(
            kinds(&compare(&open_old, &open_new)),
            vec![("data.extra".into(), ChangeKind::OptionalFieldAdded, false)]
        );
        let required_new = schema(
            json!({"order_id": {"type": "string"}, "extra": {"type": "string"}}),
            &["order_id", "extra"],
            true,
        );
        assert_eq!(
            kinds(&compare(&open_old, &required_new)),
            vec![("data.extra".into(), ChangeKind::RequiredFieldAdded, true)]
        );
        // An optional field removed from an open object is compatible.
        assert_eq!(
            kinds(&compare(&open_new, &open_old)),
            vec![("data.extra".into(), ChangeKind::OptionalFieldRemoved, false)]
        );
    }
}
