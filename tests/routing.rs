//! Offline routing checks: the rules of infra/template.yaml against events/samples.
//!
//! - every sample reaches exactly the functions the routing index (events/consumers.json,
//!   generated from the functions' declarations with the pattern engine) names for it;
//! - every sample reaches at least one function;
//! - every rule with a pattern matches at least one sample (a rule that can never fire
//!   fails the test with its name).

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

#[test]
fn every_sample_reaches_exactly_its_declared_consumers_and_every_rule_fires() {
    let problems = eventrail_tests::routing_problems(&repo());
    assert!(
        problems.is_empty(),
        "routing differs from the declarations:\n  {}",
        problems.join("\n  ")
    );
}
