//! A watch follows flows by correlation id: their events (through a tap), their messages in
//! the queues the app declares watched, and whatever of theirs reaches a failure queue.

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use crate::aws::{self, Clients, RawMessage};
use crate::error::{ObserveError, Result};
use crate::event::ObservedEvent;
use crate::failure::{FailureKind, FailureRecord};
use crate::flow::Flow;
use crate::outputs::{FailureQueue, StackOutputs};
use crate::report::FlowReport;
use crate::tap::Tap;
use crate::watched::{MessageBody, WatchedMessage, WatchedQueueUrl};
use eventrail_model::Router;

/// How long [`Watch::poll`] waits on the tap queue for a first event (SQS long polling).
/// Every queue of a stack is read on each poll: polled without waiting, one watch on the
/// seven-function stack sent LocalStack about 40 requests a second between events (counted in
/// its log during the demo).
pub const TAP_WAIT_SECONDS: i32 = 1;

/// What one [`Watch::poll`] brought in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Events read from the tap (any flow).
    pub events: usize,
    /// Messages of the watched queues claimed.
    pub messages: usize,
    /// Failure queue messages claimed.
    pub failures: usize,
}

impl Progress {
    /// True when nothing arrived.
    pub fn is_empty(&self) -> bool {
        self.events + self.messages + self.failures == 0
    }
}

/// Follows flows. The tap is this watch's own; the watched queues and the failure queues are
/// shared with other readers (tests run in parallel), so a watch takes only the messages of
/// the flows it follows and makes the others visible again at once.
#[derive(Debug)]
pub struct Watch {
    tap: Tap,
    sqs: aws_sdk_sqs::Client,
    watched: Vec<WatchedQueueUrl>,
    failure_queues: Vec<FailureQueue>,
    followed: BTreeSet<String>,
    messages: Vec<WatchedMessage>,
    failures: Vec<FailureRecord>,
    unreadable: Vec<String>,
}

impl Watch {
    /// A watch reading `tap`, the queues the app declares watched (an error names a declared
    /// queue whose output the stack lacks) and the stack's failure queues.
    pub fn new(tap: Tap, clients: &Clients, outputs: &StackOutputs) -> Result<Self> {
        Ok(Self {
            tap,
            sqs: clients.sqs.clone(),
            watched: outputs.watched_queues()?,
            failure_queues: outputs.failure_queues(),
            followed: BTreeSet::new(),
            messages: Vec::new(),
            failures: Vec::new(),
            unreadable: Vec::new(),
        })
    }

    /// Follows the flow with `correlation_id` from now on.
    pub fn follow(&mut self, correlation_id: impl Into<String>) {
        self.followed.insert(correlation_id.into());
    }

    /// The correlation ids followed.
    pub fn followed(&self) -> &BTreeSet<String> {
        &self.followed
    }

    /// The tapped events of the followed flows.
    pub fn followed_events(&self) -> Vec<&ObservedEvent> {
        self.tap
            .events()
            .iter()
            .filter(|e| {
                e.correlation_id
                    .as_ref()
                    .is_some_and(|c| self.followed.contains(c))
            })
            .collect()
    }

    /// The tap.
    pub fn tap(&self) -> &Tap {
        &self.tap
    }

    /// Reads the tap, the watched queues and every failure queue once. The tap is long-polled for
    /// up to [`TAP_WAIT_SECONDS`]: an event returns it at once, and a quiet flow costs a
    /// request per queue every second or so instead of a burst of them per caller's tick.
    pub async fn poll(&mut self) -> Result<Progress> {
        let mut progress = Progress {
            events: self.tap.poll(TAP_WAIT_SECONDS).await?,
            ..Progress::default()
        };
        let followed = self.followed.clone();
        let followed_ids: HashSet<String> = self
            .followed_events()
            .into_iter()
            .map(|e| e.id.clone())
            .collect();

        for queue in &self.watched {
            let claimed = aws::drain_shared(&self.sqs, &queue.url, |message| {
                MessageBody::decode(&message.body)
                    .is_ok_and(|b| followed.contains(&b.correlation_id))
            })
            .await?;
            progress.messages += claimed.len();
            for message in claimed {
                match MessageBody::decode(&message.body) {
                    Ok(body) => self.messages.push(WatchedMessage {
                        queue: queue.name.clone(),
                        message_id: message.message_id,
                        deduplication_id: message.deduplication_id,
                        group_id: message.group_id,
                        body,
                    }),
                    Err(reason) => self.unreadable.push(format!("{}: {reason}", queue.name)),
                }
            }
        }

        for queue in &self.failure_queues {
            let decode = |message: &RawMessage| FailureRecord {
                queue_function: queue.function.clone(),
                layer: queue.layer,
                message_id: message.message_id.clone(),
                kind: FailureKind::decode(&message.body, &message.attributes),
            };
            let claimed = aws::drain_shared(&self.sqs, &queue.url, |message| {
                let record = decode(message);
                record
                    .correlation_id()
                    .is_some_and(|c| followed.contains(c))
                    || record
                        .event_id()
                        .is_some_and(|id| followed_ids.contains(id))
            })
            .await?;
            progress.failures += claimed.len();
            self.failures.extend(claimed.iter().map(decode));
        }
        Ok(progress)
    }

    /// Polls until `done` holds, failing after `deadline` with everything observed.
    pub async fn wait_until(
        &mut self,
        waiting_for: &str,
        deadline: Duration,
        done: impl Fn(&Self) -> bool,
    ) -> Result<()> {
        let started = Instant::now();
        loop {
            self.poll().await?;
            if done(self) {
                return Ok(());
            }
            if started.elapsed() >= deadline {
                return Err(ObserveError::Timeout {
                    waiting_for: waiting_for.to_owned(),
                    seconds: deadline.as_secs(),
                    observed: self.render_followed(None),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Polls until nothing new has arrived for `quiet` (or `max` has passed): after the
    /// expected events are in, this catches unexpected extra ones.
    pub async fn settle(&mut self, quiet: Duration, max: Duration) -> Result<()> {
        let started = Instant::now();
        let mut last_change = Instant::now();
        loop {
            let progress = self.poll().await?;
            if !progress.is_empty() {
                last_change = Instant::now();
            }
            if last_change.elapsed() >= quiet || started.elapsed() >= max {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The flow of `correlation_id` as seen so far.
    pub fn flow(&self, correlation_id: &str) -> Flow {
        self.tap.flow(correlation_id)
    }

    /// Messages of `correlation_id` in the watched queues.
    pub fn messages_for(&self, correlation_id: &str) -> Vec<&WatchedMessage> {
        self.messages
            .iter()
            .filter(|m| m.body.correlation_id == correlation_id)
            .collect()
    }

    /// Failure queue messages of `correlation_id` (by correlation or by event id).
    pub fn failures_for(&self, correlation_id: &str) -> Vec<&FailureRecord> {
        let flow = self.flow(correlation_id);
        self.failures
            .iter()
            .filter(|r| {
                r.correlation_id() == Some(correlation_id)
                    || r.event_id().is_some_and(|id| flow.get(id).is_some())
            })
            .collect()
    }

    /// All messages of the watched queues claimed.
    pub fn messages(&self) -> &[WatchedMessage] {
        &self.messages
    }

    /// The names of the watched queues, in their declared order.
    pub fn watched(&self) -> Vec<String> {
        self.watched.iter().map(|q| q.name.clone()).collect()
    }

    /// All failure queue messages claimed.
    pub fn failures(&self) -> &[FailureRecord] {
        &self.failures
    }

    /// Messages of followed flows in the watched queues whose body did not decode (the
    /// queue's name and why).
    pub fn unreadable_messages(&self) -> &[String] {
        &self.unreadable
    }

    /// Everything observed about `correlation_id`.
    pub fn report(&self, correlation_id: &str, title: impl Into<String>) -> FlowReport {
        FlowReport {
            title: title.into(),
            flow: self.flow(correlation_id),
            watched: self.watched(),
            messages: self
                .messages_for(correlation_id)
                .into_iter()
                .cloned()
                .collect(),
            failures: self
                .failures_for(correlation_id)
                .into_iter()
                .cloned()
                .collect(),
        }
    }

    /// Every followed flow, rendered.
    pub fn render_followed(&self, routes: Option<&Router>) -> String {
        self.followed
            .iter()
            .map(|c| self.report(c, format!("correlation {c}")).render(routes))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Deletes the tap.
    pub async fn close(self) -> Result<()> {
        self.tap.delete().await
    }
}
