//! `eventrail demo`: the whole application on LocalStack, from a fresh clone.
//!
//! Installs what it needs (pinned, into .eventrail/), starts LocalStack (or uses the one
//! `EVENTRAIL_ENDPOINT` names), builds and deploys the stack, then runs the demo the
//! application declares (`demo` in `[workspace.metadata.eventrail]`, see
//! [`eventrail_observe::demo`]): it starts every declared flow at once, invoking the declared
//! function with each flow's command, and puts the declared poison event on the bus. Flow by
//! flow, it prints the events as they arrive (with their arrival after the flow started),
//! then the flow in causal order: every event with the function that emitted it and the
//! functions it was delivered to, what reached the queues the application declares watched,
//! and what reached which failure queue and why, and its waterfall (`eventrail trace`: each
//! hop's timing and the gaps between hops, from the span lines the functions logged).
//! LocalStack is stopped at the end unless `--keep`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use eventrail_local::deploy::Build;
use eventrail_local::localstack::{LocalStack, LocalStackOptions, OnStarterExit};
use eventrail_local::{DeployOptions, Installed, Installer, Progress, deploy, paths};
use eventrail_observe::demo::DemoPlan;
use eventrail_observe::trace::{TraceError, trace_stack, waterfall};
use eventrail_observe::{FlowReport, Router, Stack, StackOutputs, Watch};

/// Arguments of `eventrail demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Leave LocalStack running at the end (`eventrail local down` stops it).
    #[arg(long)]
    keep: bool,
    /// Reuse the zips of the last build (target/lambda-local/) instead of building.
    #[arg(long)]
    no_build: bool,
    /// Print every upload and stack event of the deploy, instead of each step's count.
    #[arg(long, short)]
    verbose: bool,
}

/// How long one flow may take before the demo moves on.
const FLOW_DEADLINE: Duration = Duration::from_secs(120);
/// After the outcome is in, how long to wait for late events.
const QUIET_AFTER_OUTCOME: Duration = Duration::from_secs(2);
/// Without any outcome, how long nothing may happen before the flow is considered over.
const QUIET_WITHOUT_OUTCOME: Duration = Duration::from_secs(20);
/// How far back a flow's waterfall searches the functions' logs.
const WATERFALL_SINCE: Duration = Duration::from_secs(30 * 60);

/// Runs the demo.
pub fn run(args: DemoArgs) -> Result<ExitCode> {
    let root = paths::repo_root()?;
    // Read first: an application without a demo is told so before anything is installed.
    let plan = DemoPlan::of_project(&eventrail_contract::Project::load(&root)?)?;
    // The functions build (the dev profile: the CLI's graph, so seconds to a minute) while
    // the tools install and LocalStack starts; the deploy then uploads their zips.
    let building = (!args.no_build).then(|| build_functions(&root));
    // The local stage needs LocalStack only: the dev-profile build and its deploy use no other
    // tool (the test command installs the rest).
    step("1/4 install LocalStack into .eventrail/ (first run only)");
    let installer = Installer::new(&root);
    let installed = installer
        .ensure_local_stage()
        .context("installing LocalStack into .eventrail/")?;

    step("2/4 LocalStack");
    let options = LocalStackOptions {
        on_starter_exit: if args.keep {
            OnStarterExit::KeepRunning
        } else {
            OnStarterExit::Stop
        },
        ..LocalStackOptions::default()
    };
    let localstack =
        LocalStack::connect_or_start(&root, || Ok(installed.localstack_python.clone()), &options)?;
    let endpoint = localstack.endpoint().to_owned();
    if let Some(building) = building {
        building
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the build thread panicked")))?;
    }

    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let progress = if args.verbose {
        Progress::Verbose
    } else {
        Progress::Shown
    };
    let body = runtime.spawn(demo(
        root.clone(),
        endpoint.clone(),
        installed,
        plan,
        progress,
    ));
    let outcome = runtime.block_on(async {
        tokio::select! {
            joined = body => joined.context("the demo stopped unexpectedly")?,
            _ = tokio::signal::ctrl_c() => bail!("interrupted"),
        }
    });
    // A build or deploy still running (after Ctrl-C) must not hold up stopping LocalStack.
    runtime.shutdown_background();

    finish(&root, localstack, args.keep)?;
    outcome.map(|()| ExitCode::SUCCESS)
}

/// Stops LocalStack, or leaves it running and records it for `eventrail local down`.
fn finish(root: &Path, localstack: LocalStack, keep: bool) -> Result<()> {
    report_denials(root, localstack.endpoint());
    if !localstack.is_managed() {
        println!(
            "\nThe LocalStack at {} was already running; it is left as it was.",
            localstack.endpoint()
        );
        return Ok(());
    }
    if keep {
        let endpoint = localstack.endpoint().to_owned();
        if let Some(state) = localstack.keep_running(root)? {
            println!(
                "\nLocalStack is still running at {endpoint} (pid {}), the stack deployed.",
                state.pid
            );
            println!("  export EVENTRAIL_ENDPOINT={endpoint}   # for other tools");
            println!("  cargo run -p eventrail -- local down   # stops it");
        }
        return Ok(());
    }
    step("stopping LocalStack (--keep leaves it running)");
    localstack.stop()?;
    Ok(())
}

/// Says what IAM enforcement denied during the demo (kept for `eventrail local denials`).
fn report_denials(root: &Path, endpoint: &str) {
    use eventrail_local::iam;
    let report = match iam::denials(endpoint) {
        Ok(report) => report,
        Err(e) => {
            println!("\nIAM: could not read the denials: {e}");
            return;
        }
    };
    let _ = iam::save_last_report(root, &report);
    match report.enforcement {
        iam::Enforcement::Off => println!("\nwarning: {}", iam::OFF_WARNING),
        iam::Enforcement::Enforce if report.denials.is_empty() => println!(
            "\nIAM: every call the functions made was authorised against their roles and the \
             resource policies, as AWS would (no denials)"
        ),
        iam::Enforcement::Enforce => println!(
            "\nIAM: {} call(s) denied, as AWS would deny them: `eventrail local denials` shows \
             the role, action, resource and the statement that would allow each",
            report.denials.len()
        ),
    }
}

/// Starts building the functions the template deploys, for LocalStack, on a thread of its
/// own (`--no-build`: the zips of the last build are deployed instead).
fn build_functions(root: &Path) -> std::thread::JoinHandle<Result<()>> {
    step("0/4 build the functions for LocalStack (beside steps 1 and 2)");
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        deploy::build_template_local_zips(&root, &DeployOptions::local(&root))
            .map(|_| ())
            .context("building the functions for LocalStack")
    })
}

async fn demo(
    root: PathBuf,
    endpoint: String,
    installed: Installed,
    plan: DemoPlan,
    progress: Progress,
) -> Result<()> {
    step("3/4 deploy infra/template.yaml to LocalStack");
    // Built beside the install and LocalStack's start (see `run`), or `--no-build`.
    let options = DeployOptions {
        build: Build::LastBuild,
        progress,
        ..DeployOptions::local(&root)
    };
    let deployed = deploy::deploy(&root, &endpoint, &installed, &options)
        .await
        .context("deploying the stack to LocalStack")?;
    let project = eventrail_contract::Project::load(&root)?;
    let outputs = StackOutputs {
        stack_name: Some(deployed.stack_name.clone()),
        endpoint: Some(endpoint.clone()),
        ..StackOutputs::from_map(deployed.outputs.clone())
    }
    .with_project(&project)?;
    let stack = Stack::connect(&endpoint, outputs).await;
    let routes = Router::load(root.join("infra/template.yaml")).ok();

    step(&format!(
        "4/4 start the {} flows and watch them",
        plan.subject
    ));
    println!(
        "A tap (a catch-all rule on bus {} to an SQS queue) shows every event as it arrives;\n\
         then each flow is printed in causal order: `Event  by emitter -> functions it was delivered to`.\n\
         The {} {} flows{} go in at once, as they would arrive; each flow is shown in turn.",
        stack.outputs.bus_name().unwrap_or("?"),
        plan.flows.len(),
        plan.subject,
        if plan.poison.is_some() {
            " and the poison event"
        } else {
            ""
        }
    );
    let mut watch = stack.watch().await.context("creating the tap")?;
    let total = plan.flows.len() + usize::from(plan.poison.is_some());
    let mut flows = Vec::with_capacity(total);
    for (index, flow) in plan.flows.iter().enumerate() {
        let id = plan.fresh_id();
        let placed_at = Instant::now();
        let answer = stack
            .invoke(&plan.invoke, &flow.command(&id))
            .await
            .with_context(|| format!("starting {} {id}", plan.subject))?;
        let started = plan.started(&answer)?;
        watch.follow(started.correlation_id.clone());
        flows.push(Shown::new(
            vec![
                format!("━━ {}/{total} {} — {}", index + 1, flow.label, flow.trigger),
                format!(
                    "   {} accepted {id}: correlation {}, {} {}",
                    plan.invoke,
                    started.correlation_id,
                    plan.answer.event,
                    started.event_id.as_deref().unwrap_or("?")
                ),
            ],
            started.correlation_id,
            plan.title(&id, flow),
            placed_at,
        ));
    }
    // The poison event: put on the bus directly.
    if let (Some(poison), Some((event, correlation_id))) =
        (&plan.poison, plan.poison_event(&plan.fresh_id())?)
    {
        let placed_at = Instant::now();
        watch.follow(correlation_id.clone());
        let event_id = stack.put_event(&event).await?;
        flows.push(Shown::new(
            vec![
                format!(
                    "━━ {total}/{total} a poison event — {}, put on the bus directly",
                    poison.trigger
                ),
                format!("   published {event_id} (correlation {correlation_id})"),
            ],
            correlation_id,
            format!("poison {}", event.detail_type),
            placed_at,
        ));
    }

    let mut summary = Vec::with_capacity(total);
    for current in 0..flows.len() {
        summary.push(follow(&mut watch, &mut flows, current, routes.as_ref()).await?);
        print_waterfall(&stack, &flows[current].correlation_id).await;
    }

    println!("\n━━ summary");
    let width = summary
        .iter()
        .map(|r| r.title.chars().count())
        .max()
        .unwrap_or(0);
    for report in &summary {
        println!("   {}", outcome_line(report, width));
    }
    watch.close().await.context("deleting the tap")?;
    Ok(())
}

/// A flow of the demo: what was printed of it, and when it last changed.
struct Shown {
    /// Its heading, printed when its turn comes.
    heading: Vec<String>,
    correlation_id: String,
    title: String,
    placed_at: Instant,
    /// Events, watched queues' messages and failures seen so far.
    seen: (usize, usize, usize),
    last_change: Instant,
    /// One line per item, stamped with its arrival after `placed_at`; printed from
    /// `printed` on when the flow is the one shown.
    lines: Vec<String>,
    printed: usize,
}

impl Shown {
    fn new(
        heading: Vec<String>,
        correlation_id: String,
        title: String,
        placed_at: Instant,
    ) -> Self {
        Self {
            heading,
            correlation_id,
            title,
            placed_at,
            seen: (0, 0, 0),
            last_change: placed_at,
            lines: Vec::new(),
            printed: 0,
        }
    }

    /// Takes in what the watch has of this flow, stamping what is new with its arrival.
    fn record(&mut self, watch: &Watch, routes: Option<&Router>) {
        let report = watch.report(&self.correlation_id, self.title.clone());
        let elapsed = self.placed_at.elapsed().as_secs_f64();
        let (events, messages, failures) = self.seen;
        for event in report.flow.events().iter().skip(events) {
            let receivers = routes
                .map(|r| r.functions_for(&event.raw).join(", "))
                .unwrap_or_default();
            self.lines.push(format!(
                "   +{elapsed:5.1}s  {:<16} by {:<10} -> {receivers}",
                event.detail_type,
                event.emitter()
            ));
        }
        for message in report.messages.iter().skip(messages) {
            self.lines.push(format!(
                "   +{elapsed:5.1}s  {}: {} to {}",
                message.queue, message.body.kind, message.body.to
            ));
        }
        for record in report.failures.iter().skip(failures) {
            self.lines
                .push(format!("   +{elapsed:5.1}s  FAILED {}", record.summary()));
        }
        let now = (
            report.flow.len(),
            report.messages.len(),
            report.failures.len(),
        );
        if now != self.seen {
            self.seen = now;
            self.last_change = Instant::now();
        }
    }

    /// Prints the lines not printed yet.
    fn print_new(&mut self) {
        for line in &self.lines[self.printed..] {
            println!("{line}");
        }
        self.printed = self.lines.len();
    }

    /// Over: it has an outcome and nothing new came for a while, or it has been quiet for
    /// long without one.
    fn is_over(&self) -> bool {
        let has_outcome = self.seen.1 + self.seen.2 > 0;
        let quiet = self.last_change.elapsed();
        (has_outcome && quiet >= QUIET_AFTER_OUTCOME) || quiet >= QUIET_WITHOUT_OUTCOME
    }
}

/// Shows `flows[current]`: its items as they arrive (those that came while earlier flows were
/// shown at once, with their arrival times), then the flow in causal order. Every poll also
/// takes in the other flows' items, so their arrival times are kept.
async fn follow(
    watch: &mut Watch,
    flows: &mut [Shown],
    current: usize,
    routes: Option<&Router>,
) -> Result<FlowReport> {
    println!();
    for line in &flows[current].heading {
        println!("{line}");
    }
    loop {
        watch.poll().await?;
        for flow in flows.iter_mut() {
            flow.record(watch, routes);
        }
        let flow = &mut flows[current];
        flow.print_new();
        if flow.is_over() {
            break;
        }
        if flow.placed_at.elapsed() >= FLOW_DEADLINE {
            println!(
                "   (still incomplete after {} s; showing what arrived)",
                FLOW_DEADLINE.as_secs()
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let flow = &flows[current];
    let report = watch.report(&flow.correlation_id, flow.title.clone());
    println!();
    for line in report.render(routes).lines() {
        println!("   {line}");
    }
    let _ = std::io::stdout().flush();
    Ok(report)
}

/// The flow's waterfall, rebuilt from the span lines its functions logged (what
/// `eventrail trace <correlation id>` prints); the last hop's lines may reach the logs a moment
/// after its events, so an empty search is tried again a few times.
async fn print_waterfall(stack: &Stack, correlation_id: &str) {
    let mut attempt = 0;
    let traced = loop {
        attempt += 1;
        match trace_stack(stack, correlation_id, WATERFALL_SINCE).await {
            Err(TraceError::NoSpans { .. }) if attempt < 4 => {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            other => break other,
        }
    };
    println!();
    match traced {
        Ok(traced) => {
            println!("   waterfall (`eventrail trace {correlation_id}`):");
            for line in waterfall::render(&traced.report).lines() {
                println!("   {line}");
            }
        }
        Err(error) => println!("   no waterfall: {error}"),
    }
    let _ = std::io::stdout().flush();
}

/// One line per flow for the summary.
fn outcome_line(report: &FlowReport, width: usize) -> String {
    let events = report.flow.len();
    let mut parts = vec![format!(
        "{events} event{}",
        if events == 1 { "" } else { "s" }
    )];
    for message in &report.messages {
        parts.push(format!("{} {}", message.queue, message.body.kind));
    }
    for record in &report.failures {
        parts.push(format!(
            "{} {}: {}",
            record.queue_function,
            record.layer.describe(),
            if record.is_poison() {
                "poison"
            } else {
                "handler failure"
            }
        ));
    }
    format!("{:<width$}  {}", report.title, parts.join(" · "))
}

fn step(text: &str) {
    eprintln!("\n==> {text}");
}
