//! `cargo xtask load`: a burst of requests to the application's HTTP producer on the local
//! stack, followed through to the watched queue where its flow ends.
//!
//! It sends `--requests` copies of the producer's sample request (each with a token of the run
//! written into the `--vary` field) with `--concurrency` in flight, while it reads the watched
//! queue for messages carrying the tokens. Once every accepted request's message arrived (or
//! `--deadline` seconds after the burst), it reports:
//! - the counts: sent, accepted (2xx), refused, notified, lost (accepted, no message), duplicates;
//! - throughput: accepted per second of the burst, notified per second end to end;
//! - latency: request to answer, and request to message (the queue's `SentTimestamp`);
//! - each buffered consumer's peak concurrency against its `max-concurrency`, as the executor
//!   plugin counted it since the burst began;
//! - the failure queues before and after, and the buffer queues after;
//!
//! and fails when a request was lost or notified twice, a failure queue grew, a buffer kept
//! messages, or a buffered consumer went over its cap (or has none under 2).
//!
//! Modules: [`target`] (what to aim at, from the declarations and the stack), [`body`] (the
//! requests), [`burst`] (sending them), [`outbox`] (reading the watched queue), [`correlate`]
//! (requests to messages), [`peak`] (concurrency), [`queues`] (queue depths), [`stats`]
//! (percentiles), [`report`] (checks, table, JSON).

mod body;
mod burst;
mod correlate;
mod outbox;
mod peak;
mod queues;
mod report;
mod stats;
mod target;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use eventrail_local::localstack;
use eventrail_model::SamConfig;
use eventrail_observe::{Connection, Stack};
use tokio::sync::watch;

use burst::Answer;
use report::{BufferLeft, Counts, QueueDelta, Refusal, Report, Settings, Throughput};

/// Options of `cargo xtask load`.
#[derive(Debug, clap::Args)]
pub struct LoadOptions {
    /// Requests in the burst.
    #[arg(long, default_value_t = 2000)]
    pub requests: usize,
    /// Requests in flight at once (one connection each).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// The string field of the request body made unique per request, as a JSON pointer
    /// (`/outer/id`): one the flow carries to the watched queue's messages, so each message
    /// is matched with its request.
    #[arg(long, value_name = "POINTER")]
    pub vary: String,
    /// The function to send to (default: the only one with an `http` trigger).
    #[arg(long, value_name = "NAME")]
    pub function: Option<String>,
    /// The request body (default: the sample of the function's command,
    /// `<samples>/commands/<command>.json`).
    #[arg(long, value_name = "FILE")]
    pub body: Option<PathBuf>,
    /// The watched queue the flow ends in (default: the only one the application declares).
    #[arg(long, value_name = "NAME")]
    pub watch: Option<String>,
    /// Seconds after the burst for every accepted request's message to arrive; a request
    /// without one by then is lost.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub deadline: u64,
    /// Seconds one request may take before it counts as unanswered.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u64,
    /// samconfig.toml environment whose stack to load (its stack name and region).
    #[arg(long, default_value = "local")]
    pub env: String,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// How long the buffers get to drain once every message arrived.
const DRAIN_PATIENCE: Duration = Duration::from_secs(30);
/// Lost tokens shown as examples.
const LOST_EXAMPLES: usize = 5;
/// The most messages of one queue scanned for the requests that were not notified.
const SCAN_LIMIT: usize = 20_000;

/// `cargo xtask load`.
pub fn load(root: &Path, options: &LoadOptions) -> Result<()> {
    if options.requests == 0 || options.concurrency == 0 {
        bail!("--requests and --concurrency must be at least 1");
    }
    let project = target::project(root)?;
    let functions = project
        .functions()
        .context("reading the functions' declarations")?;
    let producer = target::producer(&functions, options.function.as_deref())?;
    let body_path = match &options.body {
        Some(path) => path.clone(),
        None => target::sample_body(&project.samples_dir(), &producer)?,
    };
    let sample: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&body_path)
            .with_context(|| format!("reading {}", body_path.display()))?,
    )
    .with_context(|| format!("{} is not JSON", body_path.display()))?;
    let template = body::Template::new(sample, &options.vary)?;
    let buffered = target::buffered(&functions);
    let watched = target::watched(&project.settings.watch, options.watch.as_deref())?.clone();
    let endpoint = match localstack::endpoint_from_env() {
        Some((endpoint, _)) => endpoint,
        None => match localstack::read_up_state(root) {
            Some(state) => state.endpoint,
            None => bail!(
                "no running LocalStack: deploy the stack with `cargo run -p eventrail -- local \
                 deploy` (it leaves LocalStack running), or set EVENTRAIL_ENDPOINT to yours"
            ),
        },
    };
    let samconfig = SamConfig::load(root.join("samconfig.toml"))?;
    let environment = samconfig
        .environment(&options.env)
        .with_context(|| format!("--env {}", options.env))?;
    let stack_name = environment
        .stack_name
        .clone()
        .with_context(|| format!("samconfig.toml's `{}` names no stack_name", options.env))?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let connection = Connection {
        endpoint: Some(endpoint.clone()),
        ..Connection::default()
    };
    let stack = runtime
        .block_on(Stack::deployed(
            &connection,
            environment.region.as_deref(),
            &stack_name,
            &project,
        ))
        .with_context(|| format!("the deployed stack {stack_name} at {endpoint}"))?;
    let outputs = &stack.outputs;
    let sqs = stack.clients.sqs.clone();
    let url = target::local_url(&endpoint, outputs, &producer.route)?;
    let watched_url = outputs.get(&watched.output)?.to_owned();
    let mut consumers = Vec::new();
    for consumer in &buffered {
        consumers.push((
            consumer,
            target::deployed_name(outputs, &consumer.name)?.to_owned(),
            target::buffer_queue_url(outputs, &consumer.name)?.to_owned(),
        ));
    }
    let failure_queues = outputs.failure_queues();
    let failures_before = runtime.block_on(async {
        let mut depths = Vec::new();
        for queue in &failure_queues {
            depths.push(queues::depth(&sqs, &queue.url).await?);
        }
        anyhow::Ok(depths)
    })?;
    let deployed: Vec<&str> = consumers.iter().map(|(_, d, _)| d.as_str()).collect();
    peak::reset(&endpoint, &deployed)?;

    // Ctrl-C stops the burst and the reading; what was measured so far is still reported
    // (the handler `main` installs stays: the signal reaches both).
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    runtime.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("load: interrupted; reporting what was measured so far");
            flag.store(true, Ordering::Relaxed);
        }
    });
    let mut machine = report::Machine::now();
    let started_at = chrono::Utc::now();
    let run = body::run_id(started_at.timestamp_millis().max(0) as u64);
    let tokens = body::Tokens::new(&run, options.requests)?;
    let token_set: HashSet<String> = (0..options.requests).map(|i| tokens.token(i)).collect();
    let (tell, expect) = watch::channel(None);
    let reader = runtime.spawn(outbox::read(
        sqs.clone(),
        watched_url.clone(),
        token_set,
        expect,
        interrupted.clone(),
    ));
    eprintln!(
        "load: {} requests to {} {url}, {} at once; reading {} ({watched_url})",
        options.requests, producer.route, options.concurrency, watched.name
    );
    let burst = burst::run(
        &burst::Target {
            url: url.clone(),
            method: producer.route.method,
            concurrency: options.concurrency,
            timeout: Duration::from_secs(options.timeout),
        },
        &template,
        &tokens,
        options.requests,
        &interrupted,
    )?;
    let accepted: HashSet<String> = burst
        .posted
        .iter()
        .filter(|p| p.accepted())
        .map(|p| p.token.clone())
        .collect();
    eprintln!(
        "load: burst done in {} ms, {} accepted; waiting for their messages (up to {} s)",
        burst.wall_ms,
        accepted.len(),
        options.deadline
    );
    let _ = tell.send(Some(outbox::Expectation {
        accepted,
        deadline: Instant::now() + Duration::from_secs(options.deadline),
    }));
    let reading = runtime
        .block_on(reader)
        .context("the watched queue's reader stopped")??;
    let correlation = correlate::correlate(&burst.posted, &reading.seen);

    let (buffers, failures_after) = runtime.block_on(async {
        let mut buffers = Vec::new();
        for (consumer, _, buffer_url) in &consumers {
            buffers.push(BufferLeft {
                function: consumer.name.clone(),
                messages: queues::drained_depth(&sqs, buffer_url, DRAIN_PATIENCE).await?,
            });
        }
        let mut depths = Vec::new();
        for queue in &failure_queues {
            depths.push(queues::depth(&sqs, &queue.url).await?);
        }
        anyhow::Ok((buffers, depths))
    })?;
    let located = if correlation.lost.is_empty() {
        correlate::Located::default()
    } else {
        let unnotified: HashSet<String> = correlation.lost.iter().cloned().collect();
        let (dead, buffered) = runtime.block_on(async {
            let mut dead = Vec::new();
            for queue in &failure_queues {
                let place = format!("{} {}", queue.function, queue.layer.describe());
                for found in
                    queues::find_tokens(&sqs, &queue.url, Some(queue), &unnotified, SCAN_LIMIT)
                        .await?
                {
                    dead.push((place.clone(), found.token, found.reason));
                }
            }
            let mut buffered = HashSet::new();
            for (_, _, buffer_url) in &consumers {
                for found in
                    queues::find_tokens(&sqs, buffer_url, None, &unnotified, SCAN_LIMIT).await?
                {
                    buffered.insert(found.token);
                }
            }
            anyhow::Ok((dead, buffered))
        })?;
        correlate::locate(&correlation.lost, &dead, &buffered)
    };
    let peaks = consumers
        .iter()
        .map(|(consumer, deployed, _)| {
            peak::read(&endpoint, &consumer.name, deployed, consumer.cap)
        })
        .collect::<Result<Vec<_>>>()?;
    machine.load_after = report::load_average();

    let counts = count(&burst, &correlation, &located, reading.foreign);
    let end_to_end_ms = correlation
        .last_notified_ms
        .map(|last| last.saturating_sub(burst.started_ms));
    let throughput = Throughput {
        burst_ms: burst.wall_ms,
        accepted_per_second: stats::per_second(counts.accepted, burst.wall_ms),
        end_to_end_ms,
        notified_per_second: end_to_end_ms
            .and_then(|ms| stats::per_second(correlation.notified, ms)),
    };
    let failure_deltas: Vec<QueueDelta> = failure_queues
        .iter()
        .zip(failures_before.iter().zip(&failures_after))
        .map(|(queue, (before, after))| QueueDelta {
            function: queue.function.clone(),
            layer: queue.layer.describe().to_owned(),
            before: *before,
            after: *after,
        })
        .collect();
    let checks = report::checks(
        &counts,
        reading.timed_out,
        interrupted.load(Ordering::Relaxed),
        &peaks,
        &buffers,
        &failure_deltas,
    );
    let answers: Vec<u64> = burst.posted.iter().map(|p| p.answered_after_ms).collect();
    let report = Report {
        machine,
        settings: Settings {
            producer: producer.name.clone(),
            route: producer.route.to_string(),
            url,
            body: body_path.display().to_string(),
            vary: options.vary.clone(),
            requests: options.requests,
            concurrency: options.concurrency,
            deadline_seconds: options.deadline,
            watched: watched.name.clone(),
            run,
            started_at: started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            commit: report::commit(root),
        },
        counts,
        throughput,
        answer_latency: stats::Latencies::of(&answers),
        end_to_end_latency: stats::Latencies::of(&correlation.latencies_ms),
        consumers: peaks,
        buffers,
        failure_queues: failure_deltas,
        dead_letters: located.dead_lettered.clone(),
        refusals: refusals(&burst.posted),
        lost_examples: located.lost.iter().take(LOST_EXAMPLES).cloned().collect(),
        checks,
    };
    println!("{}", report::render(&report));
    if let Some(path) = &options.json {
        let text = serde_json::to_string_pretty(&report).context("writing the report as JSON")?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
        eprintln!("load: report written to {}", path.display());
    }
    if !report.passed() {
        bail!("the load run failed a check (FAIL above)");
    }
    Ok(())
}

/// The counts of the burst and its correlation.
fn count(
    burst: &burst::Burst,
    correlation: &correlate::Correlation,
    located: &correlate::Located,
    foreign: usize,
) -> Counts {
    let mut counts = Counts {
        sent: burst.posted.len(),
        notified: correlation.notified,
        dead_lettered: located.dead_lettered_requests,
        late: located.late,
        lost: located.lost.len(),
        duplicates: correlation.duplicates,
        unaccepted_but_notified: correlation.unaccepted_but_notified.len(),
        foreign_messages: foreign,
        ..Counts::default()
    };
    for posted in &burst.posted {
        match &posted.answer {
            Answer::Status { code, .. } if (200..300).contains(code) => counts.accepted += 1,
            Answer::Status { code, .. } if (400..500).contains(code) => counts.refused += 1,
            Answer::Status { .. } => counts.errors += 1,
            Answer::Failed(_) => counts.failed += 1,
        }
    }
    counts
}

/// The requests not accepted, by status, with the first one's answer.
fn refusals(posted: &[burst::Posted]) -> Vec<Refusal> {
    let mut by_status: BTreeMap<String, Refusal> = BTreeMap::new();
    for request in posted.iter().filter(|p| !p.accepted()) {
        let (status, example) = match &request.answer {
            Answer::Status { code, refusal } => {
                (code.to_string(), refusal.clone().unwrap_or_default())
            }
            Answer::Failed(error) => ("no answer".to_owned(), error.clone()),
        };
        by_status
            .entry(status.clone())
            .or_insert(Refusal {
                status,
                count: 0,
                example,
            })
            .count += 1;
    }
    by_status.into_values().collect()
}
