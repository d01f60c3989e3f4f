//! A stack's change as a changeset: planned first ([`StackDeployment::plan`]: what
//! CloudFormation would add, modify, replace and remove), shown to a person ([`render`]),
//! then executed ([`StackDeployment::execute`], with the same count and failure report as
//! [`StackDeployment::create_or_update`]) or discarded ([`StackDeployment::discard`]).
//! Works on AWS and on LocalStack alike (see [`crate::clients::Clients::from_sdk_config`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, ChangeSetType, Parameter, RequiresRecreation, ResourceAttribute,
    StackStatus, Tag,
};

use crate::error::{Error, Result};
use crate::progress::{Meter, Output};
use crate::stack::{Applied, Awaited, StackDeployment, TemplateSource, is_terminal};
use crate::tally::Tally;

/// How long CloudFormation gets to compute a changeset (the SAM transform included). AWS
/// takes seconds for the reference system's template; this bounds a stuck one.
const CHANGE_SET_DEADLINE: Duration = Duration::from_secs(600);

/// How often a changeset being computed is asked about: DescribeChangeSet is throttled per
/// account, and a changeset takes seconds.
const CHANGE_SET_POLL: Duration = Duration::from_secs(1);

/// How long the stack a discarded creation left (`REVIEW_IN_PROGRESS`, no resources) gets to
/// be deleted.
const DISCARD_DEADLINE: Duration = Duration::from_secs(120);

/// What CloudFormation will do to one resource. The order is the summary's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeAction {
    Add,
    Modify,
    Remove,
    Import,
    /// Decided only when the changeset runs (a resource of a nested stack or a macro's output);
    /// also what an action this SDK does not know is shown as.
    Dynamic,
}

/// Whether a modification replaces the resource (a new physical resource, the old one
/// deleted: its data and its name's holders are lost).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Replacement {
    Never,
    /// It depends on a value known only when the changeset runs.
    Conditional,
    Always,
}

/// One resource's change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceChange {
    pub action: ChangeAction,
    pub logical_id: String,
    pub resource_type: String,
    pub replacement: Replacement,
    /// Names of the changed properties, sorted, when CloudFormation says (its `Details`);
    /// `Tags` also when the stack's tags change.
    pub properties: Vec<String>,
    /// The changed properties that replace the resource (always or conditionally), sorted.
    pub replaced_by: Vec<String>,
}

/// Whether the changeset creates the stack or updates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanKind {
    Create,
    Update,
}

/// A changeset computed and waiting to be executed or discarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub stack_name: String,
    /// The stack's ARN (a creation's stack exists, in `REVIEW_IN_PROGRESS`, once planned).
    pub stack_id: String,
    pub change_set_name: String,
    /// The changeset's ARN.
    pub change_set_id: String,
    pub kind: PlanKind,
    /// In order: action, then logical id.
    pub changes: Vec<ResourceChange>,
    /// The stack's parameters as DescribeChangeSet reports them (`NoEcho` ones masked).
    pub parameters: BTreeMap<String, String>,
}

/// What [`StackDeployment::plan`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    Changes(Plan),
    /// The stack is as the template and parameters say (the changeset was deleted).
    NoChanges,
}

/// How many resources each action touches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub add: usize,
    /// Modified resources, replaced ones included.
    pub modify: usize,
    /// Modified resources that are replaced.
    pub replaced: usize,
    /// Modified resources that may be replaced.
    pub may_be_replaced: usize,
    pub remove: usize,
    pub import: usize,
    pub dynamic: usize,
}

impl Plan {
    /// How many resources each action touches.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for change in &self.changes {
            match change.action {
                ChangeAction::Add => counts.add += 1,
                ChangeAction::Modify => counts.modify += 1,
                ChangeAction::Remove => counts.remove += 1,
                ChangeAction::Import => counts.import += 1,
                ChangeAction::Dynamic => counts.dynamic += 1,
            }
            match change.replacement {
                Replacement::Always => counts.replaced += 1,
                Replacement::Conditional => counts.may_be_replaced += 1,
                Replacement::Never => {}
            }
        }
        counts
    }

    /// True when a resource is removed or (maybe) replaced: what loses data or a name's
    /// holders, so what a person should confirm.
    pub fn is_destructive(&self) -> bool {
        let counts = self.counts();
        counts.remove + counts.replaced + counts.may_be_replaced > 0
    }
}

/// `capabilities` with `CAPABILITY_AUTO_EXPAND` (the SAM transform is a macro): a
/// samconfig environment that names `CAPABILITY_IAM` alone still plans a SAM template. AWS
/// documents the capability as without effect on a changeset; acknowledging it costs nothing.
fn with_auto_expand(capabilities: &[Capability]) -> Vec<Capability> {
    let mut all = capabilities.to_vec();
    if !all.contains(&Capability::CapabilityAutoExpand) {
        all.push(Capability::CapabilityAutoExpand);
    }
    all
}

/// A changeset's status reason when it failed only because nothing would change (AWS says
/// "The submitted information didn't contain changes...", or "No updates are to be
/// performed." for some templates).
fn means_no_changes(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

/// A changeset name unique enough for one stack: `eventrail-<unix milliseconds>`.
fn change_set_name() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    format!("eventrail-{millis}")
}

fn action_of(action: Option<&aws_sdk_cloudformation::types::ChangeAction>) -> ChangeAction {
    use aws_sdk_cloudformation::types::ChangeAction as Sdk;
    match action {
        Some(Sdk::Add) => ChangeAction::Add,
        Some(Sdk::Modify) => ChangeAction::Modify,
        Some(Sdk::Remove) => ChangeAction::Remove,
        Some(Sdk::Import) => ChangeAction::Import,
        // Dynamic, and what is newer than this SDK: known only when the changeset runs, as
        // far as this summary can tell.
        _ => ChangeAction::Dynamic,
    }
}

fn replacement_of(replacement: Option<&aws_sdk_cloudformation::types::Replacement>) -> Replacement {
    use aws_sdk_cloudformation::types::Replacement as Sdk;
    match replacement {
        Some(Sdk::True) => Replacement::Always,
        Some(Sdk::Conditional) => Replacement::Conditional,
        _ => Replacement::Never,
    }
}

/// One resource's change as the summary reads it.
fn resource_change(change: &aws_sdk_cloudformation::types::ResourceChange) -> ResourceChange {
    let mut properties = Vec::new();
    let mut replaced_by = Vec::new();
    for detail in change.details() {
        let Some(target) = detail.target() else {
            continue;
        };
        let name = match (target.attribute(), target.name()) {
            (Some(ResourceAttribute::Properties), Some(name)) => name,
            (Some(ResourceAttribute::Tags), _) => "Tags",
            _ => continue,
        };
        properties.push(name.to_owned());
        if matches!(
            target.requires_recreation(),
            Some(RequiresRecreation::Always | RequiresRecreation::Conditionally)
        ) {
            replaced_by.push(name.to_owned());
        }
    }
    for names in [&mut properties, &mut replaced_by] {
        names.sort();
        names.dedup();
    }
    ResourceChange {
        action: action_of(change.action()),
        logical_id: change.logical_resource_id().unwrap_or_default().to_owned(),
        resource_type: change.resource_type().unwrap_or_default().to_owned(),
        replacement: replacement_of(change.replacement()),
        properties,
        replaced_by,
    }
}

impl StackDeployment<'_> {
    /// Computes the changeset that would bring the stack to `source` with `parameters`,
    /// `capabilities` and the stack tags `tags` (CAPABILITY_AUTO_EXPAND for a SAM template:
    /// the changeset then lists the transformed resources). A stack whose creation failed is
    /// deleted first, as [`StackDeployment::create_or_update`] does. Nothing is changed until
    /// [`StackDeployment::execute`]; [`StackDeployment::discard`] drops the plan.
    pub async fn plan(
        &self,
        source: &TemplateSource,
        parameters: &BTreeMap<String, String>,
        capabilities: &[Capability],
        tags: &BTreeMap<String, String>,
    ) -> Result<Planned> {
        let mut existing = self.status().await?;
        if let Some((_, status)) = &existing
            && self.start_over(status, CHANGE_SET_DEADLINE).await?
        {
            existing = None;
        }
        let kind = match &existing {
            None => PlanKind::Create,
            // A creation planned before and never executed: plan it again.
            Some((_, status)) if status == StackStatus::ReviewInProgress.as_str() => {
                PlanKind::Create
            }
            Some((_, status)) if !is_terminal(status) => {
                return Err(Error::Deploy {
                    stack: self.stack_name.to_owned(),
                    message: format!("is {status}; wait for it to finish, then plan again"),
                });
            }
            Some(_) => PlanKind::Update,
        };
        let name = change_set_name();
        self.progress.report(|| {
            format!(
                "planning changeset {name} for stack {} ({})",
                self.stack_name,
                match kind {
                    PlanKind::Create => "a new stack",
                    PlanKind::Update => "an update",
                }
            )
        });
        let cfn = self.clients.cloudformation();
        let mut request = cfn
            .create_change_set()
            .stack_name(self.stack_name)
            .change_set_name(&name)
            .description("eventrail deploy")
            .change_set_type(match kind {
                PlanKind::Create => ChangeSetType::Create,
                PlanKind::Update => ChangeSetType::Update,
            })
            .set_parameters(Some(
                parameters
                    .iter()
                    .map(|(k, v)| {
                        Parameter::builder()
                            .parameter_key(k)
                            .parameter_value(v)
                            .build()
                    })
                    .collect(),
            ))
            .set_capabilities(Some(with_auto_expand(capabilities)))
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
                    .collect(),
            ));
        request = match source {
            TemplateSource::Body(body) => request.template_body(body),
            TemplateSource::Url(url) => request.template_url(url),
        };
        let created = request
            .send()
            .await
            .map_err(|e| self.clients.aws_error("cloudformation:CreateChangeSet", e))?;
        let change_set_id = created.id().unwrap_or(&name).to_owned();
        let stack_id = created.stack_id().unwrap_or(self.stack_name).to_owned();
        let mut plan = Plan {
            stack_name: self.stack_name.to_owned(),
            stack_id,
            change_set_name: name,
            change_set_id,
            kind,
            changes: Vec::new(),
            parameters: BTreeMap::new(),
        };
        let meter = Meter::start("changeset", self.progress, Output::of_stderr());
        if let Some(reason) = self.described(&mut plan).await? {
            // Either way the changeset is of no use: tidy it (and a creation's empty stack)
            // away; its reason is what the caller needs.
            let tidied = self.discard(&plan).await;
            if means_no_changes(&reason) {
                meter.finish(|| format!("stack {} is up to date", self.stack_name));
                tidied?;
                return Ok(Planned::NoChanges);
            }
            return Err(Error::Deploy {
                stack: self.stack_name.to_owned(),
                message: format!("changeset {} failed: {reason}", plan.change_set_name),
            });
        }
        let counts = plan.counts();
        meter.finish(|| {
            format!(
                "changeset {}: {} changes ({} to add, {} to modify, {} to remove)",
                plan.change_set_name,
                plan.changes.len(),
                counts.add,
                counts.modify,
                counts.remove
            )
        });
        Ok(Planned::Changes(plan))
    }

    /// Waits for `plan`'s changeset to be computed, then fills in its changes (every page)
    /// and parameters; `Some(reason)` when CloudFormation failed it.
    async fn described(&self, plan: &mut Plan) -> Result<Option<String>> {
        let cfn = self.clients.cloudformation();
        let started = Instant::now();
        let mut next_token: Option<String> = None;
        let mut changes = Vec::new();
        loop {
            let page = cfn
                .describe_change_set()
                .stack_name(self.stack_name)
                .change_set_name(&plan.change_set_id)
                .set_next_token(next_token.clone())
                .send()
                .await
                .map_err(|e| {
                    self.clients
                        .aws_error("cloudformation:DescribeChangeSet", e)
                })?;
            match page.status() {
                Some(ChangeSetStatus::CreateComplete) => {}
                Some(ChangeSetStatus::Failed) => {
                    return Ok(Some(
                        page.status_reason().unwrap_or("no reason given").to_owned(),
                    ));
                }
                status => {
                    if started.elapsed() > CHANGE_SET_DEADLINE {
                        return Err(Error::Deploy {
                            stack: self.stack_name.to_owned(),
                            message: format!(
                                "changeset {} still {} after {} s",
                                plan.change_set_name,
                                status.map(|s| s.as_str()).unwrap_or("without a status"),
                                CHANGE_SET_DEADLINE.as_secs()
                            ),
                        });
                    }
                    tokio::time::sleep(CHANGE_SET_POLL).await;
                    continue;
                }
            }
            if next_token.is_none() {
                plan.parameters = page
                    .parameters()
                    .iter()
                    .filter_map(|p| {
                        Some((
                            p.parameter_key()?.to_owned(),
                            p.parameter_value().unwrap_or_default().to_owned(),
                        ))
                    })
                    .collect();
            }
            changes.extend(
                page.changes()
                    .iter()
                    .filter_map(|c| c.resource_change())
                    .map(resource_change),
            );
            match page.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => break,
            }
        }
        changes.sort_by(|a, b| (a.action, &a.logical_id).cmp(&(b.action, &b.logical_id)));
        plan.changes = changes;
        Ok(None)
    }

    /// Executes `plan`'s changeset and waits up to `timeout` for the stack, counting its
    /// resources as they complete; a failure names the first failed resource, its reason and
    /// the rollback's outcome, as [`StackDeployment::create_or_update`] does.
    pub async fn execute(&self, plan: &Plan, timeout: Duration) -> Result<Applied> {
        self.same_stack(plan)?;
        let mut tally = Tally::new(self.stack_name);
        // Events already there belong to earlier deploys (or the creation's review).
        for event in self.events().await {
            tally.skip(&event.id);
        }
        let started = Instant::now();
        self.progress.report(|| {
            format!(
                "executing changeset {} on stack {}",
                plan.change_set_name, self.stack_name
            )
        });
        self.clients
            .cloudformation()
            .execute_change_set()
            .stack_name(self.stack_name)
            .change_set_name(&plan.change_set_id)
            .send()
            .await
            .map_err(|e| self.clients.aws_error("cloudformation:ExecuteChangeSet", e))?;
        let awaited = match plan.kind {
            PlanKind::Create => Awaited::Creation,
            PlanKind::Update => Awaited::Update,
        };
        let status = self.wait(timeout, started, awaited, &mut tally).await?;
        self.ended(plan.stack_id.clone(), status, &mut tally).await
    }

    /// Deletes `plan`'s changeset, and the stack a planned creation left (it has no
    /// resources: `REVIEW_IN_PROGRESS`).
    pub async fn discard(&self, plan: &Plan) -> Result<()> {
        self.same_stack(plan)?;
        let cfn = self.clients.cloudformation();
        cfn.delete_change_set()
            .stack_name(self.stack_name)
            .change_set_name(&plan.change_set_id)
            .send()
            .await
            .map_err(|e| self.clients.aws_error("cloudformation:DeleteChangeSet", e))?;
        if plan.kind == PlanKind::Create
            && let Some((_, status)) = self.status().await?
            && status == StackStatus::ReviewInProgress.as_str()
        {
            cfn.delete_stack()
                .stack_name(self.stack_name)
                .send()
                .await
                .map_err(|e| self.clients.aws_error("cloudformation:DeleteStack", e))?;
            self.wait(
                DISCARD_DEADLINE,
                Instant::now(),
                Awaited::Deletion,
                &mut Tally::new(self.stack_name),
            )
            .await?;
        }
        Ok(())
    }

    /// A plan is executed or discarded on the stack it was made for.
    fn same_stack(&self, plan: &Plan) -> Result<()> {
        if plan.stack_name == self.stack_name {
            Ok(())
        } else {
            Err(Error::Deploy {
                stack: self.stack_name.to_owned(),
                message: format!(
                    "the changeset {} is stack {}'s, not this one's",
                    plan.change_set_name, plan.stack_name
                ),
            })
        }
    }
}

/// Whether [`render`] colours its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    /// ANSI escape codes: replacements and removals in red.
    Ansi,
    /// No escape codes.
    Plain,
}

impl Colour {
    /// [`Colour::Ansi`] when stdout is a terminal and `NO_COLOR` is unset (or empty, as
    /// no-color.org says), else [`Colour::Plain`].
    pub fn of_stdout() -> Self {
        let no_colour = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if std::io::stdout().is_terminal() && !no_colour {
            Self::Ansi
        } else {
            Self::Plain
        }
    }

    fn paint(self, code: &str, text: &str) -> String {
        match self {
            Self::Ansi => format!("\u{1b}[{code}m{text}\u{1b}[0m"),
            Self::Plain => text.to_owned(),
        }
    }

    fn red(self, text: &str) -> String {
        self.paint("31", text)
    }

    fn green(self, text: &str) -> String {
        self.paint("32", text)
    }

    fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }
}

/// Widest logical id or type the columns make room for; a longer one pushes its line's
/// next column along rather than widening every line.
const COLUMN_WIDTH: usize = 40;

/// Most property names a line lists; the rest are counted.
const PROPERTIES_SHOWN: usize = 5;

/// The header: what the changeset does, counted per action.
fn header(plan: &Plan) -> String {
    let counts = plan.counts();
    let mut parts = Vec::new();
    if counts.add > 0 {
        parts.push(format!("{} to add", counts.add));
    }
    if counts.modify > 0 {
        let mut replaced = Vec::new();
        if counts.replaced > 0 {
            replaced.push(format!("{} replaced", counts.replaced));
        }
        if counts.may_be_replaced > 0 {
            replaced.push(format!("{} may be replaced", counts.may_be_replaced));
        }
        let replaced = if replaced.is_empty() {
            String::new()
        } else {
            format!(" ({})", replaced.join(", "))
        };
        parts.push(format!("{} to modify{replaced}", counts.modify));
    }
    if counts.remove > 0 {
        parts.push(format!("{} to remove", counts.remove));
    }
    if counts.import > 0 {
        parts.push(format!("{} to import", counts.import));
    }
    if counts.dynamic > 0 {
        parts.push(format!("{} decided when executed", counts.dynamic));
    }
    let what = if parts.is_empty() {
        // Outputs, parameters or tags alone change.
        "no resource changes".to_owned()
    } else {
        parts.join(", ")
    };
    let new = match plan.kind {
        PlanKind::Create => " (new stack)",
        PlanKind::Update => "",
    };
    format!("changeset for stack {}{new}: {what}", plan.stack_name)
}

/// `(A, B)`, at most [`PROPERTIES_SHOWN`] names, empty for none.
fn names(properties: &[String]) -> String {
    if properties.is_empty() {
        return String::new();
    }
    let shown: Vec<&str> = properties
        .iter()
        .take(PROPERTIES_SHOWN)
        .map(String::as_str)
        .collect();
    let more = properties.len().saturating_sub(PROPERTIES_SHOWN);
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!("({}{more})", shown.join(", "))
}

/// One change's mark and note, coloured.
fn mark_and_note(change: &ResourceChange, colour: Colour) -> (String, String) {
    // A replacement names what causes it when CloudFormation says, else what changed.
    let causes = if change.replaced_by.is_empty() {
        names(&change.properties)
    } else {
        names(&change.replaced_by)
    };
    let with = |word: &str| {
        if causes.is_empty() {
            word.to_owned()
        } else {
            format!("{word} {causes}")
        }
    };
    match (change.action, change.replacement) {
        (ChangeAction::Modify, Replacement::Always) => {
            (colour.red("!"), colour.red(&with("replaced")))
        }
        (ChangeAction::Modify, Replacement::Conditional) => {
            (colour.red("!"), colour.red(&with("may be replaced")))
        }
        (ChangeAction::Modify, Replacement::Never) => {
            (colour.yellow("~"), names(&change.properties))
        }
        (ChangeAction::Add, _) => (colour.green("+"), String::new()),
        (ChangeAction::Remove, _) => (colour.red("-"), colour.red("removed")),
        (ChangeAction::Import, _) => (colour.green("<"), "imported".to_owned()),
        (ChangeAction::Dynamic, _) => ("?".to_owned(), "decided when executed".to_owned()),
    }
}

/// The changeset a person reads before confirming: the header counts each action (so a
/// plan of hundreds of resources is judged by its first line), then one line per change in
/// the plan's order (action, then logical id):
///
/// ```text
/// changeset for stack my-app: 1 to add, 2 to modify (1 replaced), 1 to remove
/// + Extra  AWS::SQS::Queue
/// ~ Fn     AWS::Lambda::Function  (Code)
/// ! Q2     AWS::SQS::Queue        replaced (QueueName)
/// - Old    AWS::SQS::Queue        removed
/// ```
///
/// With [`Colour::Ansi`], replacements and removals are red, additions green and in-place
/// modifications yellow; [`Colour::Plain`] writes no escape code.
pub fn render(plan: &Plan, colour: Colour) -> String {
    let id_width = plan
        .changes
        .iter()
        .map(|c| c.logical_id.len())
        .max()
        .unwrap_or(0)
        .min(COLUMN_WIDTH);
    let type_width = plan
        .changes
        .iter()
        .map(|c| c.resource_type.len())
        .max()
        .unwrap_or(0)
        .min(COLUMN_WIDTH);
    let mut text = header(plan);
    text.push('\n');
    for change in &plan.changes {
        let (mark, note) = mark_and_note(change, colour);
        let line = if note.is_empty() {
            format!(
                "{mark} {:<id_width$}  {}",
                change.logical_id, change.resource_type
            )
        } else {
            format!(
                "{mark} {:<id_width$}  {:<type_width$}  {note}",
                change.logical_id, change.resource_type
            )
        };
        // A line without a note ends at its type, with no padding after it.
        let _ = writeln!(text, "{}", line.trim_end());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(
        action: ChangeAction,
        id: &str,
        kind: &str,
        replacement: Replacement,
        properties: &[&str],
        replaced_by: &[&str],
    ) -> ResourceChange {
        ResourceChange {
            action,
            logical_id: id.to_owned(),
            resource_type: kind.to_owned(),
            replacement,
            properties: properties.iter().map(|p| (*p).to_owned()).collect(),
            replaced_by: replaced_by.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    fn plan(changes: Vec<ResourceChange>) -> Plan {
        Plan {
            stack_name: "scratch".to_owned(),
            stack_id: "arn:stack".to_owned(),
            change_set_name: "eventrail-1".to_owned(),
            change_set_id: "arn:changeset".to_owned(),
            kind: PlanKind::Update,
            changes,
            parameters: BTreeMap::new(),
        }
    }

    fn sample() -> Plan {
        use ChangeAction::*;
        use Replacement::*;
        plan(vec![
            change(Add, "Extra", "AWS::SQS::Queue", Never, &[], &[]),
            change(Modify, "Fn", "AWS::Lambda::Function", Never, &["Code"], &[]),
            change(
                Modify,
                "Q2",
                "AWS::SQS::Queue",
                Always,
                &["QueueName", "VisibilityTimeout"],
                &["QueueName"],
            ),
            change(Modify, "Topic", "AWS::SNS::Topic", Conditional, &[], &[]),
            change(Remove, "Old", "AWS::SQS::Queue", Never, &[], &[]),
        ])
    }

    #[test]
    fn plain_rendering_counts_each_action_and_lists_each_change_without_escape_codes() {
        let text = render(&sample(), Colour::Plain);
        assert!(!text.contains('\u{1b}'), "{text:?}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "changeset for stack scratch: 1 to add, 3 to modify (1 replaced, 1 may be replaced), 1 to remove",
                "+ Extra  AWS::SQS::Queue",
                "~ Fn     AWS::Lambda::Function  (Code)",
                "! Q2     AWS::SQS::Queue        replaced (QueueName)",
                "! Topic  AWS::SNS::Topic        may be replaced",
                "- Old    AWS::SQS::Queue        removed",
            ]
        );
    }

    #[test]
    fn ansi_rendering_paints_replacements_and_removals_red() {
        let text = render(&sample(), Colour::Ansi);
        assert!(
            text.contains("\u{1b}[31mreplaced (QueueName)\u{1b}[0m"),
            "{text:?}"
        );
        assert!(
            text.contains("\u{1b}[31mmay be replaced\u{1b}[0m"),
            "{text:?}"
        );
        assert!(text.contains("\u{1b}[31m-\u{1b}[0m Old"), "{text:?}");
        assert!(text.contains("\u{1b}[32m+\u{1b}[0m Extra"), "{text:?}");
        // The same words as the plain rendering, once the codes are gone.
        let stripped = text
            .replace("\u{1b}[31m", "")
            .replace("\u{1b}[32m", "")
            .replace("\u{1b}[33m", "")
            .replace("\u{1b}[0m", "");
        assert_eq!(stripped, render(&sample(), Colour::Plain));
    }

    #[test]
    fn counts_and_destructiveness() {
        let counts = sample().counts();
        assert_eq!(
            counts,
            Counts {
                add: 1,
                modify: 3,
                replaced: 1,
                may_be_replaced: 1,
                remove: 1,
                import: 0,
                dynamic: 0,
            }
        );
        assert!(sample().is_destructive());
        let additions = plan(vec![change(
            ChangeAction::Add,
            "A",
            "AWS::SQS::Queue",
            Replacement::Never,
            &[],
            &[],
        )]);
        assert!(!additions.is_destructive());
        assert_eq!(
            render(&additions, Colour::Plain).lines().next(),
            Some("changeset for stack scratch: 1 to add")
        );
        assert_eq!(
            render(&plan(Vec::new()), Colour::Plain),
            "changeset for stack scratch: no resource changes\n"
        );
    }

    #[test]
    fn many_properties_are_counted_past_five() {
        let names: Vec<String> = (0..8).map(|i| format!("P{i}")).collect();
        assert_eq!(super::names(&names), "(P0, P1, P2, P3, P4 and 3 more)");
    }

    #[test]
    fn the_sdk_s_changes_are_read_with_their_changed_and_replacing_properties() {
        use aws_sdk_cloudformation::types as sdk;
        let detail = |name: &str, recreation: sdk::RequiresRecreation| {
            sdk::ResourceChangeDetail::builder()
                .target(
                    sdk::ResourceTargetDefinition::builder()
                        .attribute(sdk::ResourceAttribute::Properties)
                        .name(name)
                        .requires_recreation(recreation)
                        .build(),
                )
                .build()
        };
        let change = sdk::ResourceChange::builder()
            .action(sdk::ChangeAction::Modify)
            .logical_resource_id("Q2")
            .resource_type("AWS::SQS::Queue")
            .replacement(sdk::Replacement::True)
            .details(detail("VisibilityTimeout", sdk::RequiresRecreation::Never))
            .details(detail("QueueName", sdk::RequiresRecreation::Always))
            .details(detail("QueueName", sdk::RequiresRecreation::Always))
            .build();
        let read = resource_change(&change);
        assert_eq!(read.action, ChangeAction::Modify);
        assert_eq!(read.replacement, Replacement::Always);
        assert_eq!(read.properties, ["QueueName", "VisibilityTimeout"]);
        assert_eq!(read.replaced_by, ["QueueName"]);
        let unknown = sdk::ResourceChange::builder()
            .action(sdk::ChangeAction::from("SomethingNew"))
            .build();
        assert_eq!(resource_change(&unknown).action, ChangeAction::Dynamic);
        assert_eq!(resource_change(&unknown).replacement, Replacement::Never);
    }

    #[test]
    fn auto_expand_is_always_acknowledged_once() {
        assert_eq!(
            with_auto_expand(&[Capability::CapabilityIam]),
            [Capability::CapabilityIam, Capability::CapabilityAutoExpand]
        );
        assert_eq!(
            with_auto_expand(&[Capability::CapabilityAutoExpand]),
            [Capability::CapabilityAutoExpand]
        );
    }

    #[test]
    fn a_failure_for_want_of_changes_is_told_apart() {
        assert!(means_no_changes(
            "The submitted information didn't contain changes. Submit different information to create a change set."
        ));
        assert!(means_no_changes("No updates are to be performed."));
        assert!(!means_no_changes(
            "Template format error: Unresolved resource dependencies"
        ));
    }
}
