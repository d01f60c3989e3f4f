//! Build-script settings of a Lambda function's binary, kept in one place so that every
//! function (and `eventrail new function`'s scaffold) links the same way. A function's
//! `build.rs` is one call, `fn main() { eventrail_build::lambda_binary(); }`.
//!
//! What it sets, and why:
//! - **A position-dependent executable on Linux** (`-no-pie` for the package's binaries only;
//!   libraries, tests and proc-macros are untouched). A position-independent Rust executable
//!   carries tens of thousands of relative relocations (vtables, panic locations, static
//!   tables: ~25,700 in a function with the AWS SDK, ~2,400 in a bare `lambda_runtime` hello
//!   world) that the dynamic loader applies, page by page, before `main`: about 0.6 ms of a
//!   3.4 ms cold start on the project's benchmark machine (BENCHMARKS.md, section 7). Linked
//!   at a fixed address they are resolved by the linker instead. The trade-off: the
//!   executable's own code and data are no longer at a random address (shared libraries,
//!   stack, heap and mappings still are). That is the default of Go's toolchain for its Lambda
//!   binaries too; set `EVENTRAIL_LINK_PIE=1` when building to keep a position-independent
//!   executable.

use std::env;

/// Set (to anything) at build time to keep the executable position-independent.
pub const KEEP_PIE: &str = "EVENTRAIL_LINK_PIE";

/// The linker arguments [`lambda_binary`] adds for a target, given whether [`KEEP_PIE`] is
/// set: `-no-pie` on Linux (GNU ld, lld and zig's linker all take it), nothing elsewhere.
pub fn link_args(target_os: &str, keep_pie: bool) -> &'static [&'static str] {
    if target_os == "linux" && !keep_pie {
        &["-no-pie"]
    } else {
        &[]
    }
}

/// Call from a function's `build.rs`: applies the settings above to the package's binaries.
pub fn lambda_binary() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed={KEEP_PIE}");
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let keep_pie = env::var_os(KEEP_PIE).is_some_and(|v| !v.is_empty());
    for arg in link_args(&target_os, keep_pie) {
        println!("cargo::rustc-link-arg-bins={arg}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_binaries_are_position_dependent_unless_asked_otherwise() {
        assert_eq!(link_args("linux", false), ["-no-pie"]);
        assert!(link_args("linux", true).is_empty());
        assert!(link_args("macos", false).is_empty());
        assert!(link_args("windows", false).is_empty());
    }
}
