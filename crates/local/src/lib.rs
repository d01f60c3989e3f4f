//! Local tooling.
