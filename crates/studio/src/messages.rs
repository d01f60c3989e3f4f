//! Messages the app's functions send out of the system (the queues it declares watched,
//! `[[workspace.metadata.eventrail.watch]]`), shown in their flow. The studio only looks:
//! it receives each watched queue's messages and makes them visible again at once, so the
//! app's real readers still get every one; it remembers the ones it has shown by id.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::RwLock;

use eventrail_observe::aws::{RawMessage, receive, release};
use eventrail_observe::{Clients, MessageBody, ObserveError, WatchedQueueUrl};
use maud::{Markup, html};

use crate::mask::MASK;

/// How many receives one look at a queue takes at most (ten messages each).
const MAX_RECEIVES: usize = 20;
/// How long a looked-at message stays hidden if releasing it fails.
const HIDE_SECONDS: i32 = 5;

/// One message seen on a watched queue.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SeenMessage {
    /// The watched queue's name (`outbox`).
    pub queue: String,
    /// SQS message id.
    pub message_id: String,
    /// When the studio saw it (epoch ms).
    pub received_ms: u64,
    /// The decoded body.
    pub body: MessageBody,
}

/// The messages seen, by flow (bounded: the oldest go first).
#[derive(Debug)]
pub(crate) struct Messages {
    keep: usize,
    inner: RwLock<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    ids: HashSet<String>,
    order: VecDeque<(String, String)>,
    by_correlation: HashMap<String, Vec<SeenMessage>>,
}

impl Messages {
    /// Keeps at most `keep` messages.
    pub(crate) fn new(keep: usize) -> Self {
        Self {
            keep: keep.max(1),
            inner: RwLock::new(Seen::default()),
        }
    }

    /// Adds `message` unless already seen; true when it is new.
    pub(crate) fn add(&self, message: SeenMessage) -> bool {
        let mut seen = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !seen.ids.insert(message.message_id.clone()) {
            return false;
        }
        while seen.order.len() >= self.keep {
            let Some((id, correlation)) = seen.order.pop_front() else {
                break;
            };
            seen.ids.remove(&id);
            if let Some(list) = seen.by_correlation.get_mut(&correlation) {
                list.retain(|m| m.message_id != id);
                if list.is_empty() {
                    seen.by_correlation.remove(&correlation);
                }
            }
        }
        let correlation = message.body.correlation_id.clone();
        seen.order
            .push_back((message.message_id.clone(), correlation.clone()));
        seen.by_correlation
            .entry(correlation)
            .or_default()
            .push(message);
        true
    }

    /// The messages of one flow, in the order seen.
    pub(crate) fn of_flow(&self, correlation: &str) -> Vec<SeenMessage> {
        let seen = self
            .inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.by_correlation
            .get(correlation)
            .cloned()
            .unwrap_or_default()
    }
}

/// Looks at every message waiting in `queue` without taking any; returns the ones that
/// decode as watched messages (the others are left alone too).
pub(crate) async fn look(
    clients: &Clients,
    queue: &WatchedQueueUrl,
    now_ms: u64,
) -> Result<Vec<SeenMessage>, ObserveError> {
    let mut found = Vec::new();
    let mut receipts = Vec::new();
    let mut outcome = Ok(());
    for _ in 0..MAX_RECEIVES {
        let batch: Vec<RawMessage> = match receive(&clients.sqs, &queue.url, 0, HIDE_SECONDS).await
        {
            Ok(batch) => batch,
            Err(error) => {
                outcome = Err(error);
                break;
            }
        };
        if batch.is_empty() {
            break;
        }
        for message in batch {
            receipts.push(message.receipt_handle.clone());
            if let Ok(body) = MessageBody::decode(&message.body) {
                found.push(SeenMessage {
                    queue: queue.name.clone(),
                    message_id: message.message_id,
                    received_ms: now_ms,
                    body,
                });
            }
        }
    }
    let released = release(&clients.sqs, &queue.url, &receipts).await;
    outcome?;
    released?;
    Ok(found)
}

/// One message as a list item of its flow; the recipient is personal (masked unless shown).
pub(crate) fn item(message: &SeenMessage, show_recipient: bool) -> Markup {
    let body = &message.body;
    html! {
        li.message
            data-correlation=(body.correlation_id)
            data-message-id=(message.message_id)
            data-received-ms=(message.received_ms)
        {
            span.queue { "✉ " (message.queue) } " "
            span.kind { (body.kind) }
            @if !body.subject.is_empty() { " “" (body.subject) "”" }
            @if !body.to.is_empty() {
                " to " span.to { @if show_recipient { (body.to) } @else { (MASK) } }
            }
            " (from " a href={ "/events/" (body.event_id) } { (body.event_id) } ")"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, correlation: &str) -> SeenMessage {
        SeenMessage {
            queue: "outbox".to_owned(),
            message_id: id.to_owned(),
            received_ms: 1,
            body: MessageBody::decode(&format!(
                r#"{{"kind":"done","correlation_id":"{correlation}","event_id":"e1",
                    "idempotency_key":"k","to":"a@example.com","subject":"Done"}}"#
            ))
            .unwrap(),
        }
    }

    #[test]
    fn keeps_each_message_once_and_forgets_the_oldest() {
        let messages = Messages::new(2);
        assert!(messages.add(message("m1", "c1")));
        assert!(!messages.add(message("m1", "c1")), "seen already");
        assert!(messages.add(message("m2", "c1")));
        assert!(messages.add(message("m3", "c2")));
        let ids: Vec<String> = messages
            .of_flow("c1")
            .into_iter()
            .map(|m| m.message_id)
            .collect();
        assert_eq!(ids, ["m2"]);
        assert_eq!(messages.of_flow("c2").len(), 1);
    }

    #[test]
    fn the_recipient_is_masked_unless_shown() {
        let masked = item(&message("m1", "c1"), false).into_string();
        assert!(
            masked.contains(MASK) && !masked.contains("a@example.com"),
            "{masked}"
        );
        assert!(
            masked.contains(r#"class="message" data-correlation="c1""#),
            "{masked}"
        );
        let shown = item(&message("m1", "c1"), true).into_string();
        assert!(shown.contains("a@example.com"));
    }
}
