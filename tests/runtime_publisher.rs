use std::sync::Mutex;

use events::{Metadata, OrderShipped};

use std::time::Duration;

use eventrail_runtime::publisher::*;

/// Decides the outcome of one entry: (call number starting at 1, entry) -> outcome.
type Script =
    Box<dyn Fn(usize, &OutgoingEvent) -> Result<EntryOutcome, TransportError> + Send + Sync>;

/// A fake EventBridge that records every call and answers from a script.
struct FakeEventBridge {
    calls: Mutex<Vec<Vec<OutgoingEvent>>>,
    script: Script,
}

impl FakeEventBridge {
    fn new(
        script: impl Fn(usize, &OutgoingEvent) -> Result<EntryOutcome, TransportError>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self {
            calls: Mutex::new(Vec::new()),
            script: Box::new(script),
        }
    }

    fn accepting() -> Self {
        Self::new(|_, e| Ok(accepted(&e.idempotency_key)))
    }

    fn calls(&self) -> Vec<Vec<OutgoingEvent>> {
        self.calls.lock().unwrap().clone()
    }
}

fn accepted(key: &str) -> EntryOutcome {
    EntryOutcome {
        event_id: Some(format!("id-{key}")),
        ..Default::default()
    }
}

fn failed(code: &str) -> EntryOutcome {
    EntryOutcome {
        event_id: None,
        error_code: Some(code.to_owned()),
        error_message: Some(format!("{code} happened")),
    }
}

impl PutEventsApi for &FakeEventBridge {
    async fn put_events(
        &self,
        _bus: &str,
        entries: &[OutgoingEvent],
    ) -> Result<Vec<EntryOutcome>, TransportError> {
        let call = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(entries.to_vec());
            calls.len()
        };
        let mut outcomes = Vec::new();
        for entry in entries {
            outcomes.push((self.script)(call, entry)?);
        }
        Ok(outcomes)
    }
}

fn event(key: &str, detail_bytes: usize) -> OutgoingEvent {
    OutgoingEvent {
        source: "eventrail.test".into(),
        detail_type: "TestEvent".into(),
        detail: "x".repeat(detail_bytes),
        resources: vec![],
        idempotency_key: key.into(),
    }
}

fn no_wait() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::ZERO,
        max_delay: Duration::ZERO,
    }
}

#[test]
fn size_is_counted_the_way_eventbridge_counts_it() {
    let mut e = event("k", 100);
    e.resources = vec!["arn:a".into(), "arn:bc".into()];
    // 14 (Time) + 14 (source) + 9 (detail-type) + 100 (detail) + 5 + 6 (resources)
    assert_eq!(
        e.size(),
        14 + "eventrail.test".len() + "TestEvent".len() + 100 + 11
    );
    // Multi-byte characters count as their UTF-8 bytes.
    e.detail = "é".into();
    assert_eq!(e.size(), 14 + 14 + 9 + 2 + 11);
}

#[tokio::test]
async fn chunks_at_ten_entries() {
    let fake = FakeEventBridge::accepting();
    let publisher = Publisher::new(&fake, "bus").with_retry(no_wait());
    let events: Vec<_> = (0..23).map(|i| event(&format!("k{i}"), 10)).collect();
    let results = publisher.publish_all(events).await;
    assert!(results.iter().all(Result::is_ok));
    let sizes: Vec<usize> = fake.calls().iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![10, 10, 3]);
    // Results come back in input order.
    let ids: Vec<String> = results.into_iter().map(|r| r.unwrap().event_id).collect();
    assert_eq!(ids[22], "id-k22");
}

#[tokio::test]
async fn chunks_by_request_bytes() {
    let fake = FakeEventBridge::accepting();
    let publisher = Publisher::new(&fake, "bus").with_retry(no_wait());
    // Three entries of ~400 KB: two fit in 1 MiB, the third goes in a second call.
    let events: Vec<_> = (0..3)
        .map(|i| event(&format!("k{i}"), 400 * 1024))
        .collect();
    let results = publisher.publish_all(events).await;
    assert!(results.iter().all(Result::is_ok));
    let sizes: Vec<usize> = fake.calls().iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![2, 1]);
    for call in fake.calls() {
        assert!(call.iter().map(OutgoingEvent::size).sum::<usize>() <= MAX_REQUEST_BYTES);
    }
}

#[tokio::test]
async fn oversize_event_is_rejected_before_sending_and_names_the_event() {
    let fake = FakeEventBridge::accepting();
    let publisher = Publisher::new(&fake, "bus").with_retry(no_wait());
    let overhead = 14 + "eventrail.test".len() + "TestEvent".len();
    let largest = MAX_PUBLISHED_ENTRY_BYTES - overhead;
    let events = vec![
        event("small", 10),
        event("huge", largest + 1),
        event("edge", largest),
        // Exactly EventBridge's limit: PutEvents would take it (or refuse it: the entry must
        // be smaller), but delivery wraps it in the envelope and the consumer's failure record
        // and dead letters wrap it again, over their 1 MiB.
        event("at-eventbridge-limit", MAX_ENTRY_BYTES - overhead),
    ];
    let results = publisher.publish_all(events).await;
    assert!(results[0].is_ok());
    assert!(
        results[2].is_ok(),
        "an entry of exactly the publisher's limit is sent"
    );
    match &results[1] {
        Err(error @ PublishError::TooLarge { name, size, limit }) => {
            assert!(
                name.contains("TestEvent") && name.contains("huge"),
                "{name}"
            );
            assert_eq!(*size, MAX_PUBLISHED_ENTRY_BYTES + 1);
            assert_eq!(*limit, MAX_PUBLISHED_ENTRY_BYTES);
            let message = error.to_string();
            assert!(
                message.contains(&(MAX_PUBLISHED_ENTRY_BYTES + 1).to_string())
                    && message.contains("TestEvent (idempotency key huge)"),
                "{message}"
            );
            assert!(error.is_permanent());
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(
        matches!(&results[3], Err(PublishError::TooLarge { size, .. }) if *size == MAX_ENTRY_BYTES),
        "{:?}",
        results[3]
    );
    let sent: Vec<String> = fake
        .calls()
        .concat()
        .into_iter()
        .map(|e| e.idempotency_key)
        .collect();
    assert_eq!(sent, vec!["small".to_owned(), "edge".to_owned()]);
}

#[test]
fn the_headroom_is_kept_under_eventbridge_s_limit() {
    assert_eq!(
        MAX_PUBLISHED_ENTRY_BYTES + DELIVERY_HEADROOM_BYTES,
        MAX_ENTRY_BYTES
    );
    // The envelope EventBridge delivers around the largest entry the publisher sends (with
    // the longest values the entry does not count) still fits in 1 MiB, with room for a
    // failure record's wrapping.
    let entry = event("k", MAX_PUBLISHED_ENTRY_BYTES - 14 - 14 - 9);
    let detail: String = entry.detail.clone();
    let delivered = serde_json::json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": entry.detail_type,
        "source": entry.source,
        "account": "111122223333",
        "time": "2026-12-07T15:17:52Z",
        "region": "ap-southeast-5",
        "resources": entry.resources,
        "detail": detail,
    })
    .to_string();
    assert!(
        delivered.len() + 4 * 1024 <= MAX_ENTRY_BYTES,
        "delivered {} bytes",
        delivered.len()
    );
}

#[tokio::test]
async fn retries_exactly_the_failed_entries() {
    // First call: entries k1 and k3 fail with throttling; second call: all succeed.
    let fake = FakeEventBridge::new(|call, e| {
        if call == 1 && (e.idempotency_key == "k1" || e.idempotency_key == "k3") {
            Ok(failed("ThrottlingException"))
        } else {
            Ok(accepted(&e.idempotency_key))
        }
    });
    let publisher = Publisher::new(&fake, "bus").with_retry(no_wait());
    let events: Vec<_> = (0..5).map(|i| event(&format!("k{i}"), 10)).collect();
    let results = publisher.publish_all(events).await;
    let calls = fake.calls();
    assert_eq!(calls.len(), 2);
    let retried: Vec<&str> = calls[1]
        .iter()
        .map(|e| e.idempotency_key.as_str())
        .collect();
    assert_eq!(retried, vec!["k1", "k3"]);
    for (i, r) in results.iter().enumerate() {
        let published = r.as_ref().unwrap();
        assert_eq!(published.attempts, if i == 1 || i == 3 { 2 } else { 1 });
    }
}

#[tokio::test]
async fn entries_that_stay_failed_are_reported_after_max_attempts() {
    let fake = FakeEventBridge::new(|_, e| {
        if e.idempotency_key == "bad" {
            Ok(failed("InternalFailure"))
        } else {
            Ok(accepted(&e.idempotency_key))
        }
    });
    let publisher = Publisher::new(&fake, "bus").with_retry(no_wait());
    let results = publisher
        .publish_all(vec![event("good", 1), event("bad", 1)])
        .await;
    assert!(results[0].is_ok());
    match &results[1] {
        Err(PublishError::Rejected {
            name,
            code,
            attempts,
            ..
        }) => {
            assert!(name.contains("bad"));
            assert_eq!(code, "InternalFailure");
            assert_eq!(*attempts, 4);
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(fake.calls().len(), 4);
}

#[tokio::test]
async fn permanent_entry_errors_are_not_retried() {
    let fake = FakeEventBridge::new(|_, _| Ok(failed("MalformedDetail")));
    let publisher = Publisher::new(&fake, "bus").with_retry(no_wait());
    let results = publisher.publish_all(vec![event("k", 1)]).await;
    assert!(matches!(
        &results[0],
        Err(PublishError::Rejected { attempts: 1, .. })
    ));
    assert_eq!(fake.calls().len(), 1);
}

#[tokio::test]
async fn transport_failures_are_retried_then_reported() {
    let fake = FakeEventBridge::new(|call, e| {
        if call < 3 {
            Err(TransportError::retryable("connection reset"))
        } else {
            Ok(accepted(&e.idempotency_key))
        }
    });
    let publisher = Publisher::new(&fake, "bus").with_retry(no_wait());
    let results = publisher.publish_all(vec![event("k", 1)]).await;
    assert_eq!(results[0].as_ref().unwrap().attempts, 3);

    let down = FakeEventBridge::new(|_, _| Err(TransportError::retryable("connection refused")));
    let publisher = Publisher::new(&down, "bus").with_retry(no_wait());
    let results = publisher.publish_all(vec![event("k", 1)]).await;
    assert!(matches!(
        &results[0],
        Err(PublishError::Transport { attempts: 4, .. })
    ));
}

#[tokio::test]
async fn a_permanent_call_error_is_not_retried() {
    let denied =
        FakeEventBridge::new(|_, _| Err(TransportError::permanent("AccessDeniedException: no")));
    let publisher = Publisher::new(&denied, "bus").with_retry(no_wait());
    let results = publisher.publish_all(vec![event("k", 1)]).await;
    assert_eq!(denied.calls().len(), 1, "one call, no retries");
    let error = results[0].as_ref().unwrap_err();
    assert!(error.is_permanent(), "{error}");
}

#[tokio::test]
async fn permanent_entry_codes_include_account_and_redaction_failures() {
    for code in ["InvalidAccountIdException", "RedactionFailure"] {
        let fake = FakeEventBridge::new(move |_, _| Ok(failed(code)));
        let publisher = Publisher::new(&fake, "bus").with_retry(no_wait());
        let results = publisher.publish_all(vec![event("k", 1)]).await;
        assert_eq!(fake.calls().len(), 1, "{code} is not retried");
        assert!(results[0].as_ref().unwrap_err().is_permanent(), "{code}");
    }
}

#[tokio::test(start_paused = true)]
async fn publishing_stops_at_the_deadline_instead_of_outliving_the_invocation() {
    // Every call is throttled; with 5 attempts and up to 2 s of backoff each, an unbounded
    // publish would run for seconds. The deadline cuts it short, with a retryable error.
    let throttled = FakeEventBridge::new(|_, _| Ok(failed("ThrottlingException")));
    let publisher = Publisher::new(&throttled, "bus").with_retry(RetryPolicy {
        max_attempts: 50,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(400),
    });
    let start = tokio::time::Instant::now();
    let deadline = start + Duration::from_secs(2);
    let results = publisher
        .publish_all_before(vec![event("k", 1)], Some(deadline))
        .await;
    assert!(
        tokio::time::Instant::now() <= deadline,
        "ended by the deadline"
    );
    let error = results[0].as_ref().unwrap_err();
    assert!(!error.is_permanent(), "{error}");
    assert!(
        throttled.calls().len() < 50,
        "stopped before the attempts ran out"
    );
}

#[tokio::test(start_paused = true)]
async fn a_call_that_hangs_past_the_deadline_is_abandoned() {
    struct Hanging;
    impl PutEventsApi for Hanging {
        async fn put_events(
            &self,
            _bus: &str,
            _entries: &[OutgoingEvent],
        ) -> Result<Vec<EntryOutcome>, TransportError> {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(Vec::new())
        }
    }
    let publisher = Publisher::new(Hanging, "bus").with_retry(no_wait());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    let results = publisher
        .publish_all_before(vec![event("k", 1)], Some(deadline))
        .await;
    assert!(tokio::time::Instant::now() <= deadline + Duration::from_millis(1));
    assert!(matches!(
        &results[0],
        Err(PublishError::Transport {
            permanent: false,
            ..
        })
    ));
}

#[tokio::test(start_paused = true)]
async fn no_call_starts_when_the_deadline_leaves_no_time_for_one() {
    let fake = FakeEventBridge::accepting();
    let publisher = Publisher::new(&fake, "bus").with_retry(no_wait());
    let deadline = tokio::time::Instant::now() + Duration::from_millis(100);
    let results = publisher
        .publish_all_before(vec![event("k", 1)], Some(deadline))
        .await;
    assert!(fake.calls().is_empty(), "nothing may be sent so late");
    let error = results[0].as_ref().unwrap_err();
    assert!(
        matches!(
            error,
            PublishError::Transport {
                permanent: false,
                attempts: 0,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("deadline"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn backoff_grows_and_is_jittered_within_bounds() {
    let policy = RetryPolicy {
        max_attempts: 6,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(1000),
    };
    for attempt in 2..=8 {
        let ceiling =
            Duration::from_millis(100 * (1 << (attempt - 2))).min(Duration::from_millis(1000));
        for _ in 0..50 {
            assert!(policy.backoff(attempt) <= ceiling);
        }
    }
    // Jitter: not every draw is the same.
    let draws: std::collections::HashSet<Duration> = (0..50).map(|_| policy.backoff(5)).collect();
    assert!(draws.len() > 1);
}

#[tokio::test]
async fn typed_publish_serialises_the_envelope() {
    let fake = FakeEventBridge::accepting();
    let publisher = Publisher::new(&fake, "bus");
    let shipped = OrderShipped {
        order_id: "o1".into(),
        customer_id: "c1".into(),
        customer_email: "c1@example.com".into(),
        carrier: "Parcelway".into(),
        tracking_number: "PW-1".into(),
        country: "US".into(),
    };
    let metadata = Metadata::origin(1, "corr".into(), "key-1".into());
    let published = publisher.publish(metadata, &shipped).await.unwrap();
    assert_eq!(published.event_id, "id-key-1");
    let sent = &fake.calls()[0][0];
    assert_eq!(sent.source, "eventrail.shipping");
    assert_eq!(sent.detail_type, "OrderShipped");
    let detail: serde_json::Value = serde_json::from_str(&sent.detail).unwrap();
    assert_eq!(detail["metadata"]["correlation_id"], "corr");
    assert_eq!(detail["data"]["tracking_number"], "PW-1");
}
