//! What a watch observed of one flow.

use crate::failure::FailureRecord;
use crate::flow::Flow;
use crate::watched::WatchedMessage;

/// Everything observed about one flow.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowReport {
    /// A heading for people (e.g. the flow's subject).
    pub title: String,
    /// The flow's events.
    pub flow: Flow,
    /// The names of the watched queues, in their declared order (a count is shown for each,
    /// zero included).
    pub watched: Vec<String>,
    /// Messages of the flow read from the watched queues.
    pub messages: Vec<WatchedMessage>,
    /// What of the flow reached a failure queue.
    pub failures: Vec<FailureRecord>,
}

impl FlowReport {
    /// A report of `flow` alone: no queue was watched.
    pub fn of_flow(title: impl Into<String>, flow: Flow) -> Self {
        Self {
            title: title.into(),
            flow,
            watched: Vec::new(),
            messages: Vec::new(),
            failures: Vec::new(),
        }
    }

    /// The messages read from the watched queue `name`.
    pub fn messages_in<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a WatchedMessage> {
        self.messages.iter().filter(move |m| m.queue == name)
    }
}
