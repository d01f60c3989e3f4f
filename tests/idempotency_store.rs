//! The DynamoDB idempotency store against a real DynamoDB API: LocalStack's, which the local
//! stack serves with moto (see README, "LocalStack without Docker"). `cargo xtask test` sets
//! `EVENTRAIL_ENDPOINT`; `AWS_ENDPOINT_URL_DYNAMODB` points the test at another emulator.
//! Each test creates its own table, as the template does (partition key `id`, TTL on
//! `expiration`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};
use eventrail_runtime::idempotency::dynamodb::{self, DynamoDbStore};
use eventrail_runtime::idempotency::{
    Completion, Done, Idempotency, IdempotencyError, IdempotencyStore, Record, Status, unix_millis,
};
use serde_json::json;

/// A client for the DynamoDB endpoint under test.
async fn client() -> aws_sdk_dynamodb::Client {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .or_else(|_| std::env::var("EVENTRAIL_ENDPOINT"))
        .expect("EVENTRAIL_ENDPOINT is not set: run `cargo xtask test` (it starts LocalStack)");
    let credentials =
        aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "eventrail-tests");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(eventrail_runtime::http_client())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(
            eventrail_observe::aws::region_or_default(None),
        ))
        .credentials_provider(credentials)
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&config)
}

/// A fresh table shaped like the template's idempotency tables.
async fn fresh_store(purpose: &str) -> DynamoDbStore {
    let client = client().await;
    let table = format!("eventrail-test-{purpose}-{}", uuid::Uuid::new_v4().simple());
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(dynamodb::KEY)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(dynamodb::KEY)
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "creating table {table}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            )
        });
    client
        .update_time_to_live()
        .table_name(&table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(dynamodb::EXPIRATION)
                .enabled(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "enabling TTL on {table}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            )
        });
    DynamoDbStore::new(client, table)
}

/// Of 20 concurrent callers with one key, exactly one runs the effect: the conditional
/// write is won once. The others are told it is in progress (retryable) or, once it is done,
/// get its stored result.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn of_twenty_concurrent_callers_exactly_one_runs_the_effect() {
    const CALLERS: usize = 20;
    let idempotency = Arc::new(Idempotency::new(fresh_store("race").await));
    let runs = Arc::new(AtomicUsize::new(0));
    let start = Arc::new(tokio::sync::Barrier::new(CALLERS));
    let mut callers = tokio::task::JoinSet::new();
    for caller in 0..CALLERS {
        let (idempotency, runs, start) = (
            Arc::clone(&idempotency),
            Arc::clone(&runs),
            Arc::clone(&start),
        );
        callers.spawn(async move {
            start.wait().await;
            idempotency
                .once(
                    "order-1#notify",
                    &json!("same payload"),
                    None,
                    || async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, String>(format!("sent by caller {caller}"))
                    },
                )
                .await
        });
    }
    let mut ran = Vec::new();
    let mut replayed = Vec::new();
    let mut in_progress = 0;
    while let Some(joined) = callers.join_next().await {
        match joined.unwrap() {
            Ok(Done::Ran(value)) => ran.push(value),
            Ok(Done::Replayed(value)) => replayed.push(value),
            Err(IdempotencyError::InProgress { .. }) => in_progress += 1,
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the effect ran more than once"
    );
    assert_eq!(ran.len(), 1, "ran: {ran:?}");
    assert_eq!(ran.len() + replayed.len() + in_progress, CALLERS);
    assert!(
        replayed.iter().all(|value| *value == ran[0]),
        "a replay returned another result: {replayed:?} vs {ran:?}"
    );
    // Afterwards every caller gets the stored result.
    let after: Done<String> = idempotency
        .once("order-1#notify", &json!("same payload"), None, || async {
            Ok::<_, String>("again".to_owned())
        })
        .await
        .unwrap();
    assert_eq!(after, Done::Replayed(ran[0].clone()));
}

/// The rest of the state machine on the real store: a payload mismatch is an error, a
/// failure deletes the record, an attempt past its deadline can be taken over.
#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn the_real_store_keeps_the_state_machine() {
    let store = fresh_store("states").await;
    let idempotency = Idempotency::new(store.clone());
    let ran: Done<u32> = idempotency
        .once("k-mismatch", &json!("first"), None, || async {
            Ok::<_, String>(1)
        })
        .await
        .unwrap();
    assert_eq!(ran, Done::Ran(1));
    let mismatch = idempotency
        .once("k-mismatch", &json!("second"), None, || async {
            Ok::<u32, String>(2)
        })
        .await
        .unwrap_err();
    assert!(
        matches!(mismatch, IdempotencyError::PayloadMismatch { .. }),
        "{mismatch}"
    );

    let failed = idempotency
        .once("k-failure", &json!("p"), None, || async {
            Err::<u32, _>("down")
        })
        .await
        .unwrap_err();
    assert!(
        matches!(failed, IdempotencyError::Effect("down")),
        "{failed}"
    );
    let retried: Done<u32> = idempotency
        .once("k-failure", &json!("p"), None, || async {
            Ok::<_, String>(3)
        })
        .await
        .unwrap();
    assert_eq!(retried, Done::Ran(3), "a failure must delete its record");

    // A crashed attempt: its in-progress record blocks until its deadline, then not.
    let now = SystemTime::now();
    let crashed = eventrail_runtime::idempotency::Record {
        key: "k-crash".into(),
        status: eventrail_runtime::idempotency::Status::InProgress,
        expires_at: eventrail_runtime::idempotency::unix_millis(now + Duration::from_secs(3600))
            / 1000,
        in_progress_until: Some(eventrail_runtime::idempotency::unix_millis(
            now + Duration::from_secs(60),
        )),
        payload_hash: eventrail_runtime::idempotency::payload_hash(&json!("p")),
        result: None,
        attempt: Some("crashed-attempt".into()),
    };
    store.put_in_progress(&crashed, 0).await.unwrap();
    let blocked = idempotency
        .once("k-crash", &json!("p"), None, || async {
            Ok::<u32, String>(4)
        })
        .await
        .unwrap_err();
    assert!(
        matches!(blocked, IdempotencyError::InProgress { .. }),
        "{blocked}"
    );
    let later = Idempotency::new(store.clone())
        .with_clock(move || now + Duration::from_secs(61))
        .once("k-crash", &json!("p"), None, || async {
            Ok::<u32, String>(5)
        })
        .await
        .unwrap();
    assert_eq!(later, Done::Ran(5));
}

/// Completing is a conditional write on the real store: only the attempt holding the
/// in-progress record completes it, a record another attempt took over is left alone, and a
/// key with no record is not created. A failed attempt deletes only its own record.
#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn only_the_holder_completes_or_deletes_a_record() {
    let store = fresh_store("holder").await;
    let now = SystemTime::now();
    let in_progress = |attempt: &str| Record {
        key: "k-holder".into(),
        status: Status::InProgress,
        expires_at: unix_millis(now + Duration::from_secs(3600)) / 1000,
        in_progress_until: Some(unix_millis(now + Duration::from_secs(60))),
        payload_hash: eventrail_runtime::idempotency::payload_hash(&json!("p")),
        result: None,
        attempt: Some(attempt.to_owned()),
    };
    store
        .put_in_progress(&in_progress("a"), unix_millis(now))
        .await
        .unwrap();
    let expires = unix_millis(now + Duration::from_secs(7200)) / 1000;
    assert_eq!(
        store
            .complete("k-holder", "b", "\"b\"", expires)
            .await
            .unwrap(),
        Completion::NotHeld,
        "another attempt's record must not be completed"
    );
    store.delete("k-holder", "b").await.unwrap();
    let held = Idempotency::new(store.clone())
        .once("k-holder", &json!("p"), None, || async {
            Ok::<u32, String>(0)
        })
        .await
        .unwrap_err();
    assert!(
        matches!(held, IdempotencyError::InProgress { .. }),
        "a's record survived b's delete and complete: {held}"
    );
    assert_eq!(
        store
            .complete("k-holder", "a", "\"a\"", expires)
            .await
            .unwrap(),
        Completion::Completed
    );
    let replayed: Done<String> = Idempotency::new(store.clone())
        .once("k-holder", &json!("p"), None, || async {
            Ok::<_, String>("again".to_owned())
        })
        .await
        .unwrap();
    assert_eq!(replayed, Done::Replayed("a".to_owned()));
    // Completed, it is no longer in progress: its holder cannot complete it twice.
    assert_eq!(
        store
            .complete("k-holder", "a", "\"x\"", expires)
            .await
            .unwrap(),
        Completion::NotHeld
    );
    // No record: completing does not create one.
    assert_eq!(
        store.complete("k-none", "a", "1", expires).await.unwrap(),
        Completion::NotHeld
    );
    let fresh: Done<u32> = Idempotency::new(store.clone())
        .once("k-none", &json!("p"), None, || async { Ok::<_, String>(9) })
        .await
        .unwrap();
    assert_eq!(fresh, Done::Ran(9), "complete must not have created k-none");
}

/// What the table stores is the canonical hash of the data as received: the same data written
/// otherwise is a duplicate, a field more is a mismatch.
#[tokio::test]
#[ignore = "needs LocalStack: cargo xtask test"]
async fn the_real_store_compares_the_canonical_hash() {
    let idempotency = Idempotency::new(fresh_store("canonical").await);
    let first: serde_json::Value = serde_json::from_str(r#"{"a":1,"b":"x"}"#).unwrap();
    let respelled: serde_json::Value =
        serde_json::from_str("{ \"b\": \"\\u0078\", \"a\": 1.0 }").unwrap();
    let extended: serde_json::Value = serde_json::from_str(r#"{"a":1,"b":"x","c":null}"#).unwrap();
    let ran: Done<u32> = idempotency
        .once("k-canonical", &first, None, || async { Ok::<_, String>(1) })
        .await
        .unwrap();
    assert_eq!(ran, Done::Ran(1));
    let again: Done<u32> = idempotency
        .once("k-canonical", &respelled, None, || async {
            Ok::<_, String>(2)
        })
        .await
        .unwrap();
    assert_eq!(again, Done::Replayed(1));
    let mismatch = idempotency
        .once("k-canonical", &extended, None, || async {
            Ok::<u32, String>(3)
        })
        .await
        .unwrap_err();
    assert!(
        matches!(mismatch, IdempotencyError::PayloadMismatch { .. }),
        "{mismatch}"
    );
}
