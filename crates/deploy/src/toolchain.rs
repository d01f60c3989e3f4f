//! The Rust standard library of the target a build is for: present, added with rustup, or an
//! error that says what to run.
//!
//! Why check first: cargo-lambda links with zig, but the target's standard library still comes
//! from the toolchain; without it the build fails after minutes of compiling with "can't find
//! crate for `core`", which says nothing about rustup.

use std::path::Path;
use std::process::Command;

/// The target's standard library is missing and could not be added.
#[derive(Debug, thiserror::Error)]
pub enum ToolchainError {
    #[error(
        "the Rust standard library for {triple} is needed and rustup, which would add it, did \
         not start; install the library for your toolchain (with rustup: `rustup target add \
         {triple}`), then run the build again"
    )]
    NoRustup {
        triple: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "`{command}` failed ({status}): {stderr}\nRun `{command}` yourself (is the network \
         reachable? is the toolchain managed by rustup?), then run the build again"
    )]
    Rustup {
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
}

/// What [`ensure_std`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdLibrary {
    /// The toolchain already had it.
    Present,
    /// `rustup target add` installed it now.
    Added,
}

/// Makes sure the toolchain used in `root` has `triple`'s standard library: asks rustup which
/// targets are installed and adds the missing one. Without rustup, a toolchain that has the
/// target's library in its sysroot (a distribution's Rust, say) is fine as it is.
pub fn ensure_std(root: &Path, triple: &'static str) -> Result<StdLibrary, ToolchainError> {
    // In `root`, so that a rust-toolchain file there picks the toolchain, as it does for cargo.
    let listed = Command::new("rustup")
        .current_dir(root)
        .args(["target", "list", "--installed"])
        .output();
    let listed = match listed {
        Ok(output) if output.status.success() => output,
        Ok(output) => {
            return Err(ToolchainError::Rustup {
                command: "rustup target list --installed".to_owned(),
                status: output.status,
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
        Err(source) => {
            return if sysroot_has(root, triple) {
                Ok(StdLibrary::Present)
            } else {
                Err(ToolchainError::NoRustup { triple, source })
            };
        }
    };
    if lists_target(&String::from_utf8_lossy(&listed.stdout), triple) {
        return Ok(StdLibrary::Present);
    }
    let command = format!("rustup target add {triple}");
    tracing::info!("the Rust standard library for {triple} is missing: running `{command}`");
    let added = Command::new("rustup")
        .current_dir(root)
        .args(["target", "add", triple])
        .output()
        .map_err(|source| ToolchainError::NoRustup { triple, source })?;
    if !added.status.success() {
        return Err(ToolchainError::Rustup {
            command,
            status: added.status,
            stderr: String::from_utf8_lossy(&added.stderr).trim().to_owned(),
        });
    }
    Ok(StdLibrary::Added)
}

/// Whether `rustup target list --installed` output names `triple` (one target a line).
pub fn lists_target(listed: &str, triple: &str) -> bool {
    listed.lines().any(|line| line.trim() == triple)
}

/// Whether `rustc --print sysroot` holds `lib/rustlib/<triple>`.
fn sysroot_has(root: &Path, triple: &str) -> bool {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    Command::new(rustc)
        .current_dir(root)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .is_some_and(|sysroot| {
            Path::new(&sysroot)
                .join("lib")
                .join("rustlib")
                .join(triple)
                .is_dir()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_installed_list_is_read_one_target_a_line() {
        let listed = "aarch64-unknown-linux-gnu\nx86_64-unknown-linux-gnu\n";
        assert!(lists_target(listed, "aarch64-unknown-linux-gnu"));
        assert!(!lists_target(
            "x86_64-unknown-linux-gnu\n",
            "aarch64-unknown-linux-gnu"
        ));
        // A prefix of another target is not that target.
        assert!(!lists_target(
            "aarch64-unknown-linux-gnueabi\n",
            "aarch64-unknown-linux-gnu"
        ));
    }
}
