//! What a deploy shows before it runs a changeset: the changeset's summary, one screen long
//! whatever its size, and the parameters CloudFormation will use, with where each came from.
//!
//! Why a compact form: a first deploy adds hundreds of resources (255 for a seven-function
//! app), which a person does not read one by one. What needs a person's eye is what loses
//! data or a name's holders: every replacement and removal is listed by name, always; the
//! additions and in-place modifications are counted by resource type. `--verbose` lists
//! everything ([`render`]).

use std::fmt::Write as _;

use eventrail_local::changeset::{ChangeAction, Colour, Plan, Replacement, render};

use crate::parameters::{Parameters, Source};

/// Up to this many changes, every one is listed; beyond, the compact form.
const LISTED_IN_FULL: usize = 20;

/// Width the counted lines wrap at.
const WIDTH: usize = 100;

/// How much of the changeset to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Every change, one line each.
    Every,
    /// One screen: destructive changes by name, the rest counted by type.
    OneScreen,
}

/// The changeset as a person reads it before confirming.
pub fn changeset(plan: &Plan, colour: Colour, detail: Detail) -> String {
    if detail == Detail::Every || plan.changes.len() <= LISTED_IN_FULL {
        return render(plan, colour);
    }
    let full = render(plan, colour);
    let header = full.lines().next().unwrap_or_default().to_owned();
    let mut text = header;
    text.push('\n');
    for (action, mark) in [(ChangeAction::Add, "+"), (ChangeAction::Modify, "~")] {
        let counted: Vec<&str> = plan
            .changes
            .iter()
            .filter(|c| c.action == action && c.replacement == Replacement::Never)
            .map(|c| c.resource_type.as_str())
            .collect();
        if counted.is_empty() {
            continue;
        }
        let mut by_type: Vec<(&str, usize)> = Vec::new();
        for kind in counted {
            match by_type.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, n)) => *n += 1,
                None => by_type.push((kind, 1)),
            }
        }
        by_type.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        // The most common types, as many as two lines hold; the rest counted together.
        let mut pieces: Vec<String> = Vec::new();
        let mut used = 0;
        let mut shown = 0;
        for (kind, n) in &by_type {
            let piece = format!("{n} {kind}");
            if used + piece.len() + 2 > 2 * WIDTH - 40 {
                break;
            }
            used += piece.len() + 2;
            pieces.push(piece);
            shown += 1;
        }
        let rest: usize = by_type[shown..].iter().map(|(_, n)| n).sum();
        if rest > 0 {
            pieces.push(format!(
                "and {rest} more of {} other types",
                by_type.len() - shown
            ));
        }
        text.push_str(&wrapped(mark, &pieces));
    }
    // Every replacement and removal by name, as `render` shows them.
    let destructive = Plan {
        changes: plan
            .changes
            .iter()
            .filter(|c| c.action != ChangeAction::Add && !is_quiet_modify(c.action, c.replacement))
            .cloned()
            .collect(),
        ..plan.clone()
    };
    if !destructive.changes.is_empty() {
        for line in render(&destructive, colour).lines().skip(1) {
            let _ = writeln!(text, "{line}");
        }
    }
    text
}

fn is_quiet_modify(action: ChangeAction, replacement: Replacement) -> bool {
    action == ChangeAction::Modify && replacement == Replacement::Never
}

/// `mark` then the pieces joined with ", ", wrapped at [`WIDTH`].
fn wrapped(mark: &str, pieces: &[String]) -> String {
    let mut text = String::new();
    let mut line = format!("{mark} ");
    for (i, piece) in pieces.iter().enumerate() {
        let sep = if i + 1 < pieces.len() { ", " } else { "" };
        if line.len() > 2 && line.len() + piece.len() > WIDTH {
            let _ = writeln!(text, "{}", line.trim_end());
            line = "  ".to_owned();
        }
        line.push_str(piece);
        line.push_str(sep);
    }
    let _ = writeln!(text, "{}", line.trim_end());
    text
}

/// The parameters CloudFormation reports for the changeset, each marked with where the value
/// came from: `Stage=prod` (samconfig), `AlarmTopicArn=...` (--parameter-overrides).
pub fn parameters(plan: &Plan, sent: &Parameters) -> String {
    let pieces: Vec<String> = plan
        .parameters
        .iter()
        .map(|(key, value)| {
            let from = match sent.source(key) {
                Some(Source::Operator) => " (operator)",
                Some(Source::Samconfig) => "",
                None => " (template default)",
            };
            format!("{key}={value}{from}")
        })
        .collect();
    let mut text =
        String::from("parameters, as CloudFormation has them (unmarked: from samconfig.toml):\n");
    text.push_str(&wrapped(" ", &pieces));
    text
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use eventrail_local::changeset::{PlanKind, ResourceChange};

    use super::*;

    fn change(
        action: ChangeAction,
        id: &str,
        kind: &str,
        replacement: Replacement,
    ) -> ResourceChange {
        ResourceChange {
            action,
            logical_id: id.to_owned(),
            resource_type: kind.to_owned(),
            replacement,
            properties: Vec::new(),
            replaced_by: Vec::new(),
        }
    }

    fn plan(changes: Vec<ResourceChange>) -> Plan {
        Plan {
            stack_name: "s".to_owned(),
            stack_id: "arn".to_owned(),
            change_set_name: "c".to_owned(),
            change_set_id: "arn:c".to_owned(),
            kind: PlanKind::Update,
            changes,
            parameters: BTreeMap::from([("Stage".to_owned(), "prod".to_owned())]),
        }
    }

    #[test]
    fn a_large_plan_fits_a_screen_and_names_every_destructive_change() {
        let mut changes: Vec<ResourceChange> = (0..250)
            .map(|i| {
                let kind = [
                    "AWS::SQS::Queue",
                    "AWS::CloudWatch::Alarm",
                    "AWS::IAM::Role",
                ][i % 3];
                change(
                    ChangeAction::Add,
                    &format!("R{i}"),
                    kind,
                    Replacement::Never,
                )
            })
            .collect();
        changes.push(change(
            ChangeAction::Modify,
            "Replaced",
            "AWS::SQS::Queue",
            Replacement::Always,
        ));
        changes.push(change(
            ChangeAction::Remove,
            "Gone",
            "AWS::SNS::Topic",
            Replacement::Never,
        ));
        changes.push(change(
            ChangeAction::Modify,
            "Tweaked",
            "AWS::Lambda::Function",
            Replacement::Never,
        ));
        let text = changeset(&plan(changes), Colour::Plain, Detail::OneScreen);
        assert!(text.lines().count() <= 8, "{text}");
        assert!(text.contains("83 AWS::CloudWatch::Alarm"), "{text}");
        assert!(
            text.contains("Replaced") && text.contains("replaced"),
            "{text}"
        );
        assert!(text.contains("Gone") && text.contains("removed"), "{text}");
        assert!(text.contains("~ 1 AWS::Lambda::Function"), "{text}");
        assert!(!text.contains("R17"), "{text}");
        let every = changeset(
            &plan(Vec::from([change(
                ChangeAction::Add,
                "Only",
                "AWS::SQS::Queue",
                Replacement::Never,
            )])),
            Colour::Plain,
            Detail::OneScreen,
        );
        assert!(every.contains("Only"), "{every}");
    }

    #[test]
    fn parameters_say_where_each_value_came_from() {
        let sent = Parameters::merge(
            &BTreeMap::from([("Stage".to_owned(), "prod".to_owned())]),
            &BTreeMap::from([("AlarmTopicArn".to_owned(), "arn:t".to_owned())]),
        );
        let mut p = plan(Vec::new());
        p.parameters
            .insert("AlarmTopicArn".to_owned(), "arn:t".to_owned());
        p.parameters
            .insert("LogRetentionDays".to_owned(), "14".to_owned());
        let text = parameters(&p, &sent);
        assert!(
            text.contains("Stage=prod") && !text.contains("Stage=prod ("),
            "{text}"
        );
        assert!(text.contains("AlarmTopicArn=arn:t (operator)"), "{text}");
        assert!(
            text.contains("LogRetentionDays=14 (template default)"),
            "{text}"
        );
    }
}
