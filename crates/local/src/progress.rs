//! How a binary shows the library's progress. The library reports through `tracing` events
//! (target `eventrail_local::*`): building, uploading, stack events, LocalStack start and stop.
//! A binary that wants them on the terminal calls [`init`]; one that wants something else
//! (progress bars, JSON) installs its own subscriber instead. [`Progress`] is how a caller
//! says whether a long step (a build, a deploy, a LocalStack start) reports at all, and
//! [`Meter`] shows a counted step (`stack 87/112`): a bar on a terminal, a few plain lines
//! anywhere else.

use std::fmt;
use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, format::Writer};
use tracing_subscriber::registry::LookupSpan;

/// Whether a long step reports its progress (what it builds, uploads and deploys, stack events,
/// LocalStack starting and stopping) as `tracing` events. Warnings and errors are reported
/// either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Progress {
    /// Report each step as it happens, counting what a step does (`stack 87/112`).
    #[default]
    Shown,
    /// Report each step and everything it does: every upload, every stack event.
    Verbose,
    /// Report nothing but warnings and the result.
    Quiet,
}

impl Progress {
    /// True when progress is reported.
    pub fn is_shown(self) -> bool {
        self != Self::Quiet
    }

    /// True when every upload and stack event is reported.
    pub fn is_verbose(self) -> bool {
        self == Self::Verbose
    }

    /// Reports `message` (an info event) when progress is shown.
    pub fn report(self, message: impl FnOnce() -> String) {
        if self.is_shown() {
            tracing::info!("{}", message());
        }
    }
}

/// Where progress goes: a terminal gets a bar per step, drawn over itself; anything else (CI,
/// a pipe, a file) gets plain lines without control codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Terminal,
    Plain,
}

impl Output {
    /// A terminal when stderr (where progress goes) is one and `TERM` is not `dumb`.
    pub fn of_stderr() -> Self {
        let dumb = std::env::var("TERM").is_ok_and(|term| term == "dumb");
        if std::io::stderr().is_terminal() && !dumb {
            Self::Terminal
        } else {
            Self::Plain
        }
    }
}

/// The quarters of a step at which plain output reports its count.
const MILESTONES: u64 = 4;

/// A counted step (`upload`, `stack`): a bar on a terminal, the count at each quarter as a
/// plain line anywhere else, and one line when it ends. Verbose progress shows no bar: the
/// step's own lines ([`Meter::line`]) are printed instead.
pub struct Meter {
    step: &'static str,
    progress: Progress,
    bar: Option<ProgressBar>,
    /// The count last reported as a plain line.
    reported: u64,
    started: Instant,
}

impl Meter {
    /// Starts showing `step` to `output`.
    pub fn start(step: &'static str, progress: Progress, output: Output) -> Self {
        let bar = (progress == Progress::Shown && output == Output::Terminal).then(|| {
            // A spinner until the count is known, then a bar.
            let style = ProgressStyle::with_template("{spinner} {prefix} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                .with_style(style)
                .with_prefix(step);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Self {
            step,
            progress,
            bar,
            reported: 0,
            started: Instant::now(),
        }
    }

    /// `done` of `total` are done.
    pub fn update(&mut self, done: usize, total: usize) {
        let (done, total) = (done as u64, total as u64);
        if let Some(bar) = &self.bar {
            if total > 0 && bar.length().is_none() {
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {prefix} {pos}/{len} [{bar:30}] {elapsed}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
            }
            if total > 0 {
                bar.set_length(total);
            }
            bar.set_position(done);
        } else if self.progress == Progress::Shown
            && let Some(line) = self.milestone(done, total)
        {
            tracing::info!("{line}");
        }
    }

    /// The plain line for `done` of `total`, when a quarter of `total` more is done since the
    /// last one (the total may grow: the resources as they appear, then the template's count;
    /// the end is [`Meter::finish`]'s).
    fn milestone(&mut self, done: u64, total: u64) -> Option<String> {
        if total == 0 || done >= total || done.saturating_sub(self.reported) * MILESTONES < total {
            return None;
        }
        self.reported = done;
        Some(format!("{} {done}/{total}", self.step))
    }

    /// Prints one of the step's own lines (an upload, a stack event) when progress is
    /// verbose.
    pub fn line(&self, message: impl FnOnce() -> String) {
        if self.progress.is_verbose() {
            tracing::info!("{}", message());
        }
    }

    /// Ends the step: the bar goes, `message` (with the step's time) stays as one line.
    pub fn finish(self, message: impl FnOnce() -> String) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let seconds = self.started.elapsed().as_secs_f64();
        self.progress
            .report(|| format!("{} ({seconds:.0} s)", message()));
    }

    /// The step's name.
    pub fn step(&self) -> &'static str {
        self.step
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        // A step that ends in an error leaves no bar behind.
        if let Some(bar) = &self.bar
            && !bar.is_finished()
        {
            bar.finish_and_clear();
        }
    }
}

/// One line per event on stderr: `eventrail: <message>` (`warning:` for warnings and errors).
struct Plain;

impl<S, N> FormatEvent<S, N> for Plain
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let prefix = if *event.metadata().level() <= Level::WARN {
            "eventrail: warning:"
        } else {
            "eventrail:"
        };
        write!(writer, "{prefix} ")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// The subscriber [`init`] installs, writing to `writer`: escape codes only on a terminal.
fn subscriber<W>(writer: W, output: Output) -> impl Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(output == Output::Terminal)
        .event_format(Plain)
        .finish()
}

/// Shows progress (info and above) on stderr as plain lines; `RUST_LOG` can change the level.
/// Does nothing when a subscriber is already installed.
pub fn init() {
    let _ =
        tracing::subscriber::set_global_default(subscriber(std::io::stderr, Output::of_stderr()));
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// What the subscriber wrote, shared with the test.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut buffer) = self.0.lock() {
                buffer.extend_from_slice(bytes);
            }
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            self.0
                .lock()
                .map(|buffer| String::from_utf8_lossy(&buffer).into_owned())
                .unwrap_or_default()
        }
    }

    /// A stack step of 112 resources shown with `progress` to plain output; what it printed
    /// and whether it drew a bar.
    fn stack_step(progress: Progress) -> (String, bool) {
        let captured = Captured::default();
        let writer = captured.clone();
        let drew_a_bar = tracing::subscriber::with_default(
            subscriber(move || writer.clone(), Output::Plain),
            || {
                let mut meter = Meter::start("stack", progress, Output::Plain);
                let drew_a_bar = meter.bar.is_some();
                for done in 0..=112 {
                    meter.line(|| format!("  event {done}"));
                    meter.update(done, 112);
                }
                tracing::warn!("a warning on the way");
                meter.finish(|| "stack 112/112 CREATE_COMPLETE".to_owned());
                drew_a_bar
            },
        );
        (captured.text(), drew_a_bar)
    }

    #[test]
    fn plain_output_is_the_count_at_each_quarter_and_the_end_without_escape_codes() {
        let (text, drew_a_bar) = stack_step(Progress::Shown);
        assert!(!drew_a_bar, "a bar drawn to plain output");
        assert!(
            !text.contains('\u{1b}'),
            "escape codes in plain output: {text:?}"
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert_eq!(
            lines[..4],
            [
                "eventrail: stack 28/112",
                "eventrail: stack 56/112",
                "eventrail: stack 84/112",
                "eventrail: warning: a warning on the way",
            ]
        );
        assert!(
            lines[4].starts_with("eventrail: stack 112/112 CREATE_COMPLETE ("),
            "{text}"
        );
    }

    #[test]
    fn a_growing_total_is_counted_each_quarter_of_it_done_since_the_last_count() {
        let mut meter = Meter::start("stack", Progress::Shown, Output::Plain);
        assert_eq!(meter.milestone(1, 5), None);
        assert_eq!(meter.milestone(4, 5).as_deref(), Some("stack 4/5"));
        assert_eq!(meter.milestone(42, 155), None);
        assert_eq!(meter.milestone(43, 155).as_deref(), Some("stack 43/155"));
        assert_eq!(meter.milestone(80, 155), None);
        assert_eq!(meter.milestone(82, 155).as_deref(), Some("stack 82/155"));
        assert_eq!(meter.milestone(155, 155), None);
    }

    #[test]
    fn verbose_output_is_every_line_and_no_count() {
        let (text, drew_a_bar) = stack_step(Progress::Verbose);
        assert!(!drew_a_bar);
        assert!(!text.contains('\u{1b}'), "{text:?}");
        assert!(text.contains("eventrail:   event 0\n"), "{text}");
        assert!(text.contains("eventrail:   event 112\n"), "{text}");
        assert!(!text.contains("stack 28/112"), "{text}");
    }

    #[test]
    fn quiet_output_is_the_warning_alone() {
        let (text, _) = stack_step(Progress::Quiet);
        assert_eq!(text, "eventrail: warning: a warning on the way\n");
    }
}
