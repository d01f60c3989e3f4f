//! The checks of `cargo xtask test` besides the tests: commands that run in the background
//! with their output kept for a failure, and builds that fail on a compiler or clippy warning.

use std::{path::PathBuf, process::Command, time::Instant};

use anyhow::{Context, Result, bail};

/// A check that runs as a child process while other steps go on (the tests mostly wait on
/// LocalStack, and a build leaves a core idle at times), its output kept in a log file and
/// shown only if it fails. A failure counts like a failing test.
pub struct Background {
    name: &'static str,
    hint: &'static str,
    /// `None` once waited for.
    child: Option<std::process::Child>,
    log: PathBuf,
    started: Instant,
}

impl Background {
    /// Starts `command`; `hint` says what to do when it fails.
    pub fn start(
        name: &'static str,
        hint: &'static str,
        command: &mut Command,
        log: PathBuf,
    ) -> Result<Self> {
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let errors = file.try_clone().context("opening a log file twice")?;
        eprintln!(
            "\n==> {name} (in the background; output in {})",
            log.display()
        );
        let child = command
            .stdout(file)
            .stderr(errors)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Self {
            name,
            hint,
            child: Some(child),
            log,
            started: Instant::now(),
        })
    }

    /// Waits for the check; on failure prints its output and says what to do.
    fn finish(mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let status = child
            .wait()
            .with_context(|| format!("waiting for {}", self.name))?;
        if status.success() {
            eprintln!(
                "<== {} passed ({:.1}s, alongside other steps)",
                self.name,
                self.started.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        let output = std::fs::read_to_string(&self.log).unwrap_or_default();
        eprintln!("\n--- {} ---\n{output}", self.name);
        bail!(
            "{} failed ({status}): {} (output above and in {})",
            self.name,
            self.hint,
            self.log.display()
        )
    }
}

impl Drop for Background {
    /// A step failed before this check was waited for: stop it rather than leave it running.
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits for every check in `checks`, then fails with the first failure, if any.
pub fn finish_all(checks: Vec<Background>) -> Result<()> {
    let mut first_error = None;
    for check in checks {
        if let Err(error) = check.finish() {
            eprintln!("xtask: {error:#}");
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Runs a cargo build with its diagnostics as JSON, shows each one as cargo would, and fails
/// on a warning as `-D warnings` would (dependencies' lints are capped by cargo, so every
/// warning is the workspace's own). Cached warnings of fresh crates are replayed, so a rerun
/// fails too until they are fixed.
pub fn build_denying_warnings(command: &mut Command) -> Result<()> {
    use std::io::{BufRead, IsTerminal};
    let format = if std::io::stderr().is_terminal() {
        "--message-format=json-diagnostic-rendered-ansi"
    } else {
        "--message-format=json"
    };
    command.arg(format).stdout(std::process::Stdio::piped());
    let shown = format!("{command:?}");
    let mut child = command
        .spawn()
        .with_context(|| format!("could not start {shown}"))?;
    let mut warnings = 0usize;
    if let Some(stdout) = child.stdout.take() {
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.with_context(|| format!("reading the output of {shown}"))?;
            let Some(diagnostic) = compiler_diagnostic(&line) else {
                continue;
            };
            eprint!("{}", diagnostic.rendered);
            warnings += usize::from(diagnostic.counts_as_warning());
        }
    }
    let status = child
        .wait()
        .with_context(|| format!("waiting for {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status}); its errors are above");
    }
    if warnings > 0 {
        bail!(
            "{warnings} warning(s) from the compiler or clippy, above: fix them (the test command \
             denies warnings, as `cargo clippy --all-targets -- -D warnings` does)"
        );
    }
    Ok(())
}

/// One diagnostic of a `compiler-message` line of cargo's JSON output.
#[derive(Debug, PartialEq)]
struct Diagnostic {
    level: String,
    message: String,
    rendered: String,
}

impl Diagnostic {
    /// A warning, not rustc's closing "N warnings emitted" count.
    fn counts_as_warning(&self) -> bool {
        self.level == "warning"
            && !(self.message.ends_with(" warnings emitted")
                || self.message.ends_with(" warning emitted"))
    }
}

/// The diagnostic on a line of cargo's JSON messages, if the line is one.
fn compiler_diagnostic(line: &str) -> Option<Diagnostic> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    if value.get("reason")?.as_str()? != "compiler-message" {
        return None;
    }
    let message = value.get("message")?;
    let text = |field: &str| {
        message
            .get(field)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Some(Diagnostic {
        level: text("level"),
        message: text("message"),
        rendered: text("rendered"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clippy_warning_counts_and_the_closing_tally_does_not() {
        let lint = r#"{"reason":"compiler-message","package_id":"path+file:///r/cl#0.1.0","message":{"level":"warning","message":"useless use of `vec!`","code":{"code":"clippy::useless_vec"},"spans":[],"rendered":"warning: useless use of `vec!`\n"}}"#;
        let tally = r#"{"reason":"compiler-message","message":{"level":"warning","message":"2 warnings emitted","spans":[],"rendered":"warning: 2 warnings emitted\n"}}"#;
        let artifact = r#"{"reason":"compiler-artifact","package_id":"x","filenames":[]}"#;
        let found = compiler_diagnostic(lint).expect("a diagnostic");
        assert!(found.counts_as_warning());
        assert_eq!(found.rendered, "warning: useless use of `vec!`\n");
        assert!(
            !compiler_diagnostic(tally)
                .expect("a diagnostic")
                .counts_as_warning()
        );
        assert_eq!(compiler_diagnostic(artifact), None);
        assert_eq!(compiler_diagnostic("   Compiling cl v0.1.0"), None);
    }

    #[test]
    fn an_error_is_shown_but_is_not_a_warning() {
        let error = r#"{"reason":"compiler-message","message":{"level":"error","message":"mismatched types","rendered":"error[E0308]: mismatched types\n"}}"#;
        let found = compiler_diagnostic(error).expect("a diagnostic");
        assert_eq!(found.level, "error");
        assert!(!found.counts_as_warning());
    }
}
