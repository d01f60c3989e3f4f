//! Pattern engine.
