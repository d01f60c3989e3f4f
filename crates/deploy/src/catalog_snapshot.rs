//! The catalog a stack was deployed with, kept beside its code so that the next deploy can
//! check the new catalog against it (the same check as `eventrail lint --against`).
//!
//! Why a snapshot and not a git ref: what runs in an account is what was deployed, not what a
//! branch says; a deploy from a laptop, a hotfix or CI all leave the same record. The snapshot
//! is the catalog index and the schema files it names, as text, in one JSON object keyed by
//! their paths relative to the project root; restored into a folder it is a
//! [`Baseline::Dir`], which the compatibility check already reads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use eventrail_check::compat::Baseline;
use eventrail_contract::CatalogIndex;
use eventrail_model::System;

/// The name the snapshot is stored under, after the stack's key prefix.
pub const SNAPSHOT_NAME: &str = "deployed-catalog.json";

/// A snapshot that cannot be taken or restored.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a catalog index: {source}")]
    Index {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the deployed stack's catalog snapshot is not readable: {source}")]
    Snapshot {
        #[source]
        source: serde_json::Error,
    },
    #[error("the deployed stack's catalog snapshot names a path outside the project: {path}")]
    Escapes { path: String },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Relative path -> text of the catalog index and every schema it names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CatalogSnapshot {
    pub files: BTreeMap<String, String>,
}

impl CatalogSnapshot {
    /// The catalog of the project at `root` as `system` reads it.
    pub fn take(root: &Path, system: &System) -> Result<Self, SnapshotError> {
        let index_relative = system.app.project.settings.catalog.clone();
        let index_path = root.join(&index_relative);
        let index_text = read(&index_path)?;
        let index: CatalogIndex =
            serde_json::from_str(&index_text).map_err(|source| SnapshotError::Index {
                path: index_path.clone(),
                source,
            })?;
        let dir = Path::new(&index_relative)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let mut files = BTreeMap::new();
        for event in &index.events {
            let relative = dir.join(&event.schema);
            let text = read(&root.join(&relative))?;
            files.insert(slashed(&relative), text);
        }
        files.insert(index_relative, index_text);
        Ok(Self { files })
    }

    /// The snapshot as stored.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// A stored snapshot.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SnapshotError> {
        serde_json::from_slice(bytes).map_err(|source| SnapshotError::Snapshot { source })
    }

    /// Writes the files under `dir` (emptied first) and returns it as a baseline.
    pub fn restore(&self, dir: &Path) -> Result<Baseline, SnapshotError> {
        let write_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SnapshotError::Write { path, source }
        };
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(write_error(dir))?;
        }
        for (relative, text) in &self.files {
            let escapes = Path::new(relative)
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)));
            if escapes {
                return Err(SnapshotError::Escapes {
                    path: relative.clone(),
                });
            }
            let path = dir.join(relative);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(write_error(parent))?;
            }
            std::fs::write(&path, text).map_err(write_error(&path))?;
        }
        Ok(Baseline::Dir(dir.to_path_buf()))
    }
}

fn read(path: &Path) -> Result<String, SnapshotError> {
    std::fs::read_to_string(path).map_err(|source| SnapshotError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn slashed(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_round_trips_and_refuses_paths_out_of_its_folder() {
        let snapshot = CatalogSnapshot {
            files: [
                (
                    "events/catalog.json".to_owned(),
                    "{\"events\":[]}".to_owned(),
                ),
                ("events/schemas/a.json".to_owned(), "{}".to_owned()),
            ]
            .into(),
        };
        let back = CatalogSnapshot::from_bytes(&snapshot.to_bytes()).ok();
        assert_eq!(back.as_ref(), Some(&snapshot));

        let dir = std::env::temp_dir().join(format!("eventrail-snapshot-{}", std::process::id()));
        let restored = snapshot.restore(&dir);
        assert!(matches!(restored, Ok(Baseline::Dir(_))));
        assert_eq!(
            std::fs::read_to_string(dir.join("events/schemas/a.json")).ok(),
            Some("{}".to_owned())
        );

        let hostile = CatalogSnapshot {
            files: [("../outside.json".to_owned(), "{}".to_owned())].into(),
        };
        assert!(matches!(
            hostile.restore(&dir),
            Err(SnapshotError::Escapes { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
