//! Where things live: the repository root and the hidden cache folder `.eventrail/`.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Name of the git-ignored folder for installed tools, LocalStack state and logs.
pub const CACHE_DIR: &str = ".eventrail";

/// The repository root: `$EVENTRAIL_ROOT` if set, else the nearest ancestor of the current
/// directory that is this workspace, else the workspace this crate was compiled in.
pub fn repo_root() -> Result<PathBuf> {
    if let Some(root) = std::env::var_os("EVENTRAIL_ROOT") {
        return Ok(PathBuf::from(root));
    }
    let cwd = std::env::current_dir().map_err(|source| Error::Io {
        context: "reading the current directory".into(),
        source,
    })?;
    if let Some(root) = find_root_from(&cwd) {
        return Ok(root);
    }
    let compiled = Path::new(env!("CARGO_MANIFEST_DIR"));
    find_root_from(compiled).ok_or(Error::RepoRootNotFound { start: cwd })
}

/// The first of `start` and its ancestors that looks like the eventrail workspace root.
pub fn find_root_from(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| is_workspace_root(dir))
        .map(Path::to_path_buf)
}

fn is_workspace_root(dir: &Path) -> bool {
    let manifest = dir.join("Cargo.toml");
    dir.join("crates").join("local").is_dir()
        && std::fs::read_to_string(manifest)
            .is_ok_and(|text| text.lines().any(|line| line.trim() == "[workspace]"))
}

/// `<root>/.eventrail`.
pub fn cache_dir(root: &Path) -> PathBuf {
    root.join(CACHE_DIR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_this_workspace_from_a_nested_directory() {
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let root = find_root_from(&here).expect("workspace root above crates/local/src");
        assert!(root.join("crates/local/Cargo.toml").is_file());
        assert!(root.join("Cargo.toml").is_file());
    }

    #[test]
    fn a_directory_outside_the_workspace_has_no_root() {
        let outside = std::env::temp_dir().join("eventrail-no-root-here");
        std::fs::create_dir_all(&outside).unwrap();
        assert_eq!(find_root_from(&outside), None);
    }
}
