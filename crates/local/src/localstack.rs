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
//!
//! The supervisor's helpers each have a module of their own: [`crate::gateway`] asks
//! LocalStack's HTTP gateway (health, init hooks, pending invocations), [`crate::process`]
//! reads and signals its process tree.

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::gateway::{InitHooks, ready_hooks, services_ready};
use crate::process::{
    is_localstack_cmdline, process_start_ticks, stop_process_tree, stop_with_parent,
};
use crate::progress::Progress;
use crate::{iam, paths, tools};

// What callers of the supervisor ask of a LocalStack and its processes, from the modules that
// answer it.
pub use crate::gateway::{free_port, health, pending_invocations};
pub use crate::process::{descendants, process_alive};

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
    // EventBridge Scheduler schedules (the executor plugin fires them: eventrail_scheduler.py).
    "scheduler",
    // The REST API (API Gateway v1) of the `http` functions.
    "apigateway",
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

/// What becomes of a LocalStack this process starts when the process dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnStarterExit {
    /// It outlives its starter (`local up`, `--keep`).
    #[default]
    KeepRunning,
    /// The kernel SIGTERMs it when the thread that started it ends, even by SIGKILL (Linux
    /// `PR_SET_PDEATHSIG`), so a killed test run leaves no LocalStack behind.
    Stop,
}

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
    /// Whether starting and stopping are reported.
    pub progress: Progress,
    /// What becomes of LocalStack when the process that started it dies.
    pub on_starter_exit: OnStarterExit,
}

impl Default for LocalStackOptions {
    fn default() -> Self {
        Self {
            services: DEFAULT_SERVICES.iter().map(|s| (*s).to_owned()).collect(),
            env: Vec::new(),
            startup_timeout: Duration::from_secs(90),
            stop_grace: STOP_GRACE,
            port: None,
            progress: Progress::Shown,
            on_starter_exit: OnStarterExit::KeepRunning,
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
    progress: Progress,
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
            options
                .progress
                .report(|| format!("using the LocalStack at {endpoint} (from {variable})"));
            return Self::external(&endpoint, Duration::from_secs(10));
        }
        if let Some(state) = read_up_state(root) {
            options.progress.report(|| {
                format!(
                    "using the LocalStack started by `eventrail local up` at {} (pid {})",
                    state.endpoint, state.pid
                )
            });
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
                Err(source) if Instant::now() >= deadline => {
                    return Err(Error::Unreachable {
                        endpoint: endpoint.to_owned(),
                        source: Box::new(source),
                    });
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
        options
            .progress
            .report(|| format!("starting LocalStack on {endpoint} (log: {})", log.display()));
        let mut command = Command::new(python);
        command
            .args(["-m", "localstack.runtime.main"])
            .current_dir(&run_dir)
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .process_group(0);
        if options.on_starter_exit == OnStarterExit::Stop {
            stop_with_parent(&mut command);
        }
        for variable in ENDPOINT_VARIABLES {
            command.env_remove(variable);
        }
        command.envs(localstack_env(port, &options.services, &run_dir));
        command.envs(iam::localstack_env(root));
        if iam::Enforcement::from_env() == iam::Enforcement::Off {
            tracing::warn!("{}", iam::OFF_WARNING);
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
                progress: options.progress,
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
        options.progress.report(|| {
            format!(
                "LocalStack ready in {:.1} s",
                started.elapsed().as_secs_f64()
            )
        });
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
        let text = serde_json::to_string_pretty(&state).map_err(|source| Error::Json {
            what: "recording the running LocalStack".to_owned(),
            source,
        });
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
        self.progress.report(|| {
            format!(
                "LocalStack stopped in {:.1} s",
                started.elapsed().as_secs_f64()
            )
        });
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

fn remove_run_dir(run_dir: &Path) {
    if let Err(e) = fs::remove_dir_all(run_dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!("could not remove {}: {e}", run_dir.display());
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
        source: None,
    };
    let cmdline = fs::read(format!("/proc/{}/cmdline", state.pid)).map_err(|source| {
        Error::NotOurLocalStack {
            pid: state.pid,
            endpoint: state.endpoint.clone(),
            reason: "its command line cannot be read; the process is gone or not ours".to_owned(),
            source: Some(source),
        }
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

fn log_tail(log: &Path, lines: usize) -> String {
    fs::read_to_string(log)
        .map(|text| tools::tail(&text, lines))
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
