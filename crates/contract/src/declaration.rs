//! What a function declares about itself, next to its code: `[package.metadata.eventrail]`
//! in its `Cargo.toml` (as cargo-lambda reads `[package.metadata.lambda]`). The template's
//! per-function resources, the runtime's configuration, the routing index and the tests'
//! lists are all derived from it.
//!
//! ```toml
//! [package.metadata.eventrail]
//! description = "On TaskCreated: plans it"
//! consumes = ["TaskCreated"]            # catalog detail-types, or ["*"] for every event of the app
//! emits = ["TaskAssigned", "TaskRejected"]
//! # invoke = "direct"                   # invoked by callers, not by a rule (a producer)
//! # commands = ["CreateTask"]           # what callers send a producer (for the graph and docs)
//! # versions = { TaskCreated = 1 }      # catalog versions the code was written for
//! # rule = "FlaggedTaskCreated"         # name of the subscribing rule (default: the detail-type)
//! # memory = 256                        # MB, default from the template's Globals
//! # timeout = 15                        # seconds
//! # [package.metadata.eventrail.filter] # extra pattern on `detail`, EventBridge syntax
//! # [package.metadata.eventrail.environment] VAR = { ref = "LogicalId" } or "literal"
//! # [[package.metadata.eventrail.permissions]] sid, actions, resources = ["LogicalId"]
//! # [package.metadata.eventrail.queues.<name>] env = "VAR", fifo = false
//! # [package.metadata.eventrail.idempotency] ttl-hours = 168   # a DynamoDB table of its own
//! # http = "POST /tasks" | schedule = "rate(1 day)" | queue = "new"   # a producer's trigger
//! # delivery = "queue"                 # a consumer behind an SQS buffer (see `trigger.rs`)
//! # batch-size = 10, batching-window = 0, max-concurrency = 2, max-receive-count = 3
//! # rollout = "Canary10Percent5Minutes" # gradual rollout behind an alias (see `rollout.rs`)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::rollout::Rollout;
use crate::trigger::{Batching, Delivery, HttpTrigger, QueueSource, ScheduleTrigger, Trigger};

/// `consumes = ["*"]`: every event of the application (sources with the app's prefix).
pub const EVERY_EVENT: &str = "*";

/// How a function is invoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Invoke {
    /// By an EventBridge rule on the bus (a consumer). The default.
    #[default]
    Rule,
    /// Directly by callers (a producer that answers them); no rule subscribes it.
    Direct,
}

/// A value of an environment variable the function needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EnvValue {
    /// A literal.
    Literal(String),
    /// `!Ref LogicalId` of a resource of the template.
    Ref {
        /// Logical id.
        #[serde(rename = "ref")]
        reference: String,
    },
    /// `!GetAtt LogicalId.Attribute`.
    GetAtt {
        /// `LogicalId.Attribute`.
        #[serde(rename = "get-att")]
        get_att: String,
    },
}

/// An extra permission of the function's role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Permission {
    /// Statement id (letters and digits).
    pub sid: String,
    /// IAM actions, e.g. `sqs:SendMessage`.
    pub actions: Vec<String>,
    /// Logical ids of resources of the template; each becomes `!GetAtt <id>.Arn`.
    pub resources: Vec<String>,
}

/// A queue of the function's own: created, encrypted and alarmed with it; the role may send
/// to it and the variable `env` holds its URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct QueueDeclaration {
    /// Environment variable that receives the queue URL.
    pub env: String,
    /// A FIFO queue.
    #[serde(default)]
    pub fifo: bool,
}

/// `[package.metadata.eventrail.idempotency]`: the function runs side effects once per
/// idempotency key (`eventrail_runtime::idempotency`), with its records in a DynamoDB table of
/// its own: created with a TTL on `expiration`, readable and writable by its role only, named
/// by `EVENTRAIL_IDEMPOTENCY_TABLE`; the time-to-live is `EVENTRAIL_IDEMPOTENCY_TTL_SECONDS`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct IdempotencyDeclaration {
    /// How long a completed key stays done, in hours: a duplicate later than this runs the
    /// effect again. Default [`IdempotencyDeclaration::DEFAULT_TTL_HOURS`].
    #[serde(default)]
    pub ttl_hours: Option<u32>,
}

impl IdempotencyDeclaration {
    /// 7 days: longer than the event archive's replays and redrives usually take.
    pub const DEFAULT_TTL_HOURS: u32 = 168;
    /// The longest time-to-live accepted: 10 years, far past any archive.
    pub const MAX_TTL_HOURS: u32 = 87_600;

    /// The time-to-live in seconds.
    pub fn ttl_seconds(&self) -> u64 {
        u64::from(self.ttl_hours.unwrap_or(Self::DEFAULT_TTL_HOURS)) * 3600
    }
}

/// `[package.metadata.eventrail]`: everything the tools need to know about one function.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Declaration {
    /// One line for the template and the docs.
    #[serde(default)]
    pub description: Option<String>,
    /// Catalog detail-types the function consumes, or `["*"]` for every event of the app.
    #[serde(default)]
    pub consumes: Vec<String>,
    /// An extra pattern on `detail` (content filtering), in EventBridge's pattern syntax.
    #[serde(default)]
    pub filter: Option<Value>,
    /// Name of the subscribing rule; defaults to the consumed detail-type (or `Events`).
    #[serde(default)]
    pub rule: Option<String>,
    /// Catalog detail-types the function emits.
    #[serde(default)]
    pub emits: Vec<String>,
    /// How the function is invoked.
    #[serde(default)]
    pub invoke: Invoke,
    /// The commands callers send a directly invoked function (`CreateTask`); shown in the
    /// graph and the catalog. Only for `invoke = "direct"`.
    #[serde(default)]
    pub commands: Vec<String>,
    /// The catalog version of each consumed event the function's code was written for
    /// (`TaskCreated = 1`). Optional; `eventrail lint` reports a consumer whose declared
    /// version is not the catalog's, and a breaking change lists the consumers it affects.
    #[serde(default)]
    pub versions: BTreeMap<String, u32>,
    /// Memory in MB, when not the template's default.
    #[serde(default)]
    pub memory: Option<u32>,
    /// Timeout in seconds, when not the template's default.
    #[serde(default)]
    pub timeout: Option<u32>,
    /// Extra environment variables.
    #[serde(default)]
    pub environment: BTreeMap<String, EnvValue>,
    /// Extra permissions on resources of the template.
    #[serde(default)]
    pub permissions: Vec<Permission>,
    /// Queues of the function's own, by name.
    #[serde(default)]
    pub queues: BTreeMap<String, QueueDeclaration>,
    /// An idempotency table of the function's own.
    #[serde(default)]
    pub idempotency: Option<IdempotencyDeclaration>,
    /// An HTTP route that triggers the function (a producer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpTrigger>,
    /// A schedule that triggers the function (a producer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleTrigger>,
    /// An SQS queue that triggers the function (a producer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueSource>,
    /// How a consumer's rule delivers to it.
    #[serde(default)]
    pub delivery: Delivery,
    /// Records per invocation of an SQS-fed function (see [`Batching`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u32>,
    /// Seconds an SQS-fed function's batch is gathered for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batching_window: Option<u32>,
    /// The most concurrent invocations its queue drives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// Receives of a record before SQS moves it to the failure queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_receive_count: Option<u32>,
    /// How a new version takes the function's traffic (see [`Rollout`]); `None` deploys it at
    /// once, as a function without an alias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
}

/// A declaration that cannot be read or does not make sense; names the file and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct DeclarationError {
    /// The manifest (or "<embedded>").
    pub file: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// A function of the application: its name (the package, binary and Lambda suffix) and its
/// declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDeclaration {
    /// Package name: `gift-wrap`.
    pub name: String,
    /// The function's directory (`functions/gift-wrap`).
    pub dir: PathBuf,
    /// `[package.metadata.eventrail]`.
    pub declaration: Declaration,
}

impl FunctionDeclaration {
    /// The template's logical-id stem: `gift-wrap` -> `GiftWrap`.
    pub fn logical_id(&self) -> String {
        logical_id(&self.name)
    }
}

/// `gift-wrap` -> `GiftWrap`: each dash-separated word capitalised. Names are checked by
/// [`check_function_name`] first, so this is a bijection on valid names.
pub fn logical_id(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// The key prefix of a function's stored failed events: its declared name and a slash
/// (`planner/`), whatever name Lambda gives the deployed function.
pub fn failed_events_prefix(function: &str) -> String {
    format!("{function}/")
}

/// A function name must be lower-case words of letters and digits joined by single dashes,
/// start with a letter and be at most 40 characters (it ends up in Lambda, log group, rule and
/// role names, which have length limits). Returns what is wrong.
pub fn check_function_name(name: &str) -> Result<(), String> {
    let valid_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if name.is_empty() {
        return Err("a function name must not be empty".to_owned());
    }
    if name.len() > 40 {
        return Err(format!("`{name}` is longer than 40 characters"));
    }
    if !valid_chars || !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!(
            "`{name}` is not a valid function name: use lower-case letters, digits and dashes, \
             starting with a letter (e.g. `gift-wrap`)"
        ));
    }
    if name.ends_with('-') || name.contains("--") {
        return Err(format!(
            "`{name}` is not a valid function name: dashes separate words (no leading, trailing or double dash)"
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
struct Manifest {
    package: Option<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    #[serde(default)]
    metadata: Option<PackageMetadata>,
}

#[derive(Deserialize)]
struct PackageMetadata {
    #[serde(default)]
    eventrail: Option<Declaration>,
}

impl Declaration {
    /// Reads `[package.metadata.eventrail]` from the text of a `Cargo.toml`; `Ok(None)` when the
    /// package declares no eventrail function. `file` names the manifest in errors.
    pub fn from_manifest(
        text: &str,
        file: &str,
    ) -> Result<Option<(String, Self)>, DeclarationError> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| DeclarationError {
            file: file.to_owned(),
            message: format!("[package.metadata.eventrail]: {}", e.message()),
        })?;
        let Some(package) = manifest.package else {
            return Ok(None);
        };
        let Some(declaration) = package.metadata.and_then(|m| m.eventrail) else {
            return Ok(None);
        };
        let declaration = declaration.checked(&package.name, file)?;
        Ok(Some((package.name, declaration)))
    }

    /// The declaration of `package` once its rules hold (`check`); an error names `file`.
    fn checked(self, package: &str, file: &str) -> Result<Self, DeclarationError> {
        self.check(package).map_err(|message| DeclarationError {
            file: file.to_owned(),
            message,
        })?;
        Ok(self)
    }

    /// Reads a function's manifest file.
    pub fn load(manifest: &Path) -> Result<Option<(String, Self)>, DeclarationError> {
        let file = manifest.display().to_string();
        let text = std::fs::read_to_string(manifest).map_err(|e| DeclarationError {
            file: file.clone(),
            message: format!("cannot read: {e}"),
        })?;
        Self::from_manifest(&text, &file)
    }

    /// Whether the function publishes events.
    pub fn emits_events(&self) -> bool {
        !self.emits.is_empty()
    }

    /// The batching keys of an SQS-fed function, together.
    pub fn batching(&self) -> Batching {
        Batching {
            batch_size: self.batch_size,
            batching_window: self.batching_window,
            max_concurrency: self.max_concurrency,
            max_receive_count: self.max_receive_count,
        }
    }

    /// Whether a rule subscribes the function.
    pub fn is_consumer(&self) -> bool {
        matches!(self.trigger(), Trigger::Rule { .. })
    }

    /// What starts the function: an HTTP route, a schedule or a queue when one is declared,
    /// else a direct invoke or a rule (with its delivery).
    pub fn trigger(&self) -> Trigger {
        if let Some(http) = &self.http {
            return Trigger::Http(http.declaration());
        }
        if let Some(schedule) = &self.schedule {
            return Trigger::Schedule(schedule.declaration());
        }
        if let Some(queue) = &self.queue {
            return Trigger::Queue(queue.clone());
        }
        match self.invoke {
            Invoke::Direct => Trigger::Direct,
            Invoke::Rule => Trigger::Rule {
                delivery: self.delivery,
            },
        }
    }

    /// Whether callers may invoke the function directly: `invoke = "direct"` (an HTTP
    /// function may say so too, to keep answering direct invokes).
    pub fn accepts_direct_invoke(&self) -> bool {
        self.invoke == Invoke::Direct
    }

    /// Checks the triggers: at most one, none with `consumes`, batching only where a queue
    /// feeds the function.
    fn check_triggers(&self) -> Result<(), (&'static str, String)> {
        let declared: Vec<&'static str> = [
            ("http", self.http.is_some()),
            ("schedule", self.schedule.is_some()),
            ("queue", self.queue.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, set)| set.then_some(key))
        .collect();
        if declared.len() > 1 {
            return Err((
                declared[1],
                format!(
                    "a function has one trigger; it declares {}: split it into functions",
                    declared.join(" and ")
                ),
            ));
        }
        if let Some(&key) = declared.first() {
            if !self.consumes.is_empty() || self.filter.is_some() || self.rule.is_some() {
                return Err((
                    key,
                    format!(
                        "a function triggered by `{key}` has no rule: remove `consumes`,                          `filter` and `rule`"
                    ),
                ));
            }
            if self.invoke == Invoke::Direct && key != "http" {
                return Err((
                    "invoke",
                    format!("`invoke = \"direct\"` goes with `http` only, not with `{key}`"),
                ));
            }
        }
        if self.delivery == Delivery::Queue && !self.is_consumer() {
            return Err((
                "delivery",
                "`delivery = \"queue\"` buffers a rule's events: only a consumer (`consumes`) \
                 has it"
                    .to_owned(),
            ));
        }
        if let Some(http) = &self.http {
            http.declaration().route().map_err(|m| ("http", m))?;
        }
        if let Some(schedule) = &self.schedule {
            schedule
                .declaration()
                .check()
                .map_err(|m| ("schedule", m))?;
        }
        if let Some(QueueSource::Existing(id)) = &self.queue
            && (id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            return Err((
                "queue",
                format!("`{id}` must be \"new\" or the logical id of a queue of the template"),
            ));
        }
        if self.batching().is_declared() && !self.trigger().is_sqs_fed() {
            return Err((
                "batch-size",
                "batching applies to a queue trigger (`queue`) or a buffered consumer \
                 (`delivery = \"queue\"`) only"
                    .to_owned(),
            ));
        }
        self.batching().check()
    }

    /// Whether it consumes every event of the application.
    pub fn consumes_everything(&self) -> bool {
        self.consumes.iter().any(|c| c == EVERY_EVENT)
    }

    /// Whether it consumes `detail_type` (by declaration, before any filter).
    pub fn consumes_type(&self, detail_type: &str) -> bool {
        self.consumes_everything() || self.consumes.iter().any(|c| c == detail_type)
    }

    /// The subscribing rule's name (SAM event id): `rule`, else the single consumed
    /// detail-type, else `Events` (`AppEvents` for `["*"]`).
    pub fn rule_name(&self) -> String {
        if let Some(rule) = &self.rule {
            return rule.clone();
        }
        match self.consumes.as_slice() {
            [one] if one == EVERY_EVENT => "AppEvents".to_owned(),
            [one] => one.clone(),
            _ => "Events".to_owned(),
        }
    }

    /// Checks what can be checked without the catalog; the message names the field.
    pub fn check(&self, name: &str) -> Result<(), String> {
        check_function_name(name)?;
        let field = |f: &str, m: String| format!("[package.metadata.eventrail] {f}: {m}");
        self.check_triggers().map_err(|(key, m)| field(key, m))?;
        let triggered = self.http.is_some() || self.schedule.is_some() || self.queue.is_some();
        match self.invoke {
            Invoke::Rule if self.consumes.is_empty() && !triggered => {
                return Err(field(
                    "consumes",
                    "a rule-subscribed function must consume at least one event type \
                     (or set invoke = \"direct\", http, schedule or queue for a producer)"
                        .to_owned(),
                ));
            }
            Invoke::Direct if !self.consumes.is_empty() || self.filter.is_some() => {
                return Err(field(
                    "invoke",
                    "a directly invoked function has no rule: remove `consumes` and `filter`"
                        .to_owned(),
                ));
            }
            _ => {}
        }
        if self.is_consumer() && !self.commands.is_empty() {
            return Err(field(
                "commands",
                "only a producer (invoke = \"direct\", http, schedule or queue) takes commands"
                    .to_owned(),
            ));
        }
        if let Some(bad) = self
            .commands
            .iter()
            .find(|c| c.is_empty() || !c.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            return Err(field(
                "commands",
                format!("`{bad}` must be letters and digits (`CreateTask`)"),
            ));
        }
        if let Some(event) = self.versions.keys().find(|e| !self.consumes_type(e)) {
            return Err(field(
                "versions",
                format!("`{event}` is not an event the function consumes"),
            ));
        }
        if self.consumes_everything() && self.consumes.len() > 1 {
            return Err(field(
                "consumes",
                "\"*\" already means every event; list nothing else".to_owned(),
            ));
        }
        for list in [&self.consumes, &self.emits] {
            let mut seen = std::collections::BTreeSet::new();
            if let Some(dup) = list.iter().find(|t| !seen.insert(t.as_str())) {
                return Err(field("consumes/emits", format!("`{dup}` is listed twice")));
            }
        }
        if let Some(rule) = &self.rule
            && (rule.is_empty() || !rule.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            return Err(field(
                "rule",
                format!("`{rule}` must be letters and digits"),
            ));
        }
        if let Some(filter) = &self.filter
            && !filter.is_object()
        {
            return Err(field(
                "filter",
                "must be a table (a pattern on `detail`)".to_owned(),
            ));
        }
        if self.memory.is_some_and(|m| !(128..=10_240).contains(&m)) {
            return Err(field("memory", "Lambda allows 128 to 10240 MB".to_owned()));
        }
        if self.timeout.is_some_and(|t| !(1..=900).contains(&t)) {
            return Err(field(
                "timeout",
                "Lambda allows 1 to 900 seconds".to_owned(),
            ));
        }
        for p in &self.permissions {
            if p.sid.is_empty() || !p.sid.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(field(
                    "permissions.sid",
                    format!("`{}` must be letters and digits", p.sid),
                ));
            }
            if p.actions.is_empty() || p.resources.is_empty() {
                return Err(field(
                    "permissions",
                    format!("`{}` needs actions and resources", p.sid),
                ));
            }
        }
        for queue in self.queues.keys() {
            check_function_name(queue).map_err(|m| field("queues", m))?;
        }
        // A direct caller names the function, which is `$LATEST`, not the alias whose traffic
        // CodeDeploy shifts: its calls would reach every new version at once.
        if self.rollout.is_some() && self.accepts_direct_invoke() {
            return Err(field(
                "rollout",
                "a directly invoked function's callers call the function, not its alias, so \
                 their traffic would not shift: remove `rollout` or `invoke = \"direct\"`"
                    .to_owned(),
            ));
        }
        if let Some(hours) = self.idempotency.as_ref().and_then(|i| i.ttl_hours)
            && !(1..=IdempotencyDeclaration::MAX_TTL_HOURS).contains(&hours)
        {
            return Err(field(
                "idempotency.ttl-hours",
                format!(
                    "{hours} is outside 1..={} hours",
                    IdempotencyDeclaration::MAX_TTL_HOURS
                ),
            ));
        }
        Ok(())
    }
}

/// A declaration compiled into a function's binary (see `eventrail_runtime::declaration!`):
/// the package name, the declaration as JSON when the package's build script read it at
/// build time (`eventrail_build::lambda_binary`), and the text of its `Cargo.toml`, parsed at
/// init otherwise.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedManifest {
    /// `CARGO_PKG_NAME`.
    pub package: &'static str,
    /// `[package.metadata.eventrail]` as JSON, from the build script.
    pub declaration_json: Option<&'static str>,
    /// The manifest's text.
    pub text: &'static str,
}

impl EmbeddedManifest {
    /// Parses the declaration; a package without one is an error that says what to add.
    pub fn declaration(&self) -> Result<Declaration, DeclarationError> {
        let file = format!("{} (Cargo.toml)", self.package);
        if let Some(json) = self.declaration_json {
            let declaration: Declaration =
                serde_json::from_str(json).map_err(|e| DeclarationError {
                    file: file.clone(),
                    message: format!("[package.metadata.eventrail]: {e}"),
                })?;
            return declaration.checked(self.package, &file);
        }
        match Declaration::from_manifest(self.text, &file)? {
            Some((_, declaration)) => Ok(declaration),
            None => Err(DeclarationError {
                file,
                message: "no [package.metadata.eventrail] declaration: add one (what the function \
                          consumes and emits), or create the function with `eventrail new function`"
                    .to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_logical_ids() {
        assert_eq!(logical_id("gift-wrap"), "GiftWrap");
        assert_eq!(logical_id("intake"), "Intake");
        assert!(check_function_name("gift-wrap").is_ok());
        for bad in [
            "",
            "Gift",
            "gift_wrap",
            "-a",
            "a-",
            "a--b",
            "1a",
            "gift wrap",
        ] {
            assert!(check_function_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reads_a_manifest() {
        let text = r#"
[package]
name = "auditor"
version.workspace = true

[package.metadata.eventrail]
consumes = ["TaskCreated"]
emits = ["TaskFlagged"]
rule = "FlaggedTaskCreated"
memory = 256

[package.metadata.eventrail.filter.data.task]
"$or" = [{ budget_cents = [{ numeric = [">", 100000] }] }]

[package.metadata.eventrail.environment]
OUTBOX = { ref = "OutboxQueue" }
PLAIN = "x"
"#;
        let (name, d) = Declaration::from_manifest(text, "Cargo.toml")
            .unwrap()
            .unwrap();
        assert_eq!(name, "auditor");
        assert_eq!(d.rule_name(), "FlaggedTaskCreated");
        assert!(d.emits_events() && d.is_consumer());
        assert_eq!(
            d.filter.unwrap()["data"]["task"]["$or"][0]["budget_cents"][0]["numeric"][1],
            100000
        );
        assert_eq!(
            d.environment["OUTBOX"],
            EnvValue::Ref {
                reference: "OutboxQueue".into()
            }
        );
        assert_eq!(d.environment["PLAIN"], EnvValue::Literal("x".into()));
        assert_eq!(d.idempotency, None);
        let with_table =
            format!("{text}\n[package.metadata.eventrail.idempotency]\nttl-hours = 2\n");
        let (_, d) = Declaration::from_manifest(&with_table, "Cargo.toml")
            .unwrap()
            .unwrap();
        assert_eq!(d.idempotency.map(|i| i.ttl_seconds()), Some(7200));
        assert_eq!(
            IdempotencyDeclaration::default().ttl_seconds(),
            7 * 24 * 3600
        );
    }

    /// The declaration the build script hands over as JSON reads as the manifest's TOML does,
    /// and a bad one is refused the same way, naming the field.
    #[test]
    fn the_build_time_json_reads_as_the_manifest_does() {
        let text = r#"
[package]
name = "auditor"

[package.metadata.eventrail]
description = "Flags tasks"
consumes = ["TaskCreated"]
emits = ["TaskFlagged"]
rule = "FlaggedTaskCreated"
memory = 256
timeout = 20
versions = { TaskCreated = 2 }
rollout = "AllAtOnce"

[package.metadata.eventrail.filter.data.task]
"$or" = [{ budget_cents = [{ numeric = [">", 100000] }] }]

[package.metadata.eventrail.environment]
OUTBOX = { ref = "OutboxQueue" }
PLAIN = "x"

[package.metadata.eventrail.idempotency]
ttl-hours = 2
"#;
        let (_, from_toml) = Declaration::from_manifest(text, "Cargo.toml")
            .unwrap()
            .unwrap();
        let json = eventrail_build::declaration_json(text).unwrap().unwrap();
        let embedded = EmbeddedManifest {
            package: "auditor",
            declaration_json: Some(Box::leak(json.into_boxed_str())),
            text: "",
        };
        assert_eq!(embedded.declaration().unwrap(), from_toml);

        let bad = "[package]\nname = \"f\"\n[package.metadata.eventrail]\nconsumes = [\"X\"]\nemit = [\"Y\"]\n";
        let json = eventrail_build::declaration_json(bad).unwrap().unwrap();
        let embedded = EmbeddedManifest {
            package: "f",
            declaration_json: Some(Box::leak(json.into_boxed_str())),
            text: "",
        };
        let error = embedded.declaration().unwrap_err().to_string();
        assert!(
            error.contains("emit") && error.contains("f (Cargo.toml)"),
            "{error}"
        );
    }

    #[test]
    fn triggers_read_from_the_manifest() {
        let read = |body: &str| {
            let text = format!("[package]\nname = \"f\"\n[package.metadata.eventrail]\n{body}");
            Declaration::from_manifest(&text, "Cargo.toml")
                .unwrap()
                .unwrap()
                .1
        };
        let http = read("http = \"POST /tasks\"\ninvoke = \"direct\"\nemits = [\"X\"]");
        let Trigger::Http(declared) = http.trigger() else {
            panic!("{:?}", http.trigger())
        };
        assert_eq!(declared.route().unwrap().to_string(), "POST /tasks");
        assert!(http.accepts_direct_invoke() && !http.is_consumer());
        let table = read(
            "[package.metadata.eventrail.http]\nroute = \"PUT /x\"\nauth = \"iam\"\n\
             cors = { origins = [\"*\"] }",
        );
        let Trigger::Http(declared) = table.trigger() else {
            panic!()
        };
        assert_eq!(declared.auth, crate::HttpAuth::Iam);
        let scheduled = read("schedule = \"rate(1 day)\"\nemits = [\"X\"]");
        assert!(
            matches!(scheduled.trigger(), Trigger::Schedule(s) if s.expression == "rate(1 day)")
        );
        let queued = read("queue = \"new\"\nbatch-size = 5");
        assert_eq!(queued.trigger(), Trigger::Queue(QueueSource::New));
        assert!(queued.trigger().is_sqs_fed());
        assert_eq!(queued.batching().batch_size(), 5);
        let buffered = read("consumes = [\"X\"]\ndelivery = \"queue\"\nmax-concurrency = 2");
        assert_eq!(
            buffered.trigger(),
            Trigger::Rule {
                delivery: Delivery::Queue
            }
        );
        assert!(buffered.is_consumer());
        assert_eq!(buffered.batching().max_concurrency, Some(2));
        let json = serde_json::to_string(&buffered).unwrap();
        assert_eq!(
            serde_json::from_str::<Declaration>(&json).unwrap(),
            buffered
        );
    }

    #[test]
    fn bad_declarations_name_the_field() {
        let wrap =
            |body: &str| format!("[package]\nname = \"f\"\n[package.metadata.eventrail]\n{body}");
        let err = |body: &str| {
            Declaration::from_manifest(&wrap(body), "functions/f/Cargo.toml")
                .unwrap_err()
                .to_string()
        };
        assert!(err("emits = [\"X\"]").contains("consumes"));
        assert!(err("consumes = [\"X\"]\nemit = [\"Y\"]").contains("emit"));
        assert!(err("invoke = \"direct\"\nconsumes = [\"X\"]").contains("invoke"));
        assert!(err("consumes = [\"X\", \"X\"]").contains("twice"));
        assert!(err("consumes = [\"X\"]\nmemory = 64").contains("memory"));
        assert!(err("consumes = [\"X\"]\ncommands = [\"Go\"]").contains("commands"));
        assert!(err("consumes = [\"X\"]\nversions = { Y = 1 }").contains("versions"));
        assert!(
            err("consumes = [\"X\"]\n[package.metadata.eventrail.idempotency]\nttl-hours = 0")
                .contains("idempotency.ttl-hours")
        );
        assert!(
            err("consumes = [\"X\"]\n[package.metadata.eventrail.idempotency]\nttl = 1")
                .contains("ttl")
        );
        assert!(err("http = \"POST /a\"\nschedule = \"rate(1 day)\"").contains("one trigger"));
        assert!(err("http = \"POST /a\"\nconsumes = [\"X\"]").contains("no rule"));
        assert!(err("http = \"POST a\"").contains("] http:"));
        assert!(err("schedule = \"rate(1 days)\"").contains("] schedule:"));
        assert!(err("schedule = \"rate(1 day)\"\ninvoke = \"direct\"").contains("invoke"));
        assert!(err("invoke = \"direct\"\ndelivery = \"queue\"").contains("delivery"));
        assert!(err("consumes = [\"X\"]\nbatch-size = 5").contains("batch-size"));
        assert!(
            err("consumes = [\"X\"]\ndelivery = \"queue\"\nmax-concurrency = 1")
                .contains("max-concurrency")
        );
        assert!(err("queue = \"bad-id\"").contains("] queue:"));
        let rollout = err("consumes = [\"X\"]\nrollout = \"Canary50Percent\"");
        assert!(
            rollout.starts_with("functions/f/Cargo.toml: ")
                && rollout.contains("rollout: `Canary50Percent`")
                && rollout.contains("Linear10PercentEvery1Minute"),
            "{rollout}"
        );
        assert!(
            err("http = \"POST /a\"\ninvoke = \"direct\"\nrollout = \"AllAtOnce\"")
                .contains("] rollout:")
        );
        let (_, canary) = Declaration::from_manifest(
            &wrap("consumes = [\"X\"]\nrollout = \"Linear10PercentEvery1Minute\""),
            "x",
        )
        .unwrap()
        .unwrap();
        assert_eq!(canary.rollout, Some(Rollout::Linear10PercentEvery1Minute));
        let none = "[package]\nname = \"lib\"\n";
        assert_eq!(Declaration::from_manifest(none, "x").unwrap(), None);
    }
}
