//! A function's gradual rollout: how a new version takes over from the old one, declared as
//! `rollout = "Canary10Percent5Minutes"` in `[package.metadata.eventrail]`.
//!
//! The names are SAM's predefined `DeploymentPreference` types (CodeDeploy's Lambda
//! configurations): the template publishes a version per deploy behind the alias
//! [`ROLLOUT_ALIAS`], and CodeDeploy shifts the alias's traffic to the new version in the
//! declared steps, rolling back when one of the function's alarms fires. Only these names are
//! accepted: CodeDeploy refuses any other (a custom configuration is a resource of its own,
//! which the declaration has no place for), and refusing it here names the file and the field
//! rather than a failed deploy naming a generated resource.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The alias every invoker of a function with a rollout calls (SAM's `AutoPublishAlias`), so the
/// traffic CodeDeploy shifts is all of it.
pub const ROLLOUT_ALIAS: &str = "live";

/// The template parameter that turns the rollouts on or off for a whole deploy (`true` by
/// default; the local environment sets `false`: LocalStack's free edition has no CodeDeploy).
pub const GRADUAL_ROLLOUT_PARAMETER: &str = "GradualRollout";

/// How a new version of a function takes its traffic (SAM's predefined deployment types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Rollout {
    /// 10 % for 5 minutes, then the rest.
    Canary10Percent5Minutes,
    /// 10 % for 10 minutes, then the rest.
    Canary10Percent10Minutes,
    /// 10 % for 15 minutes, then the rest.
    Canary10Percent15Minutes,
    /// 10 % for 30 minutes, then the rest.
    Canary10Percent30Minutes,
    /// 10 % more every minute.
    Linear10PercentEvery1Minute,
    /// 10 % more every 2 minutes.
    Linear10PercentEvery2Minutes,
    /// 10 % more every 3 minutes.
    Linear10PercentEvery3Minutes,
    /// 10 % more every 10 minutes.
    Linear10PercentEvery10Minutes,
    /// All at once, still with the alarms watched and a rollback when one fires.
    AllAtOnce,
}

impl Rollout {
    /// Every rollout, in SAM's order.
    pub const ALL: [Rollout; 9] = [
        Rollout::Canary10Percent5Minutes,
        Rollout::Canary10Percent10Minutes,
        Rollout::Canary10Percent15Minutes,
        Rollout::Canary10Percent30Minutes,
        Rollout::Linear10PercentEvery1Minute,
        Rollout::Linear10PercentEvery2Minutes,
        Rollout::Linear10PercentEvery3Minutes,
        Rollout::Linear10PercentEvery10Minutes,
        Rollout::AllAtOnce,
    ];

    /// The name SAM and CodeDeploy use (`DeploymentPreference.Type`).
    pub fn as_str(self) -> &'static str {
        match self {
            Rollout::Canary10Percent5Minutes => "Canary10Percent5Minutes",
            Rollout::Canary10Percent10Minutes => "Canary10Percent10Minutes",
            Rollout::Canary10Percent15Minutes => "Canary10Percent15Minutes",
            Rollout::Canary10Percent30Minutes => "Canary10Percent30Minutes",
            Rollout::Linear10PercentEvery1Minute => "Linear10PercentEvery1Minute",
            Rollout::Linear10PercentEvery2Minutes => "Linear10PercentEvery2Minutes",
            Rollout::Linear10PercentEvery3Minutes => "Linear10PercentEvery3Minutes",
            Rollout::Linear10PercentEvery10Minutes => "Linear10PercentEvery10Minutes",
            Rollout::AllAtOnce => "AllAtOnce",
        }
    }

    /// The rollout SAM calls `name`; an unknown name is an error listing the accepted ones.
    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == name)
            .ok_or_else(|| {
                let accepted: Vec<&str> = Self::ALL.iter().map(|r| r.as_str()).collect();
                format!(
                    "rollout: `{name}` is not one of SAM's deployment types; use one of {}",
                    accepted.join(", ")
                )
            })
    }
}

impl fmt::Display for Rollout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Rollout {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        Self::parse(&name)
    }
}

impl From<Rollout> for String {
    fn from(rollout: Rollout) -> Self {
        rollout.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_reads_back_and_an_unknown_one_lists_the_accepted() {
        for rollout in Rollout::ALL {
            assert_eq!(Rollout::parse(rollout.as_str()), Ok(rollout));
            let json = serde_json::to_string(&rollout).unwrap();
            assert_eq!(json, format!("\"{rollout}\""));
            assert_eq!(serde_json::from_str::<Rollout>(&json).unwrap(), rollout);
        }
        let error = Rollout::parse("Canary50Percent").unwrap_err();
        assert!(error.starts_with("rollout: `Canary50Percent`"), "{error}");
        assert!(
            error.contains("Canary10Percent5Minutes") && error.contains("AllAtOnce"),
            "{error}"
        );
    }
}
