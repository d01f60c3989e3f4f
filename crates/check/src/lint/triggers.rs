//! Lint's findings on what starts the functions: an HTTP route's request that is no command,
//! two functions on one route, a schedule that emits nothing or a stage's override Scheduler
//! would refuse, a buffered consumer without a cap, a queue trigger's queue missing from the
//! template or without a redrive policy. Each names the file and the field to change.

use std::collections::BTreeMap;

use eventrail_contract::FunctionDeclaration;
use eventrail_contract::trigger::{Route, check_schedule_expression};
use eventrail_model::{FunctionTrigger, System};

use super::finding::{Finding, FindingKind};

/// The samconfig file the stages' overrides are read from, relative to the root.
const SAMCONFIG: &str = "samconfig.toml";

struct Findings<'a> {
    system: &'a System,
    out: Vec<Finding>,
}

impl Findings<'_> {
    fn manifest(&self, f: &FunctionDeclaration) -> String {
        self.system.relative(&f.dir.join("Cargo.toml"))
    }

    fn push(
        &mut self,
        kind: FindingKind,
        file: String,
        subject: &str,
        function: &str,
        message: String,
    ) {
        self.out.push(Finding {
            kind,
            severity: kind.severity(),
            file,
            subject: subject.to_owned(),
            rule: None,
            event: None,
            function: Some(function.to_owned()),
            message,
        });
    }

    fn http(&mut self, f: &FunctionDeclaration, request: Option<&str>) {
        let Some(request) = request else {
            return;
        };
        let commands: Vec<&str> = self
            .system
            .app
            .functions
            .iter()
            .flat_map(|g| g.declaration.commands.iter().map(String::as_str))
            .collect();
        if commands.contains(&request) {
            return;
        }
        let known = if commands.is_empty() {
            "no function declares one".to_owned()
        } else {
            format!("known: {}", commands.join(", "))
        };
        self.push(
            FindingKind::HttpRequestNotACommand,
            self.manifest(f),
            &f.name,
            &f.name,
            format!(
                "function `{}`: [package.metadata.eventrail] http.request `{request}` is not a \
                 command any function declares ({known}): list it in `commands` or fix the name",
                f.name
            ),
        );
    }

    fn route_conflicts(&mut self) {
        let system = self.system;
        // Method and path, path parameters unnamed: API Gateway tells `{id}` from `{key}` apart
        // no more than the caller does.
        let mut seen: BTreeMap<(String, String), &str> = BTreeMap::new();
        for f in &system.app.functions {
            let Some(FunctionTrigger::Http(h)) = system.trigger(&f.name) else {
                continue;
            };
            let Ok(route) = Route::parse(&h.route) else {
                continue;
            };
            let shape: Vec<&str> = route
                .path
                .split('/')
                .map(|part| if part.starts_with('{') { "{}" } else { part })
                .collect();
            let key = (route.method.as_str().to_owned(), shape.join("/"));
            match seen.get(&key) {
                Some(first) => self.push(
                    FindingKind::HttpRouteConflict,
                    self.manifest(f),
                    &h.route,
                    &f.name,
                    format!(
                        "functions `{first}` and `{}` both declare `{}` \
                         ([package.metadata.eventrail] http): a route has one function; change \
                         the path or the method of one",
                        f.name, h.route
                    ),
                ),
                None => {
                    seen.insert(key, &f.name);
                }
            }
        }
    }

    fn schedule(
        &mut self,
        f: &FunctionDeclaration,
        stages: &BTreeMap<String, String>,
        parameter: &str,
    ) {
        if f.declaration.emits.is_empty() {
            self.push(
                FindingKind::ScheduledEmitsNothing,
                self.manifest(f),
                &f.name,
                &f.name,
                format!(
                    "scheduled function `{}` emits nothing ([package.metadata.eventrail] emits is \
                     empty): what it does on each firing reaches no one on the bus",
                    f.name
                ),
            );
        }
        for (stage, expression) in stages {
            if let Err(problem) = check_schedule_expression(expression) {
                self.push(
                    FindingKind::ScheduleOverrideInvalid,
                    SAMCONFIG.to_owned(),
                    parameter,
                    &f.name,
                    format!(
                        "stage `{stage}` ([{stage}.deploy.parameters] parameter_overrides) sets \
                         `{parameter}`, the schedule of `{}`, to an expression Scheduler refuses: \
                         {problem}",
                        f.name
                    ),
                );
            }
        }
    }

    fn buffer(&mut self, f: &FunctionDeclaration, queue: &str) {
        self.push(
            FindingKind::BufferWithoutCap,
            self.manifest(f),
            &f.name,
            &f.name,
            format!(
                "buffered consumer `{}` has no [package.metadata.eventrail] max-concurrency: its \
                 buffer `{queue}` batches, but Lambda still scales its pollers with the backlog, \
                 so a burst reaches the downstream at full speed; set max-concurrency (2 or more)",
                f.name
            ),
        );
    }

    fn queue(&mut self, f: &FunctionDeclaration, queue: &str, in_template: bool, redrive: bool) {
        let template = self.system.app.project.settings.template.clone();
        if !in_template {
            let what = match self.system.template.resource_type(queue) {
                Some(kind) => format!("is a {kind}, not an AWS::SQS::Queue"),
                None => "is no resource of it".to_owned(),
            };
            self.push(
                FindingKind::QueueNotInTemplate,
                self.manifest(f),
                queue,
                &f.name,
                format!(
                    "function `{}`: [package.metadata.eventrail] queue = \"{queue}\" names a queue \
                     of {template}, but `{queue}` {what}: write the queue there, or use \
                     `queue = \"new\"` for one of the function's own",
                    f.name
                ),
            );
        } else if !redrive {
            self.push(
                FindingKind::QueueWithoutRedrive,
                template,
                queue,
                &f.name,
                format!(
                    "queue `{queue}` (the trigger of `{}`) has no RedrivePolicy: a record that \
                     keeps failing is retried until it expires and no failure queue keeps it; \
                     give it a RedrivePolicy to a dead-letter queue",
                    f.name
                ),
            );
        }
    }
}

/// The findings on the functions' triggers.
pub(super) fn trigger_findings(system: &System) -> Vec<Finding> {
    let mut findings = Findings {
        system,
        out: Vec::new(),
    };
    for f in &system.app.functions {
        match system.trigger(&f.name) {
            Some(FunctionTrigger::Http(h)) => findings.http(f, h.request.as_deref()),
            Some(FunctionTrigger::Schedule(s)) => findings.schedule(f, &s.stages, &s.parameter),
            Some(FunctionTrigger::Buffered(q)) if q.batching.max_concurrency.is_none() => {
                findings.buffer(f, &q.queue)
            }
            Some(FunctionTrigger::Queue(q)) if !q.own => {
                let redrive = system
                    .template
                    .queue(&q.queue)
                    .is_some_and(|t| t.redrive_dead_letter.is_some());
                findings.queue(f, &q.queue, q.in_template, redrive)
            }
            _ => {}
        }
    }
    findings.route_conflicts();
    findings.out
}
