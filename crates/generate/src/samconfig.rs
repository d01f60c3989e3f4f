//! samconfig.toml's local environment: every scheduled function runs every minute on the local
//! stack (`<Function>Schedule="rate(1 minute)"` in `[local.deploy.parameters]`'s
//! `parameter_overrides`), so its firing shows within a test's patience, and declared rollouts
//! are off there (`GradualRollout=false`: LocalStack's free edition has no CodeDeploy). The
//! generator adds a missing override and leaves every other byte of the file as it is.

/// The environment whose deploys go to the local stack.
pub const LOCAL_ENVIRONMENT: &str = "local";

/// The expression scheduled functions run with on the local stack.
pub const LOCAL_SCHEDULE: &str = "rate(1 minute)";

/// The local environment's value of the rollout switch: off (no CodeDeploy on LocalStack).
pub const LOCAL_GRADUAL_ROLLOUT: &str = "false";

/// `text` (samconfig.toml) with an override `<parameter>="rate(1 minute)"` for each of
/// `parameters` the local environment's `parameter_overrides` string does not set yet. `None`
/// when the file has no such string (nothing to patch: the local deploy then runs the declared
/// expressions).
pub fn with_local_schedules(text: &str, parameters: &[String]) -> Option<String> {
    let overrides: Vec<(String, String)> = parameters
        .iter()
        .map(|p| (p.clone(), format!("\\\"{LOCAL_SCHEDULE}\\\"")))
        .collect();
    with_local_overrides(text, &overrides)
}

/// `text` (samconfig.toml) with ` <parameter>=<value>` appended to the local environment's
/// `parameter_overrides` string for each of `overrides` it does not set yet (`value` as it is
/// written inside that TOML string, escapes included). `None` when the file has no such string.
pub fn with_local_overrides(text: &str, overrides: &[(String, String)]) -> Option<String> {
    let section = format!("[{LOCAL_ENVIRONMENT}.deploy.parameters]");
    let start = text.find(&section)? + section.len();
    let end = text[start..].find("\n[").map_or(text.len(), |i| start + i);
    let key = "parameter_overrides = \"";
    let line_start = text[start..end]
        .lines()
        .scan(start, |offset, line| {
            let at = *offset;
            *offset += line.len() + 1;
            Some((at, line))
        })
        .find(|(_, line)| line.starts_with(key))
        .map(|(at, _)| at)?;
    let value_start = line_start + key.len();
    let line_end = text[value_start..]
        .find('\n')
        .map_or(text.len(), |i| value_start + i);
    let value_end = text[value_start..line_end]
        .rfind('"')
        .map(|i| value_start + i)?;
    let value = &text[value_start..value_end];
    let set = |p: &str| {
        value
            .split_whitespace()
            .any(|w| w.strip_prefix(p).is_some_and(|rest| rest.starts_with('=')))
    };
    let missing: Vec<String> = overrides
        .iter()
        .filter(|(p, _)| !set(p))
        .map(|(p, value)| format!(" {p}={value}"))
        .collect();
    let mut out = String::with_capacity(text.len() + 64);
    out.push_str(&text[..value_end]);
    for m in &missing {
        out.push_str(m);
    }
    out.push_str(&text[value_end..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMCONFIG: &str = "[default.deploy.parameters]\nparameter_overrides = \"Stage=dev\"\n\n[local.deploy.parameters]\ns3_prefix = \"x\"\nparameter_overrides = \"Stage=local A=1\"\ntags = \"project=x\"\n";

    #[test]
    fn a_missing_local_schedule_is_added_and_nothing_else_changes() {
        let out = with_local_schedules(SAMCONFIG, &["NightlySchedule".into()]).unwrap();
        assert_eq!(
            out,
            SAMCONFIG.replace(
                "\"Stage=local A=1\"",
                "\"Stage=local A=1 NightlySchedule=\\\"rate(1 minute)\\\"\""
            )
        );
        let again = with_local_schedules(&out, &["NightlySchedule".into()]).unwrap();
        assert_eq!(again, out, "set once");
        let parsed = eventrail_model::SamConfig::parse(&out, "samconfig.toml").unwrap();
        let local = parsed.environment("local").unwrap();
        assert_eq!(
            local.parameter_overrides["NightlySchedule"],
            "rate(1 minute)"
        );
        assert_eq!(
            parsed
                .environment("default")
                .unwrap()
                .parameter_overrides
                .get("NightlySchedule"),
            None,
            "only the local environment"
        );
    }

    #[test]
    fn the_rollout_switch_is_added_unquoted_and_set_once() {
        let overrides = [(
            "GradualRollout".to_owned(),
            LOCAL_GRADUAL_ROLLOUT.to_owned(),
        )];
        let out = with_local_overrides(SAMCONFIG, &overrides).unwrap();
        assert_eq!(
            out,
            SAMCONFIG.replace(
                "\"Stage=local A=1\"",
                "\"Stage=local A=1 GradualRollout=false\""
            )
        );
        assert_eq!(with_local_overrides(&out, &overrides).unwrap(), out);
        let parsed = eventrail_model::SamConfig::parse(&out, "samconfig.toml").unwrap();
        assert_eq!(
            parsed.environment("local").unwrap().parameter_overrides["GradualRollout"],
            "false"
        );
    }

    #[test]
    fn an_override_already_set_stays_and_no_local_section_is_no_patch() {
        let set = SAMCONFIG.replace("A=1", "NightlySchedule=\\\"rate(5 minutes)\\\"");
        assert_eq!(
            with_local_schedules(&set, &["NightlySchedule".into()]).as_deref(),
            Some(set.as_str())
        );
        assert_eq!(
            with_local_schedules("[default.deploy.parameters]\n", &[]),
            None
        );
    }
}
