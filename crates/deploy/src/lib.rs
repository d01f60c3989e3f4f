//! Deploying a project to AWS, or to LocalStack the same way: what `eventrail build` and
//! `eventrail deploy` do. It knows the project's layout (template, samconfig, catalog) and
//! nothing of any one application.
//!
//! * [`artifacts`]: one release build of every function for the environment's architecture,
//!   each binary zipped as `bootstrap` (deterministic bytes), and which artifacts changed since
//!   the last build.

pub mod artifacts;
