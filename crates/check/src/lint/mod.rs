//! `eventrail lint`: the catalog, the declarations, the template and the samples checked
//! together. Each finding names the file and the rule, event or function it is about.
//! Deliberate exceptions are declared in the workspace's `Cargo.toml`
//! (`[[workspace.metadata.eventrail.lint.allow]]`: finding, subject, reason). Most findings
//! are errors; a few are warnings (a shape that works but is likely not meant, such as a
//! buffered consumer without a concurrency cap), which leave the report clean.

mod finding;
mod triggers;

use std::collections::BTreeSet;
use std::path::Path;

use eventrail_generate::Generate;
use serde::Serialize;

use crate::compat::{Baseline, ChangeKind, CompatError, EventChanges, compatibility};
use crate::metadata_rollout::rollout_advice;
use eventrail_contract::TraceContextMode;
use eventrail_model::System;
use eventrail_model::schema::Lookup;

pub use finding::{Finding, FindingKind, Severity};

/// A finding a declared exception covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Excepted {
    /// The finding.
    pub finding: Finding,
    /// The declared reason.
    pub reason: String,
}

/// What `eventrail lint` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The findings (exit 1 when any).
    pub findings: Vec<Finding>,
    /// Findings covered by declared exceptions.
    pub excepted: Vec<Excepted>,
    /// With a baseline: each changed event and its changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compatibility: Option<Vec<EventChanges>>,
}

impl Report {
    /// No finding but warnings.
    pub fn is_clean(&self) -> bool {
        self.findings
            .iter()
            .all(|f| f.severity == Severity::Warning)
    }

    /// The warnings among the findings.
    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
    }

    /// The kinds found, each once.
    pub fn kinds(&self) -> BTreeSet<FindingKind> {
        self.findings.iter().map(|f| f.kind).collect()
    }
}

struct Lint<'a> {
    system: &'a System,
    findings: Vec<Finding>,
}

impl Lint<'_> {
    fn rel(&self, path: &Path) -> String {
        self.system.relative(path)
    }

    fn manifest(&self, function: &str) -> String {
        self.system
            .app
            .function(function)
            .map(|f| self.rel(&f.dir.join("Cargo.toml")))
            .unwrap_or_else(|| self.system.app.project.settings.functions.clone())
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        kind: FindingKind,
        file: String,
        subject: &str,
        rule: Option<&str>,
        event: Option<&str>,
        function: Option<&str>,
        message: String,
    ) {
        self.findings.push(Finding {
            kind,
            severity: kind.severity(),
            file,
            subject: subject.to_owned(),
            rule: rule.map(str::to_owned),
            event: event.map(str::to_owned),
            function: function.map(str::to_owned),
            message,
        });
    }

    fn unknown_events(&mut self) {
        let system = self.system;
        for f in &system.app.functions {
            let d = &f.declaration;
            let listed = d
                .consumes
                .iter()
                .filter(|_| !d.consumes_everything())
                .map(|t| ("consumes", t))
                .chain(d.emits.iter().map(|t| ("emits", t)));
            for (field, t) in listed {
                if system.event(t).is_none() {
                    self.push(
                        FindingKind::UnknownEvent,
                        self.manifest(&f.name),
                        &f.name,
                        None,
                        Some(t),
                        Some(&f.name),
                        format!(
                            "function `{}` {field} `{t}`, which is not in the catalog ({}); known: {}",
                            f.name,
                            system.app.project.settings.catalog,
                            system.app.catalog.known()
                        ),
                    );
                }
            }
        }
    }

    fn invalid_patterns(&mut self) {
        for (file, rule, message) in &self.system.invalid_rules {
            self.push(
                FindingKind::InvalidPattern,
                self.rel(file),
                rule,
                Some(rule),
                None,
                None,
                format!("rule `{rule}`: {message}"),
            );
        }
    }

    fn emitted_unrouted(&mut self) {
        let system = self.system;
        for f in &system.app.functions {
            for t in &f.declaration.emits {
                if system.event(t).is_some() && system.rules_for(t).is_empty() {
                    self.push(
                        FindingKind::EmittedEventUnrouted,
                        self.manifest(&f.name),
                        t,
                        None,
                        Some(t),
                        Some(&f.name),
                        format!(
                            "function `{}` emits `{t}`, but no rule matches it: nobody receives it \
                             (add a consumer, or stop emitting it)",
                            f.name
                        ),
                    );
                }
            }
        }
    }

    fn rules_matching_nothing(&mut self) {
        let system = self.system;
        for rule in &system.rules {
            if system.events_of(rule).is_empty() {
                let targets = rule.functions.join(", ");
                self.push(
                    FindingKind::RuleMatchesNothing,
                    self.rel(&rule.file),
                    &rule.id,
                    Some(&rule.id),
                    None,
                    rule.functions.first().map(String::as_str),
                    format!(
                        "rule `{}` (of {}) matches no event of the catalog: no event's source, \
                         detail-type and schema can satisfy {}",
                        rule.id,
                        if targets.is_empty() {
                            "no function"
                        } else {
                            &targets
                        },
                        serde_json::to_string(&rule.pattern).unwrap_or_default()
                    ),
                );
            }
        }
    }

    fn never_emitted(&mut self) {
        let system = self.system;
        for f in system
            .app
            .functions
            .iter()
            .filter(|f| f.declaration.is_consumer() && !f.declaration.consumes_everything())
        {
            for t in &f.declaration.consumes {
                if system.event(t).is_some() && system.emitters(t).is_empty() {
                    self.push(
                        FindingKind::ConsumedEventNeverEmitted,
                        self.manifest(&f.name),
                        t,
                        None,
                        Some(t),
                        Some(&f.name),
                        format!(
                            "function `{}` consumes `{t}`, which no function emits: it waits for \
                             an event that never comes",
                            f.name
                        ),
                    );
                }
            }
        }
        let catalog_file = system.app.project.settings.catalog.clone();
        for event in &system.app.catalog.events {
            if system.emitters(&event.detail_type).is_empty() {
                self.push(
                    FindingKind::CatalogEventNeverEmitted,
                    catalog_file.clone(),
                    &event.detail_type,
                    None,
                    Some(&event.detail_type),
                    None,
                    format!(
                        "catalog event `{}` (source {}) is emitted by no function: declare it in \
                         the emitter's `emits`, remove it from the catalog, or declare an \
                         exception if something outside the system puts it on the bus",
                        event.detail_type, event.source
                    ),
                );
            }
        }
    }

    fn samples(&mut self) -> Result<(), LintError> {
        let system = self.system;
        let samples = system.app.samples().map_err(LintError::App)?;
        let dir = system.app.project.samples_dir();
        for (name, sample) in samples {
            let file = self.rel(&dir.join(&name));
            let detail_type = sample.get("detail-type").and_then(|v| v.as_str());
            let source = sample.get("source").and_then(|v| v.as_str());
            let Some(detail_type) = detail_type else {
                self.push(
                    FindingKind::SampleInvalid,
                    file,
                    &name,
                    None,
                    None,
                    None,
                    format!("sample `{name}` has no `detail-type`"),
                );
                continue;
            };
            let Some(event) = system.event(detail_type) else {
                self.push(
                    FindingKind::SampleInvalid,
                    file,
                    &name,
                    None,
                    Some(detail_type),
                    None,
                    format!(
                        "sample `{name}`: `{detail_type}` is not in the catalog; known: {}",
                        system.app.catalog.known()
                    ),
                );
                continue;
            };
            if source != Some(event.source.as_str()) {
                self.push(
                    FindingKind::SampleInvalid,
                    file.clone(),
                    &name,
                    None,
                    Some(detail_type),
                    None,
                    format!(
                        "sample `{name}`: source {} is not `{}`, the source of `{detail_type}`",
                        source.unwrap_or("(none)"),
                        event.source
                    ),
                );
            }
            let Some(schema) = system.schemas.get(detail_type) else {
                continue;
            };
            let detail = sample.get("detail").cloned().unwrap_or_default();
            let errors = schema.validate(&detail).map_err(LintError::Schema)?;
            if !errors.is_empty() {
                self.push(
                    FindingKind::SampleInvalid,
                    file,
                    &name,
                    None,
                    Some(detail_type),
                    None,
                    format!(
                        "sample `{name}` fails the schema of `{detail_type}` ({}): detail {}",
                        self.rel(schema.file()),
                        errors.join("; ")
                    ),
                );
            }
        }
        Ok(())
    }

    fn unknown_fields(&mut self) {
        let system = self.system;
        for rule in &system.rules {
            for event in &system.app.catalog.events {
                for unknown in system.unknown_fields(rule, event) {
                    let Lookup::Missing {
                        ref parent,
                        ref name,
                        ref known,
                    } = unknown.lookup
                    else {
                        continue;
                    };
                    let hint = match unknown.lookup.suggestion() {
                        Some(s) => format!("did you mean `{s}`?"),
                        None if known.is_empty() => "it has no fields there".to_owned(),
                        None => format!("it has {}", known.join(", ")),
                    };
                    let at = if parent.is_empty() {
                        "detail".to_owned()
                    } else {
                        format!("detail.{parent}")
                    };
                    self.push(
                        FindingKind::FilterUnknownField,
                        self.rel(&rule.file),
                        &rule.id,
                        Some(&rule.id),
                        Some(&event.detail_type),
                        rule.functions.first().map(String::as_str),
                        format!(
                            "rule `{}` filters on `{}`, but the schema of `{}` has no field `{name}` \
                             in `{at}`: {hint}",
                            rule.id, unknown.path, event.detail_type
                        ),
                    );
                }
            }
        }
    }

    fn overlapping(&mut self) {
        let system = self.system;
        for f in &system.app.functions {
            let rules: Vec<_> = system
                .rules
                .iter()
                .filter(|r| r.functions.contains(&f.name))
                .collect();
            for (i, a) in rules.iter().enumerate() {
                for b in &rules[i + 1..] {
                    let shared: Vec<&str> = system
                        .app
                        .catalog
                        .events
                        .iter()
                        .filter(|e| system.overlap(a, b, e))
                        .map(|e| e.detail_type.as_str())
                        .collect();
                    if shared.is_empty() {
                        continue;
                    }
                    let file = if b.declared_by.is_none() {
                        self.rel(&b.file)
                    } else {
                        self.rel(&a.file)
                    };
                    self.push(
                        FindingKind::OverlappingRules,
                        file,
                        &f.name,
                        Some(&b.id),
                        shared.first().copied(),
                        Some(&f.name),
                        format!(
                            "rules `{}` and `{}` of function `{}` can both match {}: such an event \
                             invokes the function twice; narrow one rule or merge them",
                            a.id,
                            b.id,
                            f.name,
                            shared.join(", ")
                        ),
                    );
                }
            }
        }
    }

    fn versions(&mut self) {
        let system = self.system;
        for f in &system.app.functions {
            for (t, declared) in &f.declaration.versions {
                let Some(event) = system.event(t) else {
                    continue;
                };
                if event.version != *declared {
                    self.push(
                        FindingKind::ConsumerVersionMismatch,
                        self.manifest(&f.name),
                        &f.name,
                        None,
                        Some(t),
                        Some(&f.name),
                        format!(
                            "function `{}` declares it handles `{t}` v{declared}, the catalog has \
                             v{}: review the handler, then update `versions`",
                            f.name, event.version
                        ),
                    );
                }
            }
        }
    }

    fn generated(&mut self) {
        let system = self.system;
        match system.app.generated_files() {
            Ok(files) => {
                for file in files.into_iter().filter(|f| f.stale) {
                    let rel = self.rel(&file.path);
                    self.push(
                        FindingKind::GeneratedStale,
                        rel.clone(),
                        &rel,
                        None,
                        None,
                        None,
                        format!(
                            "{rel} is not what the declarations give: run `eventrail infra generate`"
                        ),
                    );
                }
            }
            Err(e) => {
                let explained = self.findings.iter().any(|f| {
                    matches!(
                        f.kind,
                        FindingKind::UnknownEvent
                            | FindingKind::InvalidPattern
                            | FindingKind::QueueNotInTemplate
                            | FindingKind::HttpRouteConflict
                    )
                });
                if !explained {
                    let template = system.app.project.settings.template.clone();
                    self.push(
                        FindingKind::GeneratedStale,
                        template.clone(),
                        &template,
                        None,
                        None,
                        None,
                        format!("the generated files cannot be computed: {e}"),
                    );
                }
            }
        }
    }

    fn compatibility(&mut self, changes: &[EventChanges], baseline: &Baseline) {
        for event in changes
            .iter()
            .filter(|e| e.needing_a_bump().next().is_some() && !e.bumped())
        {
            let list: Vec<String> = event
                .needing_a_bump()
                .map(|c| {
                    if c.path.is_empty() {
                        format!("{} ({})", c.kind.as_str(), c.detail)
                    } else {
                        format!("{} `{}` ({})", c.kind.as_str(), c.path, c.detail)
                    }
                })
                .collect();
            let file = if event
                .changes
                .iter()
                .any(|c| c.kind == ChangeKind::EventRemoved)
            {
                self.system.app.project.settings.catalog.clone()
            } else {
                event.schema.clone()
            };
            self.push(
                FindingKind::BreakingChangeWithoutVersionBump,
                file,
                &event.detail_type,
                None,
                Some(&event.detail_type),
                None,
                format!(
                    "`{}` changed in a breaking way but its version is still v{}: {}; consumers \
                     affected: {}. Bump the event's version (and adapt its consumers) or keep the \
                     change compatible",
                    event.detail_type,
                    event.new_version,
                    list.join("; "),
                    event.consumers_text()
                ),
            );
        }
        self.trace_context_rollout(changes, baseline);
    }

    /// One finding for the whole app when its producers write trace context that consumers
    /// deployed from the baseline reject: the metadata is every event's, and so is the fix.
    fn trace_context_rollout(&mut self, changes: &[EventChanges], baseline: &Baseline) {
        let affected: Vec<&EventChanges> = changes
            .iter()
            .filter(|e| {
                e.changes
                    .iter()
                    .any(|c| c.breaking && c.kind == ChangeKind::TraceContextAdded)
            })
            .collect();
        let Some(first) = affected.first() else {
            return;
        };
        let fields: BTreeSet<&str> = affected
            .iter()
            .flat_map(|e| &e.changes)
            .filter(|c| c.breaking && c.kind == ChangeKind::TraceContextAdded)
            .map(|c| c.path.as_str())
            .collect();
        let consumers: BTreeSet<&str> = affected
            .iter()
            .flat_map(|e| &e.consumers)
            .map(|(f, _)| f.as_str())
            .collect();
        let field_list = fields
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let others = match affected.len() - 1 {
            0 => String::new(),
            1 => " and 1 other event schema".to_owned(),
            n => format!(" and {n} other event schemas"),
        };
        let consumers = if consumers.is_empty() {
            "none".to_owned()
        } else {
            consumers.into_iter().collect::<Vec<_>>().join(", ")
        };
        self.push(
            FindingKind::TraceContextRollout,
            first.schema.clone(),
            fields.first().copied().unwrap_or("metadata"),
            None,
            Some(&first.detail_type),
            None,
            format!(
                "the events' metadata gains {field_list} (in {}{others}), and this app's \
                 producers write {} (trace-context = \"{}\"), but in {} the metadata rejects \
                 unknown fields (additionalProperties: false): consumers deployed from it would \
                 treat every new event as poison; consumers affected: {consumers}. A version \
                 bump does not help here; {}",
                first.schema,
                if fields.len() == 1 { "it" } else { "them" },
                TraceContextMode::Write,
                baseline.describe(),
                rollout_advice()
            ),
        );
    }
}

/// A file lint cannot read (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum LintError {
    /// The samples.
    #[error(transparent)]
    App(eventrail_model::AppError),
    /// A schema that does not compile.
    #[error(transparent)]
    Schema(eventrail_model::schema::SchemaError),
    /// The baseline.
    #[error(transparent)]
    Baseline(#[from] CompatError),
}

/// Lints the system; with a baseline, also compares each event's schema with it.
pub fn lint(system: &System, baseline: Option<&Baseline>) -> Result<Report, LintError> {
    let mut lint = Lint {
        system,
        findings: Vec::new(),
    };
    lint.unknown_events();
    lint.invalid_patterns();
    lint.emitted_unrouted();
    lint.rules_matching_nothing();
    lint.never_emitted();
    lint.samples()?;
    lint.unknown_fields();
    lint.overlapping();
    lint.versions();
    lint.findings.extend(triggers::trigger_findings(system));
    lint.generated();
    let compatibility = match baseline {
        Some(baseline) => {
            let changes = compatibility(system, baseline)?;
            lint.compatibility(&changes, baseline);
            Some(changes)
        }
        None => None,
    };
    let exceptions = &system.app.project.settings.lint.allow;
    let mut used = vec![false; exceptions.len()];
    let mut findings = Vec::new();
    let mut excepted = Vec::new();
    for finding in lint.findings {
        let allowed = exceptions.iter().position(|x| {
            x.finding == finding.kind.as_str()
                && x.subject == finding.subject
                && !x.reason.trim().is_empty()
        });
        match allowed {
            Some(i) => {
                used[i] = true;
                excepted.push(Excepted {
                    reason: exceptions[i].reason.clone(),
                    finding,
                });
            }
            None => findings.push(finding),
        }
    }
    for (i, x) in exceptions.iter().enumerate() {
        let problem = if x.reason.trim().is_empty() {
            Some("has no reason: say why the finding is deliberate")
        } else if !FindingKind::ALL.iter().any(|k| k.as_str() == x.finding) {
            Some("names no finding kind")
        } else if !used[i] {
            Some("matches no finding: remove it")
        } else {
            None
        };
        if let Some(problem) = problem {
            findings.push(Finding {
                kind: FindingKind::InvalidException,
                severity: FindingKind::InvalidException.severity(),
                file: "Cargo.toml".to_owned(),
                subject: format!("{}:{}", x.finding, x.subject),
                rule: None,
                event: None,
                function: None,
                message: format!(
                    "the exception for `{}` on `{}` ([[workspace.metadata.eventrail.lint.allow]]) \
                     {problem}",
                    x.finding, x.subject
                ),
            });
        }
    }
    Ok(Report {
        findings,
        excepted,
        compatibility,
    })
}
