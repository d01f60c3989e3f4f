//! Feature unification for the workspace's local builds; no code.
//!
//! The CLI, the functions and the tests depend on this crate, whose generated manifest asks
//! for the features the whole workspace uses of each shared crate. Every local build then
//! resolves the same features and reuses one compiled dependency graph. Regenerate the
//! manifest with `cargo xtask unify` after changing dependencies; the test command checks it.
