//! The new function's trigger, from `eventrail new function`'s flags (`--http`, `--schedule`,
//! `--queue`, `--buffered`, or a plain consumer), checked with errors naming the flag, and
//! written as the declaration's keys.

use clap::Args;
use eventrail_contract::{Delivery, QueueSource, Route};

/// What starts the new function: at most one of these; none makes a rule-subscribed consumer.
#[derive(Debug, Args)]
#[group(multiple = false)]
pub(super) struct TriggerArgs {
    /// A producer behind a route of the REST API (`POST /intake`): its handler gets the typed
    /// request body and answers with a typed response.
    #[arg(long, value_name = "METHOD /PATH")]
    http: Option<String>,
    /// A producer EventBridge Scheduler starts: `rate(1 day)` or `cron(0 3 * * ? *)`.
    #[arg(long, value_name = "EXPRESSION")]
    schedule: Option<String>,
    /// A producer fed by an SQS queue: a new one created with it (the default), or the logical
    /// id of a queue of the template.
    #[arg(
        long,
        value_name = "new|LOGICAL_ID",
        num_args = 0..=1,
        default_missing_value = "new"
    )]
    queue: Option<String>,
    /// A consumer (`--consumes`) whose rule sends to an SQS buffer queue the function drains in
    /// batches, with a concurrency cap (`delivery = "queue"`).
    #[arg(long)]
    buffered: bool,
}

/// The new function's trigger, checked.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum NewTrigger {
    /// A rule on the bus, delivering directly or through a buffer queue.
    Rule(Delivery),
    /// An HTTP route.
    Http(Route),
    /// A schedule expression.
    Schedule(String),
    /// An SQS source.
    Queue(QueueSource),
}

impl TriggerArgs {
    /// The trigger the flags ask for; the error names the flag and says what is expected.
    pub(super) fn resolve(&self, consumes: &[String]) -> Result<NewTrigger, String> {
        let trigger = if let Some(route) = &self.http {
            NewTrigger::Http(Route::parse(route.trim()).map_err(|m| format!("--http: {m}"))?)
        } else if let Some(expression) = &self.schedule {
            let expression = expression.trim();
            eventrail_contract::trigger::check_schedule_expression(expression)
                .map_err(|m| format!("--schedule: {m}"))?;
            NewTrigger::Schedule(expression.to_owned())
        } else if let Some(queue) = &self.queue {
            let queue = queue.trim();
            if queue == "new" {
                NewTrigger::Queue(QueueSource::New)
            } else if !queue.is_empty() && queue.chars().all(|c| c.is_ascii_alphanumeric()) {
                NewTrigger::Queue(QueueSource::Existing(queue.to_owned()))
            } else {
                return Err(format!(
                    "--queue: `{queue}` is neither `new` nor the logical id of a queue of the \
                     template (letters and digits, `ImportInbox`)"
                ));
            }
        } else if self.buffered {
            NewTrigger::Rule(Delivery::Queue)
        } else {
            NewTrigger::Rule(Delivery::Direct)
        };
        match (&trigger, consumes.is_empty()) {
            (NewTrigger::Rule(Delivery::Queue), true) => Err(
                "--buffered buffers a rule's events: name the events it consumes with \
                 --consumes"
                    .to_owned(),
            ),
            (NewTrigger::Rule(_), true) => Err(
                "--consumes is required for a consumer; for a producer give its trigger: \
                 --http \"POST /path\", --schedule \"rate(1 day)\" or --queue"
                    .to_owned(),
            ),
            (NewTrigger::Rule(_), false) => Ok(trigger),
            (_, false) => Err(format!(
                "--consumes: a function triggered by --{} has no rule on the bus; drop \
                 --consumes (or make it a consumer without --{0})",
                trigger.flag()
            )),
            (_, true) => Ok(trigger),
        }
    }
}

impl NewTrigger {
    /// The flag that asked for it.
    fn flag(&self) -> &'static str {
        match self {
            NewTrigger::Rule(Delivery::Direct) => "consumes",
            NewTrigger::Rule(Delivery::Queue) => "buffered",
            NewTrigger::Http(_) => "http",
            NewTrigger::Schedule(_) => "schedule",
            NewTrigger::Queue(_) => "queue",
        }
    }

    /// The declaration's trigger keys, as written in Cargo.toml (each line ends with a newline).
    pub(super) fn manifest_lines(&self, consumes: &[String]) -> String {
        let quoted = |text: &str| serde_json::Value::String(text.to_owned()).to_string();
        match self {
            NewTrigger::Rule(Delivery::Direct) => format!("consumes = {}\n", quoted_list(consumes)),
            NewTrigger::Rule(Delivery::Queue) => format!(
                "consumes = {}\n# The rule sends to an SQS buffer queue the function drains in batches \
             (a poison\n# event goes to the failure queue with its reason, a failed one is retried \
             by SQS).\ndelivery = \"queue\"\n# batch-size = 10\n# max-concurrency = 2\n",
                quoted_list(consumes)
            ),
            NewTrigger::Http(route) => format!(
                "# A route of the stack's REST API (auth, CORS, the request's catalog command: the \
             table\n# form, [package.metadata.eventrail.http]).\nhttp = {}\n",
                quoted(&route.to_string())
            ),
            NewTrigger::Schedule(expression) => format!(
                "# EventBridge Scheduler starts it; a stage may set another expression (template\n# \
             parameter <Function>Schedule in samconfig.toml).\nschedule = {}\n",
                quoted(expression)
            ),
            NewTrigger::Queue(source) => {
                let source = match source {
                    QueueSource::New => "new",
                    QueueSource::Existing(id) => id,
                };
                format!(
                    "# An SQS queue feeds it in batches (\"new\": one created with it).\nqueue = {}\n# \
                 batch-size = 10\n",
                    quoted(source)
                )
            }
        }
    }
}

/// `["A", "B"]`, as TOML writes a list of strings.
pub(super) fn quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|i| serde_json::Value::String(i.clone()).to_string())
        .collect();
    format!("[{}]", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use eventrail_contract::Declaration;

    use super::*;

    #[derive(Debug, Parser)]
    struct Flags {
        #[arg(long, value_delimiter = ',')]
        consumes: Vec<String>,
        #[command(flatten)]
        trigger: TriggerArgs,
    }

    fn resolve(args: &[&str]) -> Result<(NewTrigger, Vec<String>), String> {
        let flags = Flags::try_parse_from(std::iter::once("new").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        let trigger = flags.trigger.resolve(&flags.consumes)?;
        Ok((trigger, flags.consumes))
    }

    #[test]
    fn each_flag_makes_its_trigger_and_its_declaration() {
        for (args, kind) in [
            (vec!["--consumes", "Thing"], "rule"),
            (vec!["--consumes", "Thing", "--buffered"], "buffered rule"),
            (vec!["--http", "POST /intake"], "http"),
            (vec!["--schedule", "rate(1 day)"], "schedule"),
            (vec!["--queue"], "queue"),
            (vec!["--queue", "Inbox"], "queue"),
        ] {
            let (trigger, consumes) = resolve(&args).unwrap();
            let lines = trigger.manifest_lines(&consumes);
            let text = format!("{lines}emits = [\"Done\"]\n");
            let declaration: Declaration =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}\n{lines}"));
            assert_eq!(declaration.trigger().kind(), kind, "{args:?}\n{lines}");
            assert_eq!(declaration.check("new"), Ok(()), "{args:?}");
        }
        let (trigger, _) = resolve(&["--queue", "Inbox"]).unwrap();
        assert_eq!(
            trigger,
            NewTrigger::Queue(QueueSource::Existing("Inbox".into()))
        );
        let (trigger, _) = resolve(&["--queue"]).unwrap();
        assert_eq!(trigger, NewTrigger::Queue(QueueSource::New));
    }

    #[test]
    fn bad_flags_are_refused_naming_the_flag() {
        for (args, wanted) in [
            (
                vec!["--http", "POST /x", "--schedule", "rate(1 day)"],
                "'--http <METHOD /PATH>' cannot be used with '--schedule <EXPRESSION>'",
            ),
            (vec!["--queue", "--buffered"], "cannot be used with"),
            (vec!["--http", "POST x"], "--http: `x` is not a path"),
            (vec!["--http", "SEND /x"], "--http: `SEND` is not a method"),
            (
                vec!["--schedule", "daily"],
                "--schedule: `daily` is neither",
            ),
            (
                vec!["--schedule", "rate(2 day)"],
                "--schedule: `rate(2 day)`: the unit",
            ),
            (
                vec!["--queue", "bad-id"],
                "--queue: `bad-id` is neither `new`",
            ),
            (
                vec!["--consumes", "Thing", "--schedule", "rate(1 day)"],
                "--consumes: a function triggered by --schedule has no rule",
            ),
            (vec!["--buffered"], "--buffered buffers a rule's events"),
            (vec![], "--consumes is required for a consumer"),
        ] {
            let error = resolve(&args).unwrap_err();
            assert!(error.contains(wanted), "{args:?}: {error}");
        }
    }
}
