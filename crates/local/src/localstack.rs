//! The LocalStack supervisor.
//!
//! [`LocalStack::start`] runs `python -m localstack.runtime.main` from the pinned venv, in
//! host mode (no Docker), on a free loopback port, with the eventrail executor plugin for
//! Lambda, and waits for `/_localstack/health`. The returned guard stops it when dropped:
//! SIGTERM to its process group, SIGKILL after a grace period, and then SIGKILL to any
//! descendant that escaped the group (function processes run in their own sessions).
//!
//! [`LocalStack::connect_or_start`] uses an already running LocalStack instead when
//! `EVENTRAIL_ENDPOINT` or `AWS_ENDPOINT_URL` is set (or `eventrail local up` left one
//! running), and never stops that one.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::paths;

/// Services started by default: what infra/template.yaml and the tests use.
pub const DEFAULT_SERVICES: &[&str] = &[
    "events",
    "sqs",
    "lambda",
    "cloudformation",
    "iam",
    "sts",
    "logs",
    "s3",
    "cloudwatch",
    "dynamodb",
];
/// The DynamoDB provider LocalStack runs: the executor package's moto-backed one
/// (`infra/localstack-executor/src/eventrail_executor/dynamodb.py`), because LocalStack's own
/// needs the DynamoDB Local jar, which is not open source and cannot be downloaded here.
pub const DYNAMODB_PROVIDER: &str = "eventrail";
/// Name of the executor plugin (entry point in `localstack.lambda.runtime_executor`).
pub const EXECUTOR_PLUGIN: &str = "eventrail";
/// Environment variables naming an already running LocalStack, in order of precedence.
pub const ENDPOINT_VARIABLES: &[&str] = &["EVENTRAIL_ENDPOINT", "AWS_ENDPOINT_URL"];

/// How long LocalStack gets to shut down after SIGTERM before SIGKILL. Its own shutdown,
/// with a stack deployed, took 8.6 to 10 s on the project's 2-core machine and keeps nothing
/// this project needs (no persistence; the function processes it ran are killed with it
/// either way, see `stop_process_tree`).
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// How to start LocalStack.
#[derive(Debug, Clone)]
pub struct LocalStackOptions {
    pub services: Vec<String>,
    /// Extra environment variables for LocalStack (override the defaults).
    pub env: Vec<(String, String)>,
    /// How long to wait for health before giving up.
    pub startup_timeout: Duration,
    /// How long LocalStack gets to shut down after SIGTERM.
    pub stop_grace: Duration,
    /// Port to listen on (default: a free one).
    pub port: Option<u16>,
    /// Print progress lines to stderr.
    pub verbose: bool,
    /// Ask the kernel to SIGTERM LocalStack when the process that started it dies, even by
    /// SIGKILL (Linux `PR_SET_PDEATHSIG`), so a killed test run leaves no LocalStack behind.
    /// Leave it off when the instance must outlive its starter (`local up`, `--keep`).
    pub stop_with_parent: bool,
}

impl Default for LocalStackOptions {
    fn default() -> Self {
        Self {
            services: DEFAULT_SERVICES.iter().map(|s| (*s).to_owned()).collect(),
            env: Vec::new(),
            startup_timeout: Duration::from_secs(90),
            stop_grace: STOP_GRACE,
            port: None,
            verbose: true,
            stop_with_parent: false,
        }
    }
}

/// The environment LocalStack runs with (besides the inherited one).
///
/// Notes on the less obvious ones:
/// * `OVERRIDE_IN_DOCKER=0`: LocalStack guesses "in Docker" from cgroups on container hosts,
///   then uses container paths (/var/lib/localstack) and pings a Docker bridge address.
/// * `DISABLE_EVENTS=1`: without network its metrics shutdown hook blocks shutdown.
/// * `LAMBDA_RETRY_BASE_DELAY=1`: async Lambda retries after 1 s, 2 s instead of 60 s, 120 s
///   (config.LAMBDA_RETRY_BASE_DELAY_SECONDS reads this variable).
/// * `LOCALSTACK_HOST` + `SQS_ENDPOINT_STRATEGY=path`: queue URLs point at this gateway
///   (`http://127.0.0.1:PORT/queue/...`) instead of a DNS name that needs the internet.
/// * `DNS_ADDRESS=0`: no DNS server (it would try port 53).
/// * `PROVIDER_OVERRIDE_DYNAMODB`: DynamoDB served by moto ([`DYNAMODB_PROVIDER`]).
pub fn localstack_env(port: u16, services: &[String], run_dir: &Path) -> Vec<(String, String)> {
    let pairs = [
        ("GATEWAY_LISTEN", format!("127.0.0.1:{port}")),
        ("LOCALSTACK_HOST", format!("127.0.0.1:{port}")),
        ("SQS_ENDPOINT_STRATEGY", "path".to_owned()),
        ("SERVICES", services.join(",")),
        ("LAMBDA_RUNTIME_EXECUTOR", EXECUTOR_PLUGIN.to_owned()),
        ("PROVIDER_OVERRIDE_DYNAMODB", DYNAMODB_PROVIDER.to_owned()),
        ("LAMBDA_RETRY_BASE_DELAY", "1".to_owned()),
        ("DISABLE_EVENTS", "1".to_owned()),
        ("OVERRIDE_IN_DOCKER", "0".to_owned()),
        ("DOCKER_BRIDGE_IP", "127.0.0.1".to_owned()),
        ("DNS_ADDRESS", "0".to_owned()),
        ("SKIP_SSL_CERT_DOWNLOAD", "1".to_owned()),
        ("FILESYSTEM_ROOT", run_dir.join("fs").display().to_string()),
        ("TMPDIR", run_dir.join("tmp").display().to_string()),
        ("PYTHONUNBUFFERED", "1".to_owned()),
    ];
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// What `eventrail local up` leaves behind so that later commands find the instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UpState {
    pub pid: u32,
    pub endpoint: String,
    pub log: PathBuf,
    pub run_dir: PathBuf,
    /// The process's start time (`/proc/<pid>/stat` field 22, clock ticks after boot): with
    /// the pid, it names the process, since a pid is reused once its process is gone. Absent
    /// in records written before it was kept; `local down` then asks the endpoint instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ticks: Option<u64>,
}

/// Where `eventrail local up` records the instance it left running.
pub fn up_state_path(root: &Path) -> PathBuf {
    paths::cache_dir(root).join("localstack").join("up.json")
}

/// The instance recorded by `eventrail local up`, if its process still runs.
pub fn read_up_state(root: &Path) -> Option<UpState> {
    let text = fs::read_to_string(up_state_path(root)).ok()?;
    let state: UpState = serde_json::from_str(&text).ok()?;
    process_alive(state.pid).then_some(state)
}

/// The endpoint of an already running LocalStack named by the environment, if any.
pub fn endpoint_from_env() -> Option<(String, &'static str)> {
    ENDPOINT_VARIABLES.iter().find_map(|name| {
        std::env::var(name)
            .ok()
            .map(|v| v.trim().trim_end_matches('/').to_owned())
            .filter(|v| !v.is_empty())
            .map(|v| (v, *name))
    })
}

/// A LocalStack this process uses: either one it started (stopped on drop) or an external one.
#[derive(Debug)]
pub struct LocalStack {
    endpoint: String,
    managed: Option<Managed>,
}

#[derive(Debug)]
struct Managed {
    child: Child,
    log: PathBuf,
    run_dir: PathBuf,
    stop_grace: Duration,
    verbose: bool,
}

impl LocalStack {
    /// Use the LocalStack named by `EVENTRAIL_ENDPOINT`/`AWS_ENDPOINT_URL` or left running by
    /// `eventrail local up`; otherwise start one with `python` (the pinned venv's).
    pub fn connect_or_start(
        root: &Path,
        python: impl FnOnce() -> Result<PathBuf>,
        options: &LocalStackOptions,
    ) -> Result<Self> {
        if let Some((endpoint, variable)) = endpoint_from_env() {
            if options.verbose {
                tracing::info!("using the LocalStack at {endpoint} (from {variable})");
            }
            return Self::external(&endpoint, Duration::from_secs(10));
        }
        if let Some(state) = read_up_state(root) {
            if options.verbose {
                tracing::info!(
                    "using the LocalStack started by `eventrail local up` at {} (pid {})",
                    state.endpoint,
                    state.pid
                );
            }
            return Self::external(&state.endpoint, Duration::from_secs(10));
        }
        Self::start(root, &python()?, options)
    }

    /// Attach to a running LocalStack; fails if its health endpoint does not answer.
    pub fn external(endpoint: &str, wait: Duration) -> Result<Self> {
        let deadline = Instant::now() + wait;
        loop {
            match health(endpoint) {
                Ok(_) => break,
                Err(e) if Instant::now() >= deadline => {
                    return Err(Error::Config(format!(
                        "the LocalStack at {endpoint} does not answer {endpoint}/_localstack/health ({e}); \
                         start it or unset EVENTRAIL_ENDPOINT/AWS_ENDPOINT_URL to let eventrail start its own"
                    )));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
        Ok(Self {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            managed: None,
        })
    }

    /// Start LocalStack with the venv's `python` and wait until it is healthy.
    /// The init hooks in `infra/localstack-init/` (workarounds for LocalStack bugs) are
    /// installed into its filesystem root first.
    pub fn start(root: &Path, python: &Path, options: &LocalStackOptions) -> Result<Self> {
        let started = Instant::now();
        let port = match options.port {
            Some(port) => port,
            None => free_port()?,
        };
        let base = paths::cache_dir(root).join("localstack");
        let run_dir = base.join(format!("run-{port}-{}", std::process::id()));
        let logs = base.join("logs");
        for dir in [&run_dir.join("tmp"), &logs] {
            fs::create_dir_all(dir).io_context(|| format!("creating {}", dir.display()))?;
        }
        prune_logs(&logs, 20);
        install_init_hooks(root, &run_dir)?;
        let log = logs.join(format!("localstack-{}-{port}.log", unix_seconds()));
        let log_file = File::create(&log).io_context(|| format!("creating {}", log.display()))?;
        let log_err = log_file
            .try_clone()
            .io_context(|| format!("opening {}", log.display()))?;
        let endpoint = format!("http://127.0.0.1:{port}");
        if options.verbose {
            tracing::info!("starting LocalStack on {endpoint} (log: {})", log.display());
        }
        let mut command = Command::new(python);
        command
            .args(["-m", "localstack.runtime.main"])
            .current_dir(&run_dir)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .process_group(0);
        if options.stop_with_parent {
            stop_with_parent(&mut command);
        }
        for variable in ENDPOINT_VARIABLES {
            command.env_remove(variable);
        }
        command.envs(localstack_env(port, &options.services, &run_dir));
        command.envs(crate::iam::localstack_env(root));
        if crate::iam::Enforcement::from_env() == crate::iam::Enforcement::Off {
            tracing::warn!("{}", crate::iam::OFF_WARNING);
        }
        command.envs(options.env.iter().map(|(k, v)| (k, v)));
        let child = command.spawn().io_context(|| {
            format!(
                "starting {} -m localstack.runtime.main (is the LocalStack venv installed? `eventrail local install`)",
                python.display()
            )
        })?;
        let mut this = Self {
            endpoint,
            managed: Some(Managed {
                child,
                log: log.clone(),
                run_dir,
                stop_grace: options.stop_grace,
                verbose: options.verbose,
            }),
        };
        let deadline = started + options.startup_timeout;
        loop {
            if let Some(managed) = this.managed.as_mut()
                && let Ok(Some(status)) = managed.child.try_wait()
            {
                return Err(Error::LocalStack {
                    message: format!(
                        "exited during startup ({status}); last log lines:\n{}",
                        log_tail(&log, 30)
                    ),
                    log,
                });
            }
            if let Ok(status) = health(&this.endpoint)
                && services_ready(&status, &options.services)
            {
                match ready_hooks(&this.endpoint) {
                    Ok(InitHooks::Done) => break,
                    Ok(InitHooks::Failed(scripts)) => {
                        return Err(Error::LocalStack {
                            message: format!(
                                "its init hooks {} failed (eventrail's LocalStack patches); last log lines:\n{}",
                                scripts.join(", "),
                                log_tail(&log, 40)
                            ),
                            log,
                        });
                    }
                    Ok(InitHooks::Running) | Err(_) => {}
                }
            }
            if Instant::now() >= deadline {
                // `this` is dropped here, which stops the process.
                return Err(Error::LocalStack {
                    message: format!(
                        "not healthy after {} s; last log lines:\n{}",
                        options.startup_timeout.as_secs(),
                        log_tail(&log, 30)
                    ),
                    log,
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if options.verbose {
            tracing::info!(
                "LocalStack ready in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        Ok(this)
    }

    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// True when this guard started LocalStack (and will stop it).
    pub fn is_managed(&self) -> bool {
        self.managed.is_some()
    }

    /// Process id of the LocalStack this guard started.
    pub fn pid(&self) -> Option<u32> {
        self.managed.as_ref().map(|m| m.child.id())
    }

    /// LocalStack's log file (only for an instance this guard started).
    pub fn log_path(&self) -> Option<&Path> {
        self.managed.as_ref().map(|m| m.log.as_path())
    }

    /// Leave LocalStack running after this guard is gone; returns what `local down` needs.
    pub fn detach(mut self) -> Option<UpState> {
        let managed = self.managed.take()?;
        let pid = managed.child.id();
        Some(UpState {
            pid,
            endpoint: self.endpoint.clone(),
            log: managed.log,
            run_dir: managed.run_dir,
            start_ticks: process_start_ticks(pid),
        })
    }

    /// Leave LocalStack running and record it in [`up_state_path`] so that `local down`,
    /// `status` and later commands find it. `None` when this guard did not start it. If the
    /// record cannot be written, LocalStack is stopped rather than left untracked.
    pub fn keep_running(self, root: &Path) -> Result<Option<UpState>> {
        let Some(state) = self.detach() else {
            return Ok(None);
        };
        let path = up_state_path(root);
        let text = serde_json::to_string_pretty(&state).map_err(|e| Error::Config(e.to_string()));
        let written = text.and_then(|text| {
            fs::write(&path, text)
                .io_context(|| format!("recording the running LocalStack in {}", path.display()))
        });
        if let Err(error) = written {
            stop_detached(root, &state, STOP_GRACE)?;
            return Err(error);
        }
        Ok(Some(state))
    }

    /// Stop LocalStack if this guard started it; an external one is left alone.
    pub fn stop(mut self) -> Result<()> {
        match self.managed.take() {
            Some(managed) => managed.stop(),
            None => Ok(()),
        }
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        if let Some(managed) = self.managed.take()
            && let Err(e) = managed.stop()
        {
            tracing::warn!("stopping LocalStack: {e}");
        }
    }
}

impl Managed {
    fn stop(mut self) -> Result<()> {
        let pid = self.child.id();
        let started = Instant::now();
        stop_process_tree(pid, self.stop_grace, || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        // Reap it (it is dead by now, or SIGKILL is on its way).
        let _ = self.child.wait();
        if self.verbose {
            tracing::info!(
                "LocalStack stopped in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        remove_run_dir(&self.run_dir);
        Ok(())
    }
}

/// Stop the LocalStack recorded by `eventrail local up` (a process this one did not spawn),
/// after [`check_recorded_process`] confirmed the pid is still that LocalStack; otherwise
/// nothing is signalled and the error says why.
pub fn stop_detached(root: &Path, state: &UpState, grace: Duration) -> Result<()> {
    check_recorded_process(state, |endpoint| health(endpoint).is_ok())?;
    stop_process_tree(state.pid, grace, || !process_alive(state.pid));
    remove_run_dir(&state.run_dir);
    let path = up_state_path(root);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            context: format!("removing {}", path.display()),
            source,
        }),
    }
}

/// SIGTERM the process group led by `pid`, wait up to `grace` for `exited()`, then SIGKILL
/// the group; finally SIGKILL every descendant seen on the way that is still alive (function
/// processes run in their own sessions, outside the group).
fn stop_process_tree(pid: u32, grace: Duration, mut exited: impl FnMut() -> bool) {
    let mut family: BTreeSet<u32> = descendants(pid);
    signal_group(pid, libc::SIGTERM);
    let deadline = Instant::now() + grace;
    while !exited() && Instant::now() < deadline {
        family.extend(descendants(pid));
        std::thread::sleep(Duration::from_millis(50));
    }
    if !exited() {
        signal_group(pid, libc::SIGKILL);
    }
    for other in family {
        if process_alive(other) {
            signal_process(other, libc::SIGKILL);
        }
    }
}

fn remove_run_dir(run_dir: &Path) {
    if let Err(e) = fs::remove_dir_all(run_dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!("could not remove {}: {e}", run_dir.display());
    }
}

/// Makes the child receive SIGTERM when its parent thread exits (Linux only).
#[cfg(target_os = "linux")]
fn stop_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only calls prctl(2),
    // which is async-signal-safe; it touches no memory shared with the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn stop_with_parent(_command: &mut Command) {}

fn signal_group(pgid: u32, signal: libc::c_int) {
    if let Ok(pgid) = libc::pid_t::try_from(pgid) {
        // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}

fn signal_process(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) only sends a signal; no memory is involved.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

/// True while `pid` exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => parse_stat(&stat).is_some_and(|(state, _)| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

/// Checks that `state.pid` is still the LocalStack `local up` recorded before anything signals
/// it: its command line must be python running `-m localstack.runtime.main`, and the process
/// must be the one recorded: the same start time, or (for a record without one) the recorded
/// endpoint still answering (`answers`). A pid reused by another process fails the check.
pub fn check_recorded_process(state: &UpState, answers: impl FnOnce(&str) -> bool) -> Result<()> {
    let refuse = |reason: String| Error::NotOurLocalStack {
        pid: state.pid,
        endpoint: state.endpoint.clone(),
        reason,
    };
    let cmdline = fs::read(format!("/proc/{}/cmdline", state.pid)).map_err(|e| {
        refuse(format!(
            "its command line cannot be read ({e}); the process is gone or not ours"
        ))
    })?;
    if !is_localstack_cmdline(&cmdline) {
        return Err(refuse(format!(
            "it runs `{}`, not python -m localstack.runtime.main: the pid was reused",
            String::from_utf8_lossy(&cmdline).replace('\0', " ").trim()
        )));
    }
    match state.start_ticks {
        Some(recorded) => match process_start_ticks(state.pid) {
            Some(now) if now == recorded => Ok(()),
            Some(now) => Err(refuse(format!(
                "it started at tick {now}, not at tick {recorded} as recorded: another \
                 LocalStack reuses the pid"
            ))),
            None => Err(refuse("its start time cannot be read".to_owned())),
        },
        None if answers(&state.endpoint) => Ok(()),
        None => Err(refuse(format!(
            "the record has no start time and {} does not answer, so it cannot be told from \
             another LocalStack",
            state.endpoint
        ))),
    }
}

/// True for the command line (`/proc/<pid>/cmdline`, NUL-separated) of
/// `python… -m localstack.runtime.main`.
pub fn is_localstack_cmdline(cmdline: &[u8]) -> bool {
    let mut args = cmdline
        .split(|b| *b == 0)
        .map(|arg| std::str::from_utf8(arg).unwrap_or(""));
    let program = args.next().unwrap_or("");
    let name = program.rsplit('/').next().unwrap_or(program);
    name.starts_with("python")
        && args.next() == Some("-m")
        && args.next() == Some("localstack.runtime.main")
}

/// The start time of `pid` (`/proc/<pid>/stat` field 22, clock ticks after boot).
pub fn process_start_ticks(pid: u32) -> Option<u64> {
    parse_start_ticks(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn parse_start_ticks(stat: &str) -> Option<u64> {
    // After the parenthesised name: field 3 (state) is the first, so field 22 the 20th.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// (state, parent pid) from the text of /proc/PID/stat.
fn parse_stat(stat: &str) -> Option<(char, u32)> {
    // The command name (2nd field) is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// All living descendants of `pid` (children, their children, ...), from /proc.
pub fn descendants(pid: u32) -> BTreeSet<u32> {
    let mut parent_of = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Ok(stat) = fs::read_to_string(entry.path().join("stat"))
                && let Some((state, ppid)) = parse_stat(&stat)
                && state != 'Z'
            {
                parent_of.push((child, ppid));
            }
        }
    }
    let mut found = BTreeSet::new();
    let mut todo = vec![pid];
    while let Some(parent) = todo.pop() {
        for &(child, ppid) in &parent_of {
            if ppid == parent && found.insert(child) {
                todo.push(child);
            }
        }
    }
    found
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .io_context(|| "finding a free port on 127.0.0.1".into())?;
    let port = listener
        .local_addr()
        .io_context(|| "finding a free port on 127.0.0.1".into())?
        .port();
    Ok(port)
}

/// GET `<endpoint>/_localstack/health` and return the parsed body (through `ureq`, plain
/// HTTP only: LocalStack listens on loopback).
pub fn health(endpoint: &str) -> Result<serde_json::Value> {
    get_json(endpoint, "/_localstack/health")
}

/// GET `<endpoint><path>` and parse the body as JSON.
fn get_json(endpoint: &str, path: &str) -> Result<serde_json::Value> {
    let base = endpoint.trim_end_matches('/');
    if !base.starts_with("http://") {
        return Err(Error::Config(format!(
            "LocalStack endpoint {endpoint:?} must start with http:// (e.g. http://127.0.0.1:4566)"
        )));
    }
    let url = format!("{base}{path}");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(2)))
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .into();
    let fail = |message: String| Error::Config(format!("GET {url}: {message}"));
    let mut response = agent
        .get(&url)
        .header("Accept", "application/json")
        .call()
        .map_err(|e| fail(e.to_string()))?;
    let status = response.status();
    if status != 200 {
        return Err(fail(format!("HTTP status {status}")));
    }
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|e| fail(e.to_string()))?;
    serde_json::from_str(&body).map_err(|e| fail(format!("body is not JSON: {e}")))
}

/// How many asynchronous invocations LocalStack still holds (queued, running, or delayed for
/// a retry) for the functions whose names start with `prefix`, from eventrail's
/// `/_eventrail/lambda/pending` hook: 0 means nothing more can run.
pub fn pending_invocations(endpoint: &str, prefix: &str) -> Result<u64> {
    let encoded: String = prefix
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let body = get_json(
        endpoint,
        &format!("/_eventrail/lambda/pending?prefix={encoded}"),
    )?;
    body["pending"].as_u64().ok_or_else(|| {
        Error::Config(format!(
            "{endpoint}/_eventrail/lambda/pending answered no count: {body}"
        ))
    })
}

/// Where LocalStack's ready-stage init hooks stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitHooks {
    /// Some have not run yet.
    Running,
    /// All ran without error.
    Done,
    /// These failed (names of the scripts).
    Failed(Vec<String>),
}

/// The state of the ready-stage init hooks, from `GET /_localstack/init/ready`. The IAM and
/// replay hooks run after LocalStack reports healthy: nothing may use it before they ran.
pub fn ready_hooks(endpoint: &str) -> Result<InitHooks> {
    Ok(parse_ready_hooks(&get_json(
        endpoint,
        "/_localstack/init/ready",
    )?))
}

fn parse_ready_hooks(body: &serde_json::Value) -> InitHooks {
    let failed: Vec<String> = body["scripts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|script| script["state"].as_str() == Some("ERROR"))
        .map(|script| script["name"].as_str().unwrap_or("?").to_owned())
        .collect();
    if !failed.is_empty() {
        return InitHooks::Failed(failed);
    }
    if body["completed"].as_bool() == Some(true) {
        InitHooks::Done
    } else {
        InitHooks::Running
    }
}

/// True when every wanted service is "available" or "running" in a health body.
pub fn services_ready(health: &serde_json::Value, wanted: &[String]) -> bool {
    let Some(services) = health.get("services") else {
        return false;
    };
    wanted.iter().all(|name| {
        matches!(
            services.get(name).and_then(|s| s.as_str()),
            Some("available" | "running")
        )
    })
}

fn log_tail(log: &Path, lines: usize) -> String {
    fs::read_to_string(log)
        .map(|text| crate::tools::tail(&text, lines))
        .unwrap_or_else(|e| format!("(cannot read {}: {e})", log.display()))
}

fn prune_logs(dir: &Path, keep: usize) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut logs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    logs.sort();
    let excess = logs.len().saturating_sub(keep);
    for old in logs.into_iter().take(excess) {
        let _ = fs::remove_file(old);
    }
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Where the harness keeps LocalStack init hooks, relative to the repository root
/// (`ready.d/*.py` run in LocalStack's process once it is ready).
pub const INIT_HOOKS_DIR: &str = "infra/localstack-init";

/// Copies `<root>/infra/localstack-init/<stage>.d/*` to `<run_dir>/fs/etc/localstack/init/<stage>.d/`,
/// where host-mode LocalStack looks for init scripts (`FILESYSTEM_ROOT` is `<run_dir>/fs`).
pub fn install_init_hooks(root: &Path, run_dir: &Path) -> Result<()> {
    let source = root.join(INIT_HOOKS_DIR);
    let Ok(stages) = fs::read_dir(&source) else {
        return Ok(());
    };
    for stage in stages.flatten() {
        let stage_dir = stage.path();
        if !stage_dir.is_dir() {
            continue;
        }
        let target = run_dir
            .join("fs/etc/localstack/init")
            .join(stage.file_name());
        fs::create_dir_all(&target).io_context(|| format!("creating {}", target.display()))?;
        let scripts =
            fs::read_dir(&stage_dir).io_context(|| format!("reading {}", stage_dir.display()))?;
        for script in scripts.flatten() {
            let from = script.path();
            if from.is_file() {
                let to = target.join(script.file_name());
                fs::copy(&from, &to).io_context(|| {
                    format!("copying init hook {} to {}", from.display(), to.display())
                })?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parsing_handles_spaces_in_names() {
        assert_eq!(
            parse_stat("123 (python3 -m x) S 45 123 123 0"),
            Some(('S', 45))
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn our_own_process_is_alive_and_has_no_children_listed_wrongly() {
        let me = std::process::id();
        assert!(process_alive(me));
        assert!(!descendants(me).contains(&me));
    }

    #[test]
    fn descendants_include_grandchildren() {
        let mut child = Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut found = BTreeSet::new();
        while Instant::now() < deadline && found.len() < 2 {
            found = descendants(std::process::id());
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(found.contains(&child.id()));
        assert!(found.len() >= 2, "sleep grandchild not found: {found:?}");
        let grandchildren = descendants(child.id());
        signal_process(child.id(), libc::SIGKILL);
        for pid in grandchildren {
            signal_process(pid, libc::SIGKILL);
        }
        child.wait().unwrap();
    }

    #[test]
    fn environment_pins_the_executor_and_loopback() {
        let env = localstack_env(4599, &["lambda".into(), "sqs".into()], Path::new("/r"));
        let get = |k: &str| {
            env.iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("GATEWAY_LISTEN"), Some("127.0.0.1:4599"));
        assert_eq!(get("SERVICES"), Some("lambda,sqs"));
        assert_eq!(get("LAMBDA_RUNTIME_EXECUTOR"), Some("eventrail"));
        assert_eq!(get("PROVIDER_OVERRIDE_DYNAMODB"), Some("eventrail"));
        assert_eq!(get("LAMBDA_RETRY_BASE_DELAY"), Some("1"));
        assert_eq!(get("DISABLE_EVENTS"), Some("1"));
        assert_eq!(get("OVERRIDE_IN_DOCKER"), Some("0"));
        assert_eq!(get("FILESYSTEM_ROOT"), Some("/r/fs"));
    }

    /// Serves one HTTP response on a free loopback port, once.
    fn serve_once(response: &'static [u8]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let mut request = [0u8; 1024];
                let _ = std::io::Read::read(&mut stream, &mut request);
                let _ = std::io::Write::write_all(&mut stream, response);
            }
        });
        format!("http://127.0.0.1:{port}")
    }

    #[test]
    fn ready_hooks_are_done_failed_or_still_running() {
        let done = serde_json::json!({"completed": true, "scripts": [
            {"stage": "READY", "name": "eventrail_iam.py", "state": "SUCCESSFUL"}]});
        assert_eq!(parse_ready_hooks(&done), InitHooks::Done);
        let running = serde_json::json!({"completed": false, "scripts": [
            {"stage": "READY", "name": "eventrail_iam.py", "state": "RUNNING"}]});
        assert_eq!(parse_ready_hooks(&running), InitHooks::Running);
        let failed = serde_json::json!({"completed": true, "scripts": [
            {"stage": "READY", "name": "eventrail_iam.py", "state": "ERROR"},
            {"stage": "READY", "name": "eventrail_replay_fix.py", "state": "SUCCESSFUL"}]});
        assert_eq!(
            parse_ready_hooks(&failed),
            InitHooks::Failed(vec!["eventrail_iam.py".to_owned()])
        );
    }

    #[test]
    fn health_responses_plain_and_chunked() {
        let plain = serve_once(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 30\r\nConnection: close\r\n\r\n{\"services\":{\"sqs\":\"running\"}}");
        let value = health(&plain).unwrap();
        assert!(services_ready(&value, &["sqs".into()]));
        assert!(!services_ready(&value, &["lambda".into()]));

        let chunked = serve_once(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n8\r\n{\"servic\r\n16\r\nes\":{\"sqs\":\"disabled\"}\r\n1\r\n}\r\n0\r\n\r\n");
        let value = health(&chunked).unwrap();
        assert_eq!(value["services"]["sqs"], "disabled");
        assert!(!services_ready(&value, &["sqs".into()]));

        let unavailable = serve_once(
            b"HTTP/1.1 503 Unavailable\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        );
        let error = health(&unavailable).unwrap_err().to_string();
        assert!(error.contains("503"), "{error}");
    }

    #[test]
    fn endpoints_must_be_http() {
        let error = health("https://example").unwrap_err().to_string();
        assert!(error.contains("http://"), "{error}");
    }

    #[test]
    fn nothing_listens_means_unhealthy() {
        let port = free_port().unwrap();
        assert!(health(&format!("http://127.0.0.1:{port}")).is_err());
    }

    #[test]
    fn init_hooks_are_copied_into_the_filesystem_root() {
        let base = std::env::temp_dir().join(format!("eventrail-hooks-{}", std::process::id()));
        let root = base.join("repo");
        let run_dir = base.join("run");
        let ready = root.join(INIT_HOOKS_DIR).join("ready.d");
        std::fs::create_dir_all(&ready).unwrap();
        std::fs::write(ready.join("fix.py"), "print('hi')\n").unwrap();
        install_init_hooks(&root, &run_dir).unwrap();
        let copied = run_dir.join("fs/etc/localstack/init/ready.d/fix.py");
        assert_eq!(std::fs::read_to_string(copied).unwrap(), "print('hi')\n");
        // A repository without hooks is fine.
        install_init_hooks(&base.join("empty"), &run_dir).unwrap();
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn the_start_time_is_field_22_of_stat() {
        let stat = "4242 (python3 -m x) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 \
                    12 0 987654 1234567 890 18446744073709551615";
        assert_eq!(parse_start_ticks(stat), Some(987_654));
        assert_eq!(parse_start_ticks("4242 (x) S 1"), None);
        assert!(process_start_ticks(std::process::id()).is_some());
    }

    #[test]
    fn only_python_running_localstack_is_taken_for_localstack() {
        let ours = b"/repo/.eventrail/localstack/venv/bin/python3\0-m\0localstack.runtime.main\0";
        assert!(is_localstack_cmdline(ours));
        assert!(is_localstack_cmdline(
            b"python\0-m\0localstack.runtime.main"
        ));
        for other in [
            &b"/usr/bin/sleep\x0030\0"[..],
            b"python3\0-m\0http.server\0",
            b"/usr/bin/bash\0-m\0localstack.runtime.main\0",
            b"python3\0localstack.runtime.main\0",
            b"",
        ] {
            assert!(!is_localstack_cmdline(other), "{other:?}");
        }
    }

    /// A process in a group of its own (as LocalStack runs), killed by its handle at the end.
    struct Spawned(std::process::Child);

    impl Spawned {
        fn new(command: &mut Command) -> Self {
            Self(command.process_group(0).spawn().unwrap())
        }

        fn running(&mut self) -> bool {
            matches!(self.0.try_wait(), Ok(None))
        }

        fn state(&self, start_ticks: Option<u64>) -> UpState {
            UpState {
                pid: self.0.id(),
                endpoint: format!("http://127.0.0.1:{}", free_port().unwrap()),
                log: PathBuf::from("/nonexistent/log"),
                run_dir: PathBuf::from("/nonexistent/run"),
                start_ticks,
            }
        }
    }

    impl Drop for Spawned {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn scratch_root(name: &str) -> PathBuf {
        let root =
            std::env::temp_dir().join(format!("eventrail-down-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        root
    }

    #[test]
    fn down_refuses_a_pid_that_is_not_its_localstack_any_more() {
        // The recorded pid now belongs to some other program.
        let mut other = Spawned::new(Command::new("sleep").arg("30"));
        let state = other.state(process_start_ticks(other.0.id()));
        let root = scratch_root("other");
        let error = stop_detached(&root, &state, Duration::from_millis(200))
            .unwrap_err()
            .to_string();
        assert!(error.contains(&format!("pid {}", state.pid)), "{error}");
        assert!(
            error.contains("not python -m localstack.runtime.main"),
            "{error}"
        );
        assert!(other.running(), "the other program was signalled");
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// A stand-in LocalStack: `python3 -m localstack.runtime.main` from a scratch package
    /// that sleeps.
    fn fake_localstack(name: &str) -> (Spawned, PathBuf) {
        let root = scratch_root(name);
        let package = root.join("localstack/runtime");
        std::fs::create_dir_all(&package).unwrap();
        for init in ["localstack/__init__.py", "localstack/runtime/__init__.py"] {
            std::fs::write(root.join(init), "").unwrap();
        }
        std::fs::write(package.join("main.py"), "import time\ntime.sleep(30)\n").unwrap();
        let spawned = Spawned::new(
            Command::new("python3")
                .args(["-m", "localstack.runtime.main"])
                .current_dir(&root),
        );
        // Until python has exec'd, the command line is still this test's.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !fs::read(format!("/proc/{}/cmdline", spawned.0.id()))
            .is_ok_and(|c| is_localstack_cmdline(&c))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        (spawned, root)
    }

    #[test]
    fn down_refuses_a_localstack_started_at_another_time_and_stops_its_own() {
        let (mut localstack, root) = fake_localstack("own");
        let ticks = process_start_ticks(localstack.0.id()).unwrap();
        // Another LocalStack under the recorded pid: the start time differs.
        let error = check_recorded_process(&localstack.state(Some(ticks + 1)), |_| true)
            .unwrap_err()
            .to_string();
        assert!(error.contains("not at tick"), "{error}");
        // A record without a start time: only when the endpoint answers.
        let error = check_recorded_process(&localstack.state(None), |_| false)
            .unwrap_err()
            .to_string();
        assert!(error.contains("does not answer"), "{error}");
        assert!(check_recorded_process(&localstack.state(None), |_| true).is_ok());
        assert!(localstack.running());
        // Its own: stopped, and the record removed.
        let state = localstack.state(Some(ticks));
        let path = up_state_path(&root);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_string(&state).unwrap()).unwrap();
        stop_detached(&root, &state, Duration::from_secs(5)).unwrap();
        assert!(
            matches!(localstack.0.wait(), Ok(status) if !status.success()),
            "stopped by a signal"
        );
        assert!(!path.exists());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
