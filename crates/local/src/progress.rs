//! How a binary shows the library's progress. The library reports through `tracing` events
//! (target `eventrail_local::*`): building, uploading, stack events, LocalStack start and stop.
//! A binary that wants them on the terminal calls [`init`]; one that wants something else
//! (progress bars, JSON) installs its own subscriber instead. [`Progress`] is how a caller
//! says whether a long step (a build, a deploy, a LocalStack start) reports at all.

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, format::Writer};
use tracing_subscriber::registry::LookupSpan;

/// Whether a long step reports its progress (what it builds, uploads and deploys, stack events,
/// LocalStack starting and stopping) as `tracing` events. Warnings and errors are reported
/// either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Progress {
    /// Report each step as it happens.
    #[default]
    Shown,
    /// Report nothing but warnings and the result.
    Quiet,
}

impl Progress {
    /// True when progress is reported.
    pub fn is_shown(self) -> bool {
        self == Self::Shown
    }

    /// Reports `message` (an info event) when progress is shown.
    pub fn report(self, message: impl FnOnce() -> String) {
        if self.is_shown() {
            tracing::info!("{}", message());
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

/// Shows progress (info and above) on stderr as plain lines; `RUST_LOG` can change the level.
/// Does nothing when a subscriber is already installed.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(Plain)
        .try_init();
}
