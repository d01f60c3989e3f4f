//! One folder the measured binaries are copied into before a run, by one writer.
//!
//! How a file was written changes how fast it starts: the same bytes, linked by the linker
//! into `target/release` or copied in one go by `std::fs::copy`, gave the hello world 1.97 ms
//! and 1.67 ms in the same hour (BENCHMARKS.md, section 7, sixth pass), because the page cache
//! holds a file written in large pieces in larger folios, which exec maps with fewer faults.
//! A binary rebuilt by this run sits beside binaries linked hours ago, so without this the
//! ratio to the hello world would depend on which was linked when. Copying every subject the
//! same way, into the same folder, at the same time, measures all of them alike (and is what
//! Lambda does too: it unpacks the zip onto the sandbox's disk before it starts `bootstrap`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// A folder of copies, removed when dropped.
#[derive(Debug)]
pub struct Staged {
    dir: PathBuf,
}

impl Staged {
    /// Copies each binary into a new folder under `parent` (named after this process), each
    /// flushed to disk before any is measured, so no write-back runs during the measurements.
    /// Returns the folder and the copies' paths, in the order given.
    pub fn copy(parent: &Path, binaries: &[&Path]) -> Result<(Self, Vec<PathBuf>)> {
        let dir = parent.join(format!("eventrail-coldstart-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("removing the stale {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let staged = Self { dir };
        let mut copies: Vec<PathBuf> = Vec::with_capacity(binaries.len());
        for (index, binary) in binaries.iter().enumerate() {
            let name = binary
                .file_name()
                .with_context(|| format!("{} names no file", binary.display()))?;
            let mut copy = staged.dir.join(name);
            if copies.contains(&copy) {
                // The same package from another folder (`--baseline-dir`): a name of its own,
                // or it would overwrite the first one's copy.
                copy = staged
                    .dir
                    .join(format!("{}-{index}", name.to_string_lossy()));
            }
            std::fs::copy(binary, &copy)
                .with_context(|| format!("copying {} to {}", binary.display(), copy.display()))?;
            std::fs::File::open(&copy)
                .and_then(|file| file.sync_all())
                .with_context(|| format!("flushing {} to disk", copy.display()))?;
            copies.push(copy);
        }
        Ok((staged, copies))
    }

    /// The folder the copies are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn copies_keep_bytes_and_mode_and_go_away_with_the_folder() {
        let source =
            std::env::temp_dir().join(format!("coldstart-stage-test-{}", std::process::id()));
        std::fs::create_dir_all(&source).unwrap();
        let binary = source.join("bootstrap-like");
        std::fs::write(&binary, b"\x7fELF not really").unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        let parent = source.join("staging");

        let (staged, copies) = Staged::copy(&parent, &[binary.as_path()]).unwrap();
        let dir = staged.dir().to_path_buf();
        assert_eq!(copies, vec![dir.join("bootstrap-like")]);
        assert_eq!(std::fs::read(&copies[0]).unwrap(), b"\x7fELF not really");
        let mode = std::fs::metadata(&copies[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755, "the copy must stay executable");

        drop(staged);
        assert!(
            !dir.exists(),
            "the folder of copies is removed after the run"
        );
        assert!(binary.exists(), "the original is left alone");
        std::fs::remove_dir_all(&source).unwrap();
    }

    #[test]
    fn the_same_package_from_two_folders_gets_two_copies() {
        let source =
            std::env::temp_dir().join(format!("coldstart-stage-twins-{}", std::process::id()));
        let (now, before) = (source.join("after"), source.join("before"));
        std::fs::create_dir_all(&now).unwrap();
        std::fs::create_dir_all(&before).unwrap();
        std::fs::write(now.join("gift-wrap"), b"tracing").unwrap();
        std::fs::write(before.join("gift-wrap"), b"no tracing").unwrap();
        let (staged, copies) = Staged::copy(
            &source.join("staging"),
            &[
                now.join("gift-wrap").as_path(),
                before.join("gift-wrap").as_path(),
            ],
        )
        .unwrap();
        assert_ne!(copies[0], copies[1]);
        assert_eq!(std::fs::read(&copies[0]).unwrap(), b"tracing");
        assert_eq!(std::fs::read(&copies[1]).unwrap(), b"no tracing");
        drop(staged);
        std::fs::remove_dir_all(&source).unwrap();
    }

    #[test]
    fn a_binary_that_is_not_there_is_named() {
        let parent = std::env::temp_dir();
        let missing = Path::new("/nonexistent/eventrail/coldstart-hello");
        let error = Staged::copy(&parent, &[missing]).unwrap_err();
        assert!(format!("{error:#}").contains("/nonexistent/eventrail/coldstart-hello"));
    }
}
