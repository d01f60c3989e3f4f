//! Present only so Cargo honours the generated `[build-dependencies]` (they unify the
//! features of crates that build scripts and proc-macros use).
fn main() {}
