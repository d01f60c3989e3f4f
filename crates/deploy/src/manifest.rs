//! The record of the last build: `artifacts.json` beside the zips, binary -> SHA-256 of its
//! zip. A build compares each new zip's digest with the record to say which artifacts changed.
//!
//! Why digests of the zips and not of the binaries: the zip is what is uploaded and what
//! CloudFormation's code hash is taken from, so an artifact is "unchanged" exactly when its
//! upload would be byte-identical.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// The manifest's file name, in the architecture's artifact folder.
pub const MANIFEST_NAME: &str = "artifacts.json";

/// How an artifact compares with the last build's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// The last build had no artifact of this binary (or there was no last build).
    New,
    /// The zip's bytes differ from the last build's.
    Changed,
    /// Byte-identical to the last build's zip.
    Unchanged,
}

impl Change {
    /// The word shown for it (`new`, `changed`, `unchanged`).
    pub fn word(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Changed => "changed",
            Self::Unchanged => "unchanged",
        }
    }

    /// Whether a deploy has something new to upload for it.
    pub fn is_change(self) -> bool {
        self != Self::Unchanged
    }
}

/// A manifest that cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("writing the build manifest {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("encoding the build manifest")]
    Encode {
        #[source]
        source: serde_json::Error,
    },
}

/// Binary -> SHA-256 (lowercase hex) of its zip, as of one build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    digests: BTreeMap<String, String>,
}

impl Manifest {
    /// The manifest in `dir`, or an empty one when there is none. An unreadable manifest is
    /// reported and treated as absent: it only decides the `new`/`changed` labels, and a
    /// build must not fail because an earlier one was interrupted.
    pub fn load(dir: &Path) -> Self {
        let path = dir.join(MANIFEST_NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Self::default(),
            Err(e) => {
                tracing::warn!(
                    "{}: {e}; every artifact counts as new this time",
                    path.display()
                );
                return Self::default();
            }
        };
        match serde_json::from_str(&text) {
            Ok(digests) => Self { digests },
            Err(e) => {
                tracing::warn!(
                    "{}: not a build manifest ({e}); every artifact counts as new this time",
                    path.display()
                );
                Self::default()
            }
        }
    }

    /// The digest recorded for `binary`.
    pub fn digest(&self, binary: &str) -> Option<&str> {
        self.digests.get(binary).map(String::as_str)
    }

    /// How `digest`, the new zip's, compares with the one recorded for `binary`.
    pub fn change(&self, binary: &str, digest: &str) -> Change {
        match self.digest(binary) {
            None => Change::New,
            Some(recorded) if recorded == digest => Change::Unchanged,
            Some(_) => Change::Changed,
        }
    }

    /// Records `digest` for `binary`. Binaries this build did not touch keep their entries:
    /// their zips are still on disk, as recorded.
    pub fn record(&mut self, binary: &str, digest: &str) {
        self.digests.insert(binary.to_owned(), digest.to_owned());
    }

    /// Writes the manifest into `dir` (through a temporary file, so a crash mid-write leaves
    /// the old one whole).
    pub fn save(&self, dir: &Path) -> Result<(), ManifestError> {
        let path = dir.join(MANIFEST_NAME);
        let write = |source| ManifestError::Write {
            path: path.clone(),
            source,
        };
        let mut text = serde_json::to_string_pretty(&self.digests)
            .map_err(|source| ManifestError::Encode { source })?;
        text.push('\n');
        std::fs::create_dir_all(dir).map_err(write)?;
        let partial = path.with_extension("json.partial");
        std::fs::write(&partial, text).map_err(write)?;
        std::fs::rename(&partial, &path).map_err(write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("eventrail-manifest-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn each_artifact_is_new_changed_or_unchanged_against_the_last_build() {
        let dir = scratch("diff");
        let mut first = Manifest::load(&dir);
        assert_eq!(first.change("alpha", "aa"), Change::New);
        first.record("alpha", "aa");
        first.record("beta", "bb");
        first.save(&dir).unwrap();

        let last = Manifest::load(&dir);
        assert_eq!(last.change("alpha", "aa"), Change::Unchanged);
        assert_eq!(last.change("beta", "b2"), Change::Changed);
        assert_eq!(last.change("gamma", "cc"), Change::New);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_partial_build_keeps_the_other_binaries_entries() {
        let dir = scratch("keep");
        let mut manifest = Manifest::default();
        manifest.record("alpha", "aa");
        manifest.record("beta", "bb");
        manifest.save(&dir).unwrap();
        let mut next = Manifest::load(&dir);
        next.record("alpha", "a2");
        next.save(&dir).unwrap();
        let reread = Manifest::load(&dir);
        assert_eq!(reread.digest("alpha"), Some("a2"));
        assert_eq!(reread.digest("beta"), Some("bb"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unreadable_manifest_counts_every_artifact_as_new() {
        let dir = scratch("broken");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(MANIFEST_NAME), "{ not json").unwrap();
        assert_eq!(Manifest::load(&dir).change("alpha", "aa"), Change::New);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
