//! The buffered consumers' peak concurrency over the run, as the local stack's executor
//! plugin counts it where the functions' processes run (`eventrail_local::concurrency`): reset
//! before the burst, read once the flow is done.

use anyhow::{Context, Result};
use eventrail_local::concurrency::{concurrency, reset_concurrency};

/// A buffered consumer's figures over the run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Peak {
    /// Its declared name.
    pub function: String,
    /// Its deployed name.
    pub deployed: String,
    /// Its declared `max-concurrency`.
    pub cap: Option<u32>,
    /// The most invocations that ran at once during the run; `None` when it never ran.
    pub peak: Option<u32>,
    /// Its invocations during the run.
    pub invocations: u64,
}

/// Starts a new measurement for each deployed function name.
pub fn reset(endpoint: &str, deployed: &[&str]) -> Result<()> {
    for name in deployed {
        reset_concurrency(endpoint, name)
            .with_context(|| format!("resetting the concurrency figures of {name}"))?;
    }
    Ok(())
}

/// The figures of `deployed` since the reset.
pub fn read(endpoint: &str, function: &str, deployed: &str, cap: Option<u32>) -> Result<Peak> {
    let report = concurrency(endpoint, deployed)
        .with_context(|| format!("reading the concurrency figures of {deployed}"))?;
    let figures = report.function(deployed);
    Ok(Peak {
        function: function.to_owned(),
        deployed: deployed.to_owned(),
        cap,
        peak: figures.map(|f| f.peak),
        invocations: figures.map_or(0, |f| f.invocations),
    })
}
