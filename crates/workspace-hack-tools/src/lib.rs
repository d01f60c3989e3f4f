//! Feature unification for the crates only the tools (the CLI, xtask) use; no code.
//!
//! The companion of `workspace-hack`: the crates the functions never reach, so that a
//! function built on its own does not compile them. Regenerate with `cargo xtask unify`.
