//! `cargo xtask coldstart`: the cold start of every function against two floors, each a bare
//! `lambda_runtime` hello world built with the workspace's release profile:
//! - the published floor ([`floor`], the first ratio column): built as lambda-perf builds its
//!   Rust function, as a crate of its own outside the workspace (`lambda_runtime` with its
//!   default features, `tokio` with `macros` and `rt-multi-thread` only, `serde_json`; no
//!   feature unification with the workspace, no build script, a position-independent
//!   executable as cargo links it by default). This is the floor the goal (at most
//!   1.3x) is measured against.
//! - the in-workspace hello world (`crates/coldstart-hello`, the second ratio column): the same
//!   code inside the workspace, so with the functions' unified features and their link
//!   (`eventrail_build::lambda_binary()`), on the multi-threaded runtime and, as a further row,
//!   the current-thread one. It shows what the functions add over the same build settings.
//!
//! Each binary is spawned as Lambda spawns `bootstrap`: Lambda's environment, the function's
//! variables from the template, a fake Runtime API ([`fake::runtime_api`]) that hands out one
//! event (the sample the function consumes) and a fake AWS endpoint ([`fake::aws_endpoint`])
//! for the calls it makes on that event. A run measures:
//! - init: from the spawn to the first `GET /runtime/invocation/next`;
//! - first invocation: from the event handed out to the response's `POST`, and the part of
//!   it spent inside the fake endpoint's calls;
//! - peak RSS: `VmHWM` of `/proc/<pid>/status` once the response arrived.
//!
//! The process is then killed and reaped. Runs go round-robin over the binaries (one warm-up
//! round first, not counted), so load on the machine affects all of them alike. Every binary
//! runs from a copy made for the run ([`stage::Staged`]), so all of them sit in the page cache
//! alike, whichever was linked when.

mod fake;
mod floor;
mod plan;
mod stage;
mod stats;

use std::{
    fs::File,
    path::{Path, PathBuf},
    process::{Child, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use tokio::sync::mpsc::UnboundedReceiver;

use fake::{Invocation, Mark};
use plan::Subject;
pub use stats::Sample;

/// Options of `cargo xtask coldstart`.
#[derive(Debug, clap::Args)]
pub struct ColdstartOptions {
    /// Measured runs per binary (after one warm-up run each).
    #[arg(long, default_value_t = 25)]
    pub runs: usize,
    /// Measure only these functions (repeatable; the hello world is always measured).
    #[arg(long = "only", value_name = "FUNCTION")]
    pub only: Vec<String>,
    /// Measure the release binaries already built (by an earlier run) instead of building
    /// (the published floor too, when an earlier run built it).
    #[arg(long)]
    pub no_build: bool,
    /// Measure the binaries in this folder (one per package name, e.g. a copy kept from an
    /// earlier commit to compare with) instead of building; the published floor is taken from
    /// it too when it holds a `lambda-perf-hello`.
    #[arg(long, value_name = "DIR")]
    pub bin_dir: Option<std::path::PathBuf>,
    /// Also measure each function's binary in this folder (one per package name, e.g. the
    /// release build of an earlier commit), as a row `<function> (baseline)` beside the
    /// function's own: both builds in one run, against the same floors.
    #[arg(long, value_name = "DIR")]
    pub baseline_dir: Option<std::path::PathBuf>,
    /// A variable to give every function (repeatable, `KEY=VALUE`), beside the template's:
    /// e.g. `OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318` to measure the OTLP export.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = plan::parse_variable)]
    pub env: Vec<(String, String)>,
    /// Where the binaries are copied to be run from (default: the system's temporary folder);
    /// e.g. `/dev/shm` to run them from memory-backed files.
    #[arg(long, value_name = "DIR")]
    pub stage_dir: Option<std::path::PathBuf>,
}

/// How long one run may take before it counts as failed.
const RUN_TIMEOUT: Duration = Duration::from_secs(20);

/// `cargo xtask coldstart`.
pub fn coldstart(root: &Path, options: &ColdstartOptions) -> Result<()> {
    if options.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let binaries = match (&options.bin_dir, options.no_build) {
        (Some(dir), _) => plan::Binaries::Folder(dir.clone()),
        (None, true) => plan::Binaries::Built,
        (None, false) => plan::Binaries::Build,
    };
    let mut subjects = plan::subjects(root, &options.only, binaries.clone())?;
    for subject in subjects
        .iter_mut()
        .filter(|s| s.name != plan::HELLO && s.name != plan::HELLO_CURRENT_THREAD)
    {
        subject.variables.extend(options.env.iter().cloned());
    }
    if let Some(dir) = &options.baseline_dir {
        subjects = plan::with_baselines(subjects, dir)?;
    }
    let logs = subjects[0]
        .binary
        .parent()
        .map(|dir| dir.join("coldstart-logs"))
        .context("the hello world's binary has no folder")?;
    let floor_crate = floor::FloorCrate::under(&floor::target_dir(root)?);
    let floor_binary = match &binaries {
        plan::Binaries::Folder(dir) if dir.join(floor::FLOOR).is_file() => dir.join(floor::FLOOR),
        // Reused when an earlier run built it (the workspace's binaries are not rebuilt
        // either); built once otherwise: it does not depend on the workspace's code.
        plan::Binaries::Built | plan::Binaries::Folder(_) if floor_crate.binary().is_file() => {
            floor_crate.binary()
        }
        _ => {
            floor_crate.write(root)?;
            floor_crate.build()?
        }
    };
    // The floor answers the same event as the in-workspace hello world (any JSON value).
    let floor_payload = subjects[0].payload.clone();
    subjects.insert(
        0,
        Subject {
            name: floor::FLOOR.to_owned(),
            binary: floor_binary,
            payload: floor_payload,
            variables: Default::default(),
            baseline: false,
        },
    );
    let stage_parent = options.stage_dir.clone().unwrap_or_else(std::env::temp_dir);
    let binaries: Vec<&Path> = subjects.iter().map(|s| s.binary.as_path()).collect();
    let (staged, copies) = stage::Staged::copy(&stage_parent, &binaries)?;
    for (subject, copy) in subjects.iter_mut().zip(copies) {
        subject.binary = copy;
    }
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    for subject in &subjects {
        let log = logs.join(format!("{}.log", subject.row()));
        File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    }
    let load_before = load_average();
    eprintln!(
        "==> cold start: {} binaries x ({} runs + 1 warm-up), run from copies in {}; their \
         output goes to {}",
        subjects.len(),
        options.runs,
        staged.dir().display(),
        logs.display()
    );
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); subjects.len()];
    for round in 0..=options.runs {
        // Rotate the order, so no binary always runs right after the same other one.
        for offset in 0..subjects.len() {
            let index = (round + offset) % subjects.len();
            let subject = &subjects[index];
            let log = logs.join(format!("{}.log", subject.row()));
            let sample = run_once(subject, round, &log).with_context(|| {
                format!(
                    "{} (run {round}; its output: {})",
                    subject.row(),
                    log.display()
                )
            })?;
            if round > 0 {
                samples[index].push(sample);
            }
        }
        if round > 0 && round % 5 == 0 {
            eprintln!("    {round}/{} runs", options.runs);
        }
    }
    let load_after = load_average();
    let labels: Vec<String> = subjects.iter().map(|s| label(&s.row())).collect();
    let names: Vec<&str> = labels.iter().map(String::as_str).collect();
    let workspace_hello = subjects
        .iter()
        .position(|s| s.name == plan::HELLO)
        .context("the in-workspace hello world is not among the binaries")?;
    println!(
        "Floors: {} is the published floor, a hello world built outside the workspace \
         ({}; tokio features macros and rt-multi-thread only; the workspace's \
         [profile.release]; no build script); {} is the same hello world inside the workspace \
         (unified features, linked as the functions are). Each binary runs from a copy made for \
         this run in {}.\n",
        floor::FLOOR,
        floor_crate.resolved(),
        plan::HELLO,
        staged.dir().display()
    );
    let facts = stats::RunFacts {
        runs: options.runs,
        load_before,
        load_after,
    };
    let baselines = stats::Baselines(vec![0, workspace_hello]);
    println!("{}", stats::report(&names, &samples, &baselines, &facts));
    Ok(())
}

/// A binary's row name, saying which floor a hello world is.
fn label(name: &str) -> String {
    if let Some(function) = name.strip_suffix(plan::BASELINE_SUFFIX) {
        return format!("{function} (baseline)");
    }
    match name {
        floor::FLOOR => format!("{name} (published floor)"),
        plan::HELLO | plan::HELLO_CURRENT_THREAD => format!("{name} (in workspace)"),
        _ => name.to_owned(),
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// One cold start of `subject`, in a runtime of its own: dropping it stops the fake servers.
fn run_once(subject: &Subject, round: usize, log: &Path) -> Result<Sample> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a tokio runtime for the fake servers")?;
    runtime.block_on(measure(subject, round, log))
}

async fn measure(subject: &Subject, round: usize, log: &Path) -> Result<Sample> {
    let (marks, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let endpoint = fake::aws_endpoint(marks.clone()).await?;
    let invocation = Invocation {
        request_id: format!("coldstart-{}-{round}", subject.name),
        function_arn: format!(
            "arn:aws:lambda:{}:{}:function:{}",
            plan::REGION,
            plan::ACCOUNT,
            subject.name
        ),
        payload: subject.payload.clone(),
    };
    let runtime_api = fake::runtime_api(invocation, marks).await?;
    let output = File::options()
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    let mut command = std::process::Command::new(&subject.binary);
    command
        .env_clear()
        .envs(subject.environment(runtime_api, endpoint))
        .current_dir(subject.binary.parent().unwrap_or(Path::new(".")))
        .stdin(Stdio::null())
        .stdout(output.try_clone()?)
        .stderr(output);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", subject.binary.display()))?;
    let observed = observe(&mut seen, &mut child, started).await;
    let peak = observed
        .as_ref()
        .ok()
        .map(|_| peak_rss_kib(child.id()))
        .transpose();
    let _ = child.kill();
    let _ = child.wait();
    let mut sample = observed?;
    sample.peak_rss_kib = peak?.unwrap_or_default();
    Ok(sample)
}

/// Reads the marks of one run until the response arrives.
async fn observe(
    seen: &mut UnboundedReceiver<Mark>,
    child: &mut Child,
    started: Instant,
) -> Result<Sample> {
    let give_up = Instant::now() + RUN_TIMEOUT;
    let mut init = None;
    let mut answered = None;
    let mut sample = Sample::default();
    loop {
        let mark = match tokio::time::timeout(Duration::from_millis(200), seen.recv()).await {
            Ok(Some(mark)) => mark,
            Ok(None) => bail!("the fake servers stopped"),
            Err(_) => {
                if let Some(status) = child.try_wait()? {
                    bail!("the process exited ({status}) before it answered its first event");
                }
                if Instant::now() > give_up {
                    bail!(
                        "no answer within {RUN_TIMEOUT:?} (init done: {})",
                        init.is_some()
                    );
                }
                continue;
            }
        };
        match mark {
            Mark::NextRequested(at) => init = Some(at - started),
            Mark::NextAnswered(at) => answered = Some(at),
            Mark::Response(at) => {
                let (Some(init), Some(answered)) = (init, answered) else {
                    bail!("a response arrived before the event was handed out");
                };
                sample.init = init;
                sample.first_invoke = at.saturating_duration_since(answered);
                return Ok(sample);
            }
            Mark::AwsCall { operation, took } => {
                sample.in_endpoint += took;
                sample.calls.push(operation);
            }
            Mark::UnknownCall(operation) => bail!(
                "the function called {operation}, which the fake AWS endpoint does not answer \
                 (add it to crates/xtask/src/coldstart/fake.rs)"
            ),
            Mark::InvocationError(body) => {
                bail!("the function answered its first event with an error: {body}")
            }
            Mark::InitError(body) => bail!("the function reported an init error: {body}"),
        }
    }
}

/// `VmHWM` (peak resident set size) of a live process, in KiB.
fn peak_rss_kib(pid: u32) -> Result<u64> {
    let path = PathBuf::from(format!("/proc/{pid}/status"));
    let status =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    stats::vm_hwm_kib(&status).with_context(|| format!("no VmHWM line in {}", path.display()))
}
