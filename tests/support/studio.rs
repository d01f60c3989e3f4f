//! `eventrail studio` as the user runs it: the real binary against the deployed stack, its
//! URL read from the one line it prints on stdout, stopped with SIGTERM, its tap (a rule and
//! a queue on the bus) checked gone afterwards.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use eventrail_observe::Stack;

use crate::FLOW_DEADLINE;

/// A running studio.
pub struct Studio {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub origin: String,
    /// The run's token.
    pub token: String,
    /// The name of its tap's rule and queue.
    pub tap: String,
    stderr: mpsc::Receiver<String>,
}

/// What the studio's stdout line says: (origin, token).
pub fn parse_url_line(line: &str) -> Option<(String, String)> {
    let url = line.strip_prefix("studio: ")?;
    let (origin, query) = url.split_once("/?token=")?;
    let origin_ok = origin.starts_with("http://127.0.0.1:");
    let token_ok = query.len() == 64 && query.bytes().all(|b| b.is_ascii_hexdigit());
    (origin_ok && token_ok).then(|| (origin.to_owned(), query.to_owned()))
}

impl Studio {
    /// Starts `eventrail studio --env local <args> --stack <the deployed stack>` and waits
    /// for its URL.
    pub fn start(stack: &Stack, args: &[&str]) -> Self {
        let mut child =
            crate::eventrail_command_on(stack, &[&["studio", "--env", "local"], args].concat())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("starting eventrail studio: {e}"));
        let (out_tx, stdout) = mpsc::channel();
        let out = child.stdout.take().expect("stdout is piped");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = out_tx.send(line);
            }
        });
        let (err_tx, stderr) = mpsc::channel();
        let err = child.stderr.take().expect("stderr is piped");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                eprintln!("[studio] {line}");
                let _ = err_tx.send(line);
            }
        });
        let line = stdout.recv_timeout(FLOW_DEADLINE).unwrap_or_else(|_| {
            let _ = child.kill();
            let said: Vec<String> = stderr.try_iter().collect();
            panic!("eventrail studio printed no URL: {said:#?}")
        });
        let (origin, token) =
            parse_url_line(&line).unwrap_or_else(|| panic!("not the studio's URL line: {line:?}"));
        // Its tap was named on stderr before the URL (read by another thread: wait for it).
        let mut said = Vec::new();
        let tap = loop {
            let line = stderr
                .recv_timeout(FLOW_DEADLINE)
                .unwrap_or_else(|_| panic!("the studio did not name its tap: {said:#?}"));
            if let Some(rest) = line.strip_prefix("studio: rule and queue ") {
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
            }
            said.push(line);
        };
        Self {
            child,
            origin,
            token,
            tap,
            stderr,
        }
    }

    /// The studio's process id (for its memory, in /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The studio's first URL (the one it printed): the token in the query.
    pub fn url(&self) -> String {
        self.at("/")
    }

    /// `path` (with its own query, if any) on the studio, with the token.
    pub fn at(&self, path: &str) -> String {
        let separator = if path.contains('?') { '&' } else { '?' };
        format!("{}{path}{separator}token={}", self.origin, self.token)
    }

    /// Stops the studio with SIGTERM, as Ctrl-C would; returns how it exited and what it said
    /// on stderr since it started serving.
    pub fn stop(mut self) -> (ExitStatus, Vec<String>) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("running kill: {e}"));
        assert!(status.success(), "kill -TERM the studio: {status}");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
                break status;
            }
            if started.elapsed() > FLOW_DEADLINE {
                let _ = self.child.kill();
                panic!(
                    "the studio did not exit within {} s of SIGTERM",
                    FLOW_DEADLINE.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        // The stderr reader ends with the process.
        let said = self.stderr.iter().collect();
        (status, said)
    }
}

impl Drop for Studio {
    /// A failed test: do not leave the studio running.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Whether the tap named `name` still has its rule on the stack's bus and its queue.
pub async fn tap_parts_exist(stack: &Stack, name: &str) -> (bool, bool) {
    let bus = stack
        .outputs
        .bus_name()
        .unwrap_or_else(|e| panic!("the stack's bus: {e}"));
    let rules = stack
        .clients
        .events
        .list_rules()
        .event_bus_name(bus)
        .name_prefix(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("listing the bus's rules: {e}"));
    let queue = stack
        .clients
        .sqs
        .get_queue_url()
        .queue_name(name)
        .send()
        .await;
    (!rules.rules().is_empty(), queue.is_ok())
}

/// Stops `studio` and checks it exited cleanly and removed its tap.
pub async fn stop_and_check_the_tap_is_gone(stack: &Stack, studio: Studio) {
    let tap = studio.tap.clone();
    assert_eq!(
        tap_parts_exist(stack, &tap).await,
        (true, true),
        "the studio's tap {tap} while it runs"
    );
    let (status, said) = studio.stop();
    assert!(
        status.success(),
        "the studio exited with {status}: {said:#?}"
    );
    assert!(
        said.iter()
            .any(|l| l == &format!("studio: removed rule and queue {tap}")),
        "{said:#?}"
    );
    assert_eq!(
        tap_parts_exist(stack, &tap).await,
        (false, false),
        "the studio's tap {tap} after it stopped"
    );
}
