//! Claim checks: a dead letter too large for a queue message keeps its event in the
//! failed-events bucket and carries `event_stored_at` (bucket, key) instead. Reading a failure
//! queue puts the stored event back into the letter, so show, redrive and watch see the event
//! whole, as if it had travelled in the message.

use eventrail_contract::declaration::failed_events_prefix;
use serde_json::Value;

use crate::aws::RawMessage;
use crate::error::{ObserveError, Result};

/// An S3 client for `sdk`: path-style addressing when an endpoint is set (LocalStack serves
/// buckets on one host).
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let mut config = aws_sdk_s3::config::Builder::from(sdk);
    if sdk.endpoint_url().is_some() {
        config = config.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(config.build())
}

/// The bucket and key a message's dead letter points at, when its event was stored apart.
pub fn stored_event_location(body: &Value) -> Option<(String, String)> {
    if !body.get("event").is_none_or(Value::is_null) {
        return None;
    }
    let stored = body.get("event_stored_at")?;
    Some((
        stored.get("bucket")?.as_str()?.to_owned(),
        stored.get("key")?.as_str()?.to_owned(),
    ))
}

/// Reads a stored event.
pub async fn read_stored_event(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Value> {
    let bytes = read_stored_bytes(s3, bucket, key).await?;
    let text = std::str::from_utf8(&bytes).map_err(|e| ObserveError::StoredEvent {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        message: format!("not JSON: {e}"),
    })?;
    crate::json::parse(text).map_err(|e| ObserveError::StoredEvent {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        message: format!("not JSON: {e}"),
    })
}

/// Reads a stored object's bytes.
async fn read_stored_bytes(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Vec<u8>> {
    let failed = |message: String| ObserveError::StoredEvent {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        message,
    };
    let object = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| failed(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
    let bytes = object
        .body
        .collect()
        .await
        .map_err(|e| failed(e.to_string()))?
        .into_bytes();
    Ok(bytes.to_vec())
}

/// Puts each stored event back into its message's dead letter (the pointer stays, so it is
/// clear where the event came from). A message whose event cannot be read is left as it is
/// and the error returned after the others are done.
pub async fn inline_stored_events(
    s3: &aws_sdk_s3::Client,
    messages: &mut [RawMessage],
) -> Result<()> {
    let mut first_error = None;
    for message in messages.iter_mut() {
        let Ok(mut body) = serde_json::from_str::<Value>(&message.body) else {
            continue;
        };
        let Some((bucket, key)) = stored_event_location(&body) else {
            continue;
        };
        // A payload the function could not decode was stored as its bytes: it goes back as
        // the letter's `event_raw`, as it would have travelled in the message.
        if body
            .pointer("/event_stored_at/format")
            .and_then(Value::as_str)
            == Some("raw")
        {
            match read_stored_bytes(s3, &bucket, &key).await {
                Ok(bytes) => {
                    body["event_raw"] =
                        serde_json::to_value(eventrail_contract::RawEvent::from_bytes(&bytes))
                            .unwrap_or(Value::Null);
                    message.body = body.to_string();
                }
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
            continue;
        }
        match read_stored_event(s3, &bucket, &key).await {
            Ok(event) => {
                body["event"] = event;
                message.body = body.to_string();
            }
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Checks a claim check before it is followed: the object must be in the stack's own
/// failed-events bucket (`own_bucket`), directly under the function's prefix
/// (`<function>/<name>`, no further `/`). Anything else is refused with the reason.
pub fn check_claim(
    own_bucket: Option<&str>,
    function: &str,
    bucket: &str,
    key: &str,
) -> Result<(), String> {
    let place = format!("s3://{bucket}/{key}");
    let Some(own_bucket) = own_bucket else {
        return Err(format!(
            "refused: the event is stored at {place}, and the stack has no failed-events bucket \
             output (FailedEventsBucketName) to check it against; redeploy the template"
        ));
    };
    if bucket != own_bucket {
        return Err(format!(
            "refused: the event is stored at {place}, outside the stack's failed-events bucket \
             `{own_bucket}`"
        ));
    }
    // The prefix the template tells the function to write under (its declared name).
    let prefix = failed_events_prefix(function);
    let name = key.strip_prefix(&prefix).unwrap_or_default();
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(format!(
            "refused: the event is stored at {place}, outside {function}'s prefix `{prefix}` \
             of the failed-events bucket"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_letter_without_its_event_points_at_a_stored_one() {
        let pointer = json!({"kind": "poison", "event": null,
            "event_stored_at": {"bucket": "b", "key": "worker/e-1.json", "bytes": 9}});
        assert_eq!(
            stored_event_location(&pointer),
            Some(("b".to_owned(), "worker/e-1.json".to_owned()))
        );
        let whole = json!({"kind": "poison", "event": {"id": "e-1"}});
        assert_eq!(stored_event_location(&whole), None);
        let inlined = json!({"kind": "poison", "event": {"id": "e-1"},
            "event_stored_at": {"bucket": "b", "key": "k", "bytes": 9}});
        assert_eq!(stored_event_location(&inlined), None, "already read back");
    }

    #[test]
    fn a_claim_check_must_point_into_the_functions_own_place() {
        assert_eq!(
            check_claim(Some("b"), "worker", "b", "worker/e-1.json"),
            Ok(())
        );
        for (bucket, key) in [
            ("other", "worker/e-1.json"),
            ("b", "planner/e-1.json"),
            ("b", "worker/"),
            ("b", "worker/a/e-1.json"),
            ("b", "worker/.."),
            ("b", "workerx/e-1.json"),
            ("b", "/worker/e-1.json"),
        ] {
            let refused = check_claim(Some("b"), "worker", bucket, key);
            assert!(
                refused.as_ref().is_err_and(|r| r.starts_with("refused")),
                "{bucket} {key}"
            );
        }
        assert!(check_claim(None, "worker", "b", "worker/e-1.json").is_err());
    }
}
