//! Matching the burst's requests with the messages they led to, by the token each request
//! carried: which were notified, how long after, which were lost, which notified twice.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use crate::load::burst::Posted;

/// A message of the watched queue that carries one of the run's tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The token it carries.
    pub token: String,
    /// When the queue got it (`SentTimestamp`, milliseconds since the epoch).
    pub sent_ms: u64,
}

/// The run's tokens a message body carries: every string of the JSON body that is one of
/// `tokens` (a body that is not JSON counts as one string), each once.
pub fn tokens_in(body: &str, tokens: &HashSet<String>) -> Vec<String> {
    fn walk(value: &Value, tokens: &HashSet<String>, found: &mut Vec<String>) {
        match value {
            Value::String(text) if tokens.contains(text) && !found.contains(text) => {
                found.push(text.clone());
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, tokens, found)),
            Value::Object(map) => map.values().for_each(|v| walk(v, tokens, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    match serde_json::from_str::<Value>(body) {
        Ok(value) => walk(&value, tokens, &mut found),
        Err(_) => walk(&Value::String(body.trim().to_owned()), tokens, &mut found),
    }
    found
}

/// The burst matched with the messages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Correlation {
    /// Accepted requests with at least one message.
    pub notified: usize,
    /// Accepted requests with no message: their tokens.
    pub lost: Vec<String>,
    /// Messages beyond the first for one token.
    pub duplicates: usize,
    /// Requests not accepted that still led to a message (e.g. a timeout after the work was
    /// done): their tokens.
    pub unaccepted_but_notified: Vec<String>,
    /// For each notified request: its first message's time minus the request's, in ms.
    pub latencies_ms: Vec<u64>,
    /// The time of the last first message of a notified request (ms since the epoch).
    pub last_notified_ms: Option<u64>,
}

/// Matches `posted` with `seen`.
pub fn correlate(posted: &[Posted], seen: &[Seen]) -> Correlation {
    let mut first: BTreeMap<&str, (u64, usize)> = BTreeMap::new();
    for message in seen {
        let entry = first
            .entry(message.token.as_str())
            .or_insert((message.sent_ms, 0));
        entry.0 = entry.0.min(message.sent_ms);
        entry.1 += 1;
    }
    let mut correlation = Correlation {
        duplicates: first.values().map(|(_, n)| n - 1).sum(),
        ..Correlation::default()
    };
    for request in posted {
        match (request.accepted(), first.get(request.token.as_str())) {
            (true, Some((sent_ms, _))) => {
                correlation.notified += 1;
                correlation
                    .latencies_ms
                    .push(sent_ms.saturating_sub(request.sent_ms));
                correlation.last_notified_ms = correlation.last_notified_ms.max(Some(*sent_ms));
            }
            (true, None) => correlation.lost.push(request.token.clone()),
            (false, Some(_)) => correlation
                .unaccepted_but_notified
                .push(request.token.clone()),
            (false, None) => {}
        }
    }
    correlation
}

/// The failure queue records of a run's requests, counted by queue.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeadLettered {
    /// The queue (`<function> <layer>`).
    pub queue: String,
    /// How many of the run's requests it holds.
    pub count: usize,
    /// The first one's reason.
    pub example_reason: Option<String>,
}

/// Where the accepted requests without a message ended up.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Located {
    /// In a failure queue, with its reason: failed visibly, not lost.
    pub dead_lettered: Vec<DeadLettered>,
    /// Requests with a dead letter (each counted once, whatever the number of its records).
    pub dead_lettered_requests: usize,
    /// Still in a buffer queue when the deadline passed: late, not lost.
    pub late: usize,
    /// Neither notified, nor in a failure queue, nor buffered: lost.
    pub lost: Vec<String>,
}

/// Sorts the accepted requests without a message (`unnotified`) by where their tokens were
/// found: `dead` holds (queue, token, reason) of the failure queues' records of the run,
/// `buffered` the tokens still in a buffer queue.
pub fn locate(
    unnotified: &[String],
    dead: &[(String, String, Option<String>)],
    buffered: &HashSet<String>,
) -> Located {
    let mut located = Located::default();
    let mut by_queue: BTreeMap<&str, DeadLettered> = BTreeMap::new();
    let mut dead_tokens = HashSet::new();
    let wanted: HashSet<&str> = unnotified.iter().map(String::as_str).collect();
    for (queue, token, reason) in dead {
        if !wanted.contains(token.as_str()) {
            continue;
        }
        dead_tokens.insert(token.as_str());
        let entry = by_queue.entry(queue).or_insert_with(|| DeadLettered {
            queue: queue.clone(),
            count: 0,
            example_reason: reason.clone(),
        });
        entry.count += 1;
    }
    located.dead_lettered = by_queue.into_values().collect();
    located.dead_lettered_requests = dead_tokens.len();
    for token in unnotified {
        if dead_tokens.contains(token.as_str()) {
            continue;
        }
        if buffered.contains(token) {
            located.late += 1;
        } else {
            located.lost.push(token.clone());
        }
    }
    located
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::burst::Answer;
    use serde_json::json;

    fn posted(token: &str, sent_ms: u64, code: u16) -> Posted {
        Posted {
            token: token.to_owned(),
            sent_ms,
            answered_after_ms: 5,
            answer: Answer::Status {
                code,
                refusal: None,
            },
        }
    }

    fn seen(token: &str, sent_ms: u64) -> Seen {
        Seen {
            token: token.to_owned(),
            sent_ms,
        }
    }

    fn tokens(list: &[&str]) -> HashSet<String> {
        list.iter().map(|t| (*t).to_owned()).collect()
    }

    #[test]
    fn a_token_is_found_in_any_string_of_the_body_and_only_whole() {
        let known = tokens(&["load-r-01", "load-r-02"]);
        let body = json!({"id": "load-r-01", "to": "x@example.com",
                          "nested": [{"ref": "load-r-02"}], "n": 1, "again": "load-r-01"})
        .to_string();
        assert_eq!(tokens_in(&body, &known), vec!["load-r-01", "load-r-02"]);
        let inside = json!({"subject": "about load-r-01 today"}).to_string();
        assert!(tokens_in(&inside, &known).is_empty());
        assert_eq!(tokens_in("load-r-02\n", &known), vec!["load-r-02"]);
        assert!(tokens_in(&json!({"id": "other"}).to_string(), &known).is_empty());
    }

    #[test]
    fn each_accepted_request_is_notified_or_lost_with_its_latency() {
        let burst = [
            posted("a", 1_000, 201),
            posted("b", 1_010, 200),
            posted("c", 1_020, 202),
            posted("d", 1_030, 400),
        ];
        let messages = [seen("b", 1_500), seen("a", 1_900), seen("a", 1_700)];
        let c = correlate(&burst, &messages);
        assert_eq!(c.notified, 2);
        assert_eq!(c.lost, vec!["c".to_owned()]);
        assert_eq!(c.duplicates, 1);
        // a: its first message (1700) - 1000; b: 1500 - 1010, in request order.
        assert_eq!(c.latencies_ms, vec![700, 490]);
        assert_eq!(c.last_notified_ms, Some(1_700));
        assert!(c.unaccepted_but_notified.is_empty());
    }

    #[test]
    fn a_refused_request_that_was_notified_anyway_is_counted_apart() {
        let burst = [posted("a", 1_000, 504)];
        let c = correlate(&burst, &[seen("a", 3_000)]);
        assert_eq!(c.notified, 0);
        assert!(c.lost.is_empty());
        assert_eq!(c.unaccepted_but_notified, vec!["a".to_owned()]);
        assert!(c.latencies_ms.is_empty());
    }

    #[test]
    fn a_message_stamped_before_its_request_counts_zero_not_a_wrap() {
        let c = correlate(&[posted("a", 2_000, 200)], &[seen("a", 1_999)]);
        assert_eq!(c.latencies_ms, vec![0]);
    }

    #[test]
    fn an_unnotified_request_is_dead_lettered_late_or_lost() {
        let unnotified: Vec<String> = ["a", "b", "c", "d"].map(str::to_owned).to_vec();
        let dead = [
            (
                "mailer failure queue".to_owned(),
                "a".to_owned(),
                Some("timed out".to_owned()),
            ),
            (
                "mailer failure queue".to_owned(),
                "b".to_owned(),
                Some("later".to_owned()),
            ),
            ("ledger failure queue".to_owned(), "a".to_owned(), None),
            // A record of a request that was notified after all: not counted.
            ("mailer failure queue".to_owned(), "z".to_owned(), None),
        ];
        let buffered: HashSet<String> = ["c", "z"].map(str::to_owned).into();
        let located = locate(&unnotified, &dead, &buffered);
        assert_eq!(located.dead_lettered_requests, 2);
        assert_eq!(
            located.dead_lettered,
            vec![
                DeadLettered {
                    queue: "ledger failure queue".into(),
                    count: 1,
                    example_reason: None
                },
                DeadLettered {
                    queue: "mailer failure queue".into(),
                    count: 2,
                    example_reason: Some("timed out".into())
                },
            ]
        );
        assert_eq!(located.late, 1);
        assert_eq!(located.lost, vec!["d".to_owned()]);
    }
}
