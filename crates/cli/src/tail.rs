//! `eventrail tail`: a live view of the deployed stack's bus. A temporary rule sends what it
//! selects to a temporary queue (unique names, `eventrail-tail-...`); both are removed on exit,
//! Ctrl-C and SIGTERM included, and the leftovers of a killed run are removed by the next run.
//! Events print as they arrive, indented under their cause; at the end, each correlation id's
//! events as a causal tree. `--json` prints one event per line instead.

use std::collections::HashMap;
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use eventrail_observe::{
    FlowReport, ObservedEvent, Router, Tail, group_by_correlation, render, tail_pattern,
};
use serde_json::Value;

use crate::ops::{StackArgs, runtime};

/// Arguments of `eventrail tail`.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// An EventBridge event pattern (JSON) selecting what to show.
    #[arg(long, conflicts_with_all = ["source", "detail_type", "correlation"])]
    pattern: Option<String>,
    /// Only events of this source.
    #[arg(long)]
    source: Option<String>,
    /// Only events of this detail-type.
    #[arg(long)]
    detail_type: Option<String>,
    /// Only the events of one flow (`detail.metadata.correlation_id`).
    #[arg(long)]
    correlation: Option<String>,
    /// One JSON event per line on standard output (for jq); messages go to standard error.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    stack: StackArgs,
}

/// Runs `eventrail tail`.
pub fn run(args: TailArgs) -> Result<ExitCode> {
    let pattern = match &args.pattern {
        Some(text) => {
            let value: Value = serde_json::from_str(text)
                .with_context(|| format!("--pattern is not JSON: {text}"))?;
            eventrail_pattern::Pattern::from_value(&value)
                .map_err(|e| anyhow::anyhow!("--pattern is not a valid event pattern: {e}"))?;
            value
        }
        None => tail_pattern(
            args.source.as_deref(),
            args.detail_type.as_deref(),
            args.correlation.as_deref(),
        ),
    };
    let runtime = runtime()?;
    runtime.block_on(tail(args, pattern))
}

/// Ctrl-C and SIGTERM, listened to from the start: a signal that arrives while the tail is
/// being set up or is printing is kept until the loop looks, and never kills the process
/// before it cleaned up.
struct Stop {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Stop {
    fn listen() -> Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt()).context("listening for Ctrl-C")?,
                terminate: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Resolves when a stop signal arrived (now or earlier).
    async fn requested(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn tail(args: TailArgs, pattern: Value) -> Result<ExitCode> {
    let mut stop = Stop::listen()?;
    let (stack, project) = args.stack.connect().await?;
    let router = Router::load(project.template_path()).ok();
    let bus = stack.outputs.bus_name()?.to_owned();
    let (mut tail, cleaned) = Tail::start(&stack.clients, &bus, &pattern)
        .await
        .context("creating the temporary rule and queue")?;
    if !cleaned.is_empty() {
        eprintln!(
            "tail: removed what killed runs left behind: {}",
            cleaned.join(", ")
        );
    }
    let name = tail.tap().name().to_owned();
    eprintln!(
        "tail: rule and queue {name} on bus {bus}, pattern {pattern} (removed on exit); \
         listening, Ctrl-C to stop"
    );

    let mut seen: Vec<ObservedEvent> = Vec::new();
    let mut depth: HashMap<String, usize> = HashMap::new();
    let outcome = watch(
        &mut tail,
        &mut stop,
        &args,
        router.as_ref(),
        &mut seen,
        &mut depth,
    )
    .await;

    let stopped = tail.stop().await;
    match &stopped {
        Ok(()) => eprintln!("tail: removed rule and queue {name}"),
        Err(error) => eprintln!(
            "tail: could not remove rule and queue {name}: {error}; the next `eventrail tail` \
             removes them once their lease ends"
        ),
    }
    if !args.json && !seen.is_empty() {
        println!("\n── flows seen, in causal order");
        for (correlation, flow) in group_by_correlation(&seen) {
            let report = FlowReport::of_flow(format!("correlation {correlation}"), flow);
            print!("{}", render::flow_report(&report, router.as_ref()));
        }
    }
    outcome?;
    stopped?;
    Ok(ExitCode::SUCCESS)
}

/// Polls until Ctrl-C or SIGTERM, printing events as they arrive.
async fn watch(
    tail: &mut Tail,
    stop: &mut Stop,
    args: &TailArgs,
    router: Option<&Router>,
    seen: &mut Vec<ObservedEvent>,
    depth: &mut HashMap<String, usize>,
) -> Result<()> {
    loop {
        tokio::select! {
            () = stop.requested() => return Ok(()),
            polled = tail.tap().poll(2) => {
                polled.context("reading the tail queue")?;
            }
        }
        for event in tail.tap().take_events() {
            print_event(&event, args.json, router, depth)?;
            seen.push(event);
        }
        for problem in tail.tap().undecodable() {
            eprintln!("tail: not an EventBridge event: {problem}");
        }
        tail.keep_alive()
            .await
            .context("renewing the tail's lease")?;
    }
}

fn print_event(
    event: &ObservedEvent,
    json: bool,
    router: Option<&Router>,
    depth: &mut HashMap<String, usize>,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let line = serde_json::to_string(&event.raw)?;
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            // The reader went away (`| head`): stop like other Unix tools.
            bail!("standard output closed");
        }
        return Ok(());
    }
    let level = event
        .causation_id
        .as_ref()
        .and_then(|cause| depth.get(cause))
        .map_or(0, |d| d + 1);
    depth.insert(event.id.clone(), level);
    let time = event.time.get(11..19).unwrap_or(&event.time);
    let indent = if level == 0 {
        String::new()
    } else {
        format!("{}└─ ", "   ".repeat(level - 1))
    };
    let receivers = router
        .map(|r| r.functions_for(&event.raw).join(", "))
        .unwrap_or_default();
    let correlation = event.correlation_id.as_deref().unwrap_or("-");
    let replay = event
        .replay_name
        .as_deref()
        .map(|r| format!(" (replay {r})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{time}  {indent}{} from {} [{correlation}] {}{replay} -> {}",
        event.detail_type,
        event.source,
        event.id,
        if receivers.is_empty() {
            "no function"
        } else {
            &receivers
        }
    );
    let _ = out.flush();
    Ok(())
}
