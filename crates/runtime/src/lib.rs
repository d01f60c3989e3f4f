//! Runtime kit.
