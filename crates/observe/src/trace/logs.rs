//! The functions' logs in CloudWatch Logs (`/aws/lambda/<function name>`), searched with
//! FilterLogEvents for a quoted term and read page by page. [`LogSearch`] is the seam the
//! lookup is written against, so it is tested without AWS.

use std::future::Future;

use super::error::TraceError;

/// The log group Lambda writes a function's output to.
pub fn log_group(function_name: &str) -> String {
    format!("/aws/lambda/{function_name}")
}

/// A FilterLogEvents pattern matching messages that contain `text` exactly (a quoted term,
/// case-sensitive). Text holding a double quote or a line break cannot be a quoted term.
pub fn quoted_term(text: &str) -> Result<String, TraceError> {
    if text.is_empty() || text.contains(['"', '\n', '\r']) {
        return Err(TraceError::BadKey {
            key: text.to_owned(),
        });
    }
    Ok(format!("\"{text}\""))
}

/// One log event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// The message (one or more lines of the function's output).
    pub message: String,
}

/// What searching one log group gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupSearch {
    /// The matching events.
    Found(Vec<LogEvent>),
    /// The group does not exist (the function never wrote a line).
    MissingGroup,
}

/// Searches log groups.
pub trait LogSearch: Sync {
    /// The events of `group` since `since_ms` (Unix milliseconds) whose message matches
    /// `pattern` (a FilterLogEvents pattern), every page of them.
    fn search(
        &self,
        group: &str,
        pattern: &str,
        since_ms: i64,
    ) -> impl Future<Output = Result<GroupSearch, TraceError>> + Send;
}

/// [`LogSearch`] over CloudWatch Logs.
#[derive(Debug, Clone)]
pub struct CloudWatchLogs {
    client: aws_sdk_cloudwatchlogs::Client,
}

/// The most pages one group's search reads (10,000 events a page): a runaway search stops.
const MAX_PAGES: usize = 200;

impl CloudWatchLogs {
    /// Searches with a client built from `config` (the stack's SDK configuration).
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            client: aws_sdk_cloudwatchlogs::Client::new(config),
        }
    }
}

impl LogSearch for CloudWatchLogs {
    async fn search(
        &self,
        group: &str,
        pattern: &str,
        since_ms: i64,
    ) -> Result<GroupSearch, TraceError> {
        let mut events = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let answer = self
                .client
                .filter_log_events()
                .log_group_name(group)
                .filter_pattern(pattern)
                .start_time(since_ms)
                .set_next_token(token.clone())
                .send()
                .await;
            let page = match answer {
                Ok(page) => page,
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_not_found_exception()) =>
                {
                    return Ok(GroupSearch::MissingGroup);
                }
                Err(error) => {
                    return Err(TraceError::Observe(crate::error::aws(
                        "logs:FilterLogEvents",
                        group,
                    )(error)));
                }
            };
            events.extend(page.events().iter().filter_map(|event| {
                Some(LogEvent {
                    message: event.message()?.to_owned(),
                })
            }));
            let next = page.next_token().map(str::to_owned);
            if next.is_none() || next == token {
                return Ok(GroupSearch::Found(events));
            }
            token = next;
        }
        Ok(GroupSearch::Found(events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_becomes_a_quoted_term() {
        assert_eq!(quoted_term("p-1").unwrap(), "\"p-1\"");
        assert_eq!(log_group("app-parcels"), "/aws/lambda/app-parcels");
        for bad in ["", "a\"b", "a\nb"] {
            assert!(
                matches!(quoted_term(bad), Err(TraceError::BadKey { .. })),
                "{bad:?}"
            );
        }
    }
}
