//! Reading the watched queue while the burst runs: every message carrying one of the run's
//! tokens is kept (its token and `SentTimestamp`) and deleted, since it is the run's own; any
//! other message is left alone, hidden for a while so it is not read again and again, and
//! visible to its readers afterwards.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use eventrail_observe::aws::{delete, receive};
use tokio::sync::watch;

use crate::load::correlate::{Seen, tokens_in};

/// Long-poll wait of one receive, in seconds.
const WAIT_SECONDS: i32 = 1;
/// How long a received message stays hidden: long enough that a foreign message is read once
/// in a run's reading, short enough that its own readers get it back soon.
const HIDE_SECONDS: i32 = 120;
/// Once every accepted request was notified, how long to keep reading for duplicates.
const SETTLE: Duration = Duration::from_secs(3);
/// Receives failing in a row before the reading gives up.
const FAILURES_IN_A_ROW: u32 = 5;

/// What the reader waits for, known once the burst is over.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// The tokens of the accepted requests.
    pub accepted: HashSet<String>,
    /// When to stop waiting for the rest.
    pub deadline: Instant,
}

/// What the reading found.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    /// The run's messages.
    pub seen: Vec<Seen>,
    /// Other messages met (left in the queue).
    pub foreign: usize,
    /// Whether the deadline passed before every accepted request was notified.
    pub timed_out: bool,
    /// Whether the reading was interrupted (Ctrl-C) before it was done.
    pub interrupted: bool,
}

/// Reads `queue_url` until every token of the expectation (sent on `expect` once the burst
/// is over) was seen and [`SETTLE`] more passed, or its deadline passed, or `stop` is set.
pub async fn read(
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    tokens: HashSet<String>,
    mut expect: watch::Receiver<Option<Expectation>>,
    stop: Arc<AtomicBool>,
) -> Result<Reading> {
    let (sqs, queue_url, tokens) = (&sqs, queue_url.as_str(), &tokens);
    let mut reading = Reading::default();
    let mut foreign_ids = HashSet::new();
    let mut seen_tokens: HashSet<String> = HashSet::new();
    let mut all_seen_at: Option<Instant> = None;
    let mut failures = 0;
    loop {
        if stop.load(Ordering::Relaxed) {
            reading.interrupted = true;
            break;
        }
        let messages = match receive(sqs, queue_url, WAIT_SECONDS, HIDE_SECONDS).await {
            Ok(messages) => {
                failures = 0;
                messages
            }
            Err(error) => {
                failures += 1;
                if failures >= FAILURES_IN_A_ROW {
                    return Err(error).context(format!("reading {queue_url}"));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let mut mine = Vec::new();
        for message in messages {
            let found = tokens_in(&message.body, tokens);
            if found.is_empty() {
                foreign_ids.insert(message.message_id);
                continue;
            }
            let sent_ms = message.sent_at_ms.unwrap_or_else(now_ms);
            for token in found {
                seen_tokens.insert(token.clone());
                reading.seen.push(Seen { token, sent_ms });
            }
            mine.push(message.receipt_handle);
        }
        if !mine.is_empty() {
            delete(sqs, queue_url, &mine)
                .await
                .with_context(|| format!("deleting the run's messages from {queue_url}"))?;
        }
        let expectation = expect.borrow_and_update().clone();
        let Some(expectation) = expectation else {
            continue;
        };
        if expectation.accepted.is_subset(&seen_tokens) {
            let since = *all_seen_at.get_or_insert_with(Instant::now);
            if since.elapsed() >= SETTLE {
                break;
            }
        } else if Instant::now() >= expectation.deadline {
            reading.timed_out = true;
            break;
        }
    }
    reading.foreign = foreign_ids.len();
    if reading.seen.is_empty() && reading.timed_out && reading.foreign == 0 {
        // Nothing at all reached the queue: say where to look rather than only "lost".
        eprintln!("load: no message reached {queue_url} before the deadline");
    }
    Ok(reading)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
