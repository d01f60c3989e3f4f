//! Live: the tap loop reads the studio's tail (a temporary rule and queue on the bus), puts
//! each event into the store and sends its row to every open page over server-sent events
//! (`GET /stream`, `event: flow-event`, the row's HTML as data, its sequence number as id).

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use eventrail_observe::{ObservedEvent, Tail, WatchedQueueUrl};
use futures_util::Stream;
use tokio::sync::{broadcast, watch};

use crate::Personal;
use crate::error::StudioError;
use crate::messages;
use crate::rows;
use crate::state::{AppState, LiveKind, LiveRow};

/// Milliseconds since the epoch, now.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Puts an event received now into the store and sends its row to the open pages.
pub(crate) fn ingest(state: &AppState, event: &ObservedEvent) {
    let stored = state.store.insert(event, now_ms());
    let html = rows::row(state, &stored, usize::from(stored.depth)).into_string();
    // No page open: nobody to tell.
    let _ = state.live.send(Arc::new(LiveRow {
        kind: LiveKind::Event,
        seq: stored.seq,
        html,
    }));
}

/// Loads `file` (JSON lines, one EventBridge event each) into the store; returns how many.
pub(crate) fn preload(state: &AppState, file: &Path) -> Result<usize, StudioError> {
    let failed = |message: String| StudioError::Preload {
        file: file.to_owned(),
        message,
    };
    let text = std::fs::read_to_string(file).map_err(|e| failed(format!("cannot read: {e}")))?;
    let mut count = 0;
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let event = ObservedEvent::from_json(line)
            .map_err(|reason| failed(format!("line {}: {reason}", number + 1)))?;
        state.store.insert(&event, now_ms());
        count += 1;
    }
    Ok(count)
}

/// Looks at the watched queues once; new messages go to the open pages.
async fn look_at_messages(state: &AppState, queues: &[WatchedQueueUrl]) {
    for queue in queues {
        match messages::look(&state.stack.clients, queue, now_ms()).await {
            Ok(found) => {
                for message in found {
                    let html = messages::item(&message, state.options.personal == Personal::Shown)
                        .into_string();
                    if state.messages.add(message) {
                        let _ = state.live.send(Arc::new(LiveRow {
                            kind: LiveKind::Message,
                            seq: 0,
                            html,
                        }));
                    }
                }
            }
            Err(error) => eprintln!("studio: looking at the {} queue: {error}", queue.name),
        }
    }
}

/// Reads the tail (and looks at the watched queues) until `stopped` turns true; returns the
/// tail for its removal.
pub(crate) async fn tap_loop(
    state: AppState,
    mut tail: Tail,
    mut stopped: watch::Receiver<bool>,
) -> Tail {
    let watched = state
        .stack
        .outputs
        .watched_queues()
        .unwrap_or_else(|error| {
            eprintln!("studio: not showing the watched queues' messages: {error}");
            Vec::new()
        });
    loop {
        if *stopped.borrow() {
            return tail;
        }
        let polled = tokio::select! {
            _ = stopped.changed() => return tail,
            polled = tail.tap().poll(2) => polled,
        };
        if let Err(error) = polled {
            eprintln!("studio: reading the tap queue: {error}; retrying");
            tokio::select! {
                _ = stopped.changed() => return tail,
                () = tokio::time::sleep(Duration::from_secs(2)) => {}
            }
        }
        for event in tail.tap().take_events() {
            ingest(&state, &event);
        }
        look_at_messages(&state, &watched).await;
        if let Err(error) = tail.keep_alive().await {
            eprintln!("studio: renewing the tap's lease: {error}");
        }
    }
}

/// `GET /stream`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/stream", get(stream))
}

async fn stream(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = state.live.subscribe();
    let events = futures_util::stream::unfold(receiver, |mut receiver| async move {
        match receiver.recv().await {
            Ok(row) => {
                let event = match row.kind {
                    LiveKind::Event => Event::default().event("flow-event").id(row.seq.to_string()),
                    LiveKind::Message => Event::default().event("flow-message"),
                };
                Some((Ok(event.data(&row.html)), receiver))
            }
            Err(broadcast::error::RecvError::Lagged(skipped)) => {
                let event = Event::default().event("lagged").data(skipped.to_string());
                Some((Ok(event), receiver))
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

/// Ctrl-C and SIGTERM, listened to from the start: a signal arriving while the studio
/// starts is kept until the server looks.
pub(crate) struct Stop {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Stop {
    /// Starts listening.
    pub(crate) fn listen() -> Result<Self, StudioError> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt()).map_err(|source| {
                    StudioError::Signal {
                        signal: "Ctrl-C",
                        source,
                    }
                })?,
                terminate: signal(SignalKind::terminate()).map_err(|source| {
                    StudioError::Signal {
                        signal: "SIGTERM",
                        source,
                    }
                })?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Resolves when a stop signal arrived (now or earlier).
    pub(crate) async fn requested(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Personal;
    use crate::test_support::{event, state};

    fn file(name: &str, lines: &[String]) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("studio-{}-{name}.jsonl", std::process::id()));
        std::fs::write(&path, lines.join("\n")).unwrap();
        path
    }

    #[tokio::test]
    async fn preloads_json_lines_through_the_tap_s_store() {
        let state = state("local", Personal::Masked).await;
        let lines: Vec<String> = (0..3)
            .map(|n| {
                event(&format!("p{n}"), "Made", "c", None, json!({"n": n}))
                    .raw
                    .to_string()
            })
            .collect();
        let path = file("good", &lines);
        assert_eq!(preload(&state, &path).unwrap(), 3);
        assert_eq!(state.store.flow("c").len(), 3);
        let _ = std::fs::remove_file(&path);

        let path = file("bad", &[lines[0].clone(), r#"{"id": "x"}"#.to_owned()]);
        let error = preload(&state, &path).unwrap_err().to_string();
        assert!(
            error.contains("line 2") && error.contains("`source`"),
            "{error}"
        );
        let _ = std::fs::remove_file(&path);
    }

    #[tokio::test]
    async fn a_live_row_carries_the_receive_time_and_reaches_subscribers() {
        let state = state("local", Personal::Masked).await;
        let mut receiver = state.live.subscribe();
        ingest(&state, &event("l1", "Made", "c9", Some("l0"), json!({})));
        let row = receiver.try_recv().expect("a row was sent");
        assert_eq!(row.kind, LiveKind::Event);
        assert!(
            row.html.contains(r#"data-correlation="c9""#),
            "{}",
            row.html
        );
        let stamp = state.store.get("l1").unwrap().received_ms;
        assert!(
            row.html.contains(&format!(r#"data-received-ms="{stamp}""#)),
            "{}",
            row.html
        );
    }
}
