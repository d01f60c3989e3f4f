//! A live view of the bus: a temporary tap (rule + queue, unique names starting with
//! `eventrail-tail-`) that is removed when the view ends. The queue carries a lease in its
//! tags (host, process id, expiry) that the running view renews; a view killed before it
//! could clean up leaves a tap whose lease runs out (or whose process is gone), and the next
//! view removes it before starting.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::aws::Clients;
use crate::error::{Result, aws as aws_error};
use crate::tap::Tap;

/// Prefix of every temporary tail tap's rule and queue.
pub const TAIL_PREFIX: &str = "eventrail-tail-";
/// How long a lease holds without renewal.
pub const LEASE: Duration = Duration::from_secs(120);
/// How often a running tail renews its lease.
const RENEW_EVERY: Duration = Duration::from_secs(30);

const TAG_HOST: &str = "eventrail-tail-host";
const TAG_PID: &str = "eventrail-tail-pid";
const TAG_EXPIRES: &str = "eventrail-tail-expires";

/// The pattern of a tail: everything on the bus (every EventBridge event has `version`
/// "0"), or only what the filters given select.
pub fn tail_pattern(
    source: Option<&str>,
    detail_type: Option<&str>,
    correlation_id: Option<&str>,
) -> Value {
    let mut pattern = serde_json::Map::new();
    if let Some(source) = source {
        pattern.insert("source".into(), json!([source]));
    }
    if let Some(detail_type) = detail_type {
        pattern.insert("detail-type".into(), json!([detail_type]));
    }
    if let Some(id) = correlation_id {
        pattern.insert(
            "detail".into(),
            json!({"metadata": {"correlation_id": [id]}}),
        );
    }
    if pattern.is_empty() {
        pattern.insert("version".into(), json!(["0"]));
    }
    Value::Object(pattern)
}

/// A running tail.
#[derive(Debug)]
pub struct Tail {
    tap: Tap,
    clients: Clients,
    renewed: Instant,
}

impl Tail {
    /// Removes stale tails of earlier runs, then creates this one's rule and queue.
    /// Returns the tail and the names of the stale taps removed.
    pub async fn start(
        clients: &Clients,
        bus_name: &str,
        pattern: &Value,
    ) -> Result<(Self, Vec<String>)> {
        let cleaned = clean_stale_tails(clients, bus_name).await?;
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("{TAIL_PREFIX}{}-{}", std::process::id(), &suffix[..8]);
        let tap = Tap::create_named(clients, bus_name, pattern, &name, &lease_tags()).await?;
        Ok((
            Self {
                tap,
                clients: clients.clone(),
                renewed: Instant::now(),
            },
            cleaned,
        ))
    }

    /// The tap (to poll and read events).
    pub fn tap(&mut self) -> &mut Tap {
        &mut self.tap
    }

    /// Renews the lease when it is due.
    pub async fn keep_alive(&mut self) -> Result<()> {
        if self.renewed.elapsed() < RENEW_EVERY {
            return Ok(());
        }
        let url = self.tap.queue_url().to_owned();
        self.clients
            .sqs
            .tag_queue()
            .queue_url(&url)
            .set_tags(Some(lease_tags().into_iter().collect()))
            .send()
            .await
            .map_err(aws_error("sqs:TagQueue", &url))?;
        self.renewed = Instant::now();
        Ok(())
    }

    /// Removes the rule and the queue.
    pub async fn stop(self) -> Result<()> {
        self.tap.delete().await
    }
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn lease_tags() -> Vec<(String, String)> {
    vec![
        (TAG_HOST.to_owned(), host()),
        (TAG_PID.to_owned(), std::process::id().to_string()),
        (
            TAG_EXPIRES.to_owned(),
            (now_seconds() + LEASE.as_secs()).to_string(),
        ),
    ]
}

/// Whether a lease (a tail queue's tags) belongs to a tail that is gone: expired, or on this
/// host with a process that no longer runs. Without a lease nothing can be said: not stale.
pub fn lease_is_stale(
    host_tag: Option<&str>,
    pid_tag: Option<&str>,
    expires_tag: Option<&str>,
    now: u64,
) -> bool {
    if let Some(expires) = expires_tag.and_then(|e| e.parse::<u64>().ok())
        && expires < now
    {
        return true;
    }
    let proc_available = std::path::Path::new("/proc/self").exists();
    match (host_tag, pid_tag.and_then(|p| p.parse::<u32>().ok())) {
        (Some(h), Some(pid)) if proc_available && h == host() => !tail_process_runs(pid),
        _ => false,
    }
}

/// Whether `pid` is a running (not zombie) process of a program named like this one, as
/// /proc tells (a pid reused by another program does not count).
fn tail_process_runs(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `pid (comm) state ...`: the state follows the last `)`.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or("");
    if matches!(state, "Z" | "X" | "x") {
        return false;
    }
    let program = |path: String| {
        std::fs::read(path).ok().and_then(|cmd| {
            let first = cmd.split(|b| *b == 0).next()?.to_vec();
            let text = String::from_utf8(first).ok()?;
            std::path::Path::new(&text)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
    };
    match (
        program(format!("/proc/{pid}/cmdline")),
        program("/proc/self/cmdline".to_owned()),
    ) {
        (Some(theirs), Some(mine)) => theirs == mine,
        _ => true,
    }
}

/// Removes the tails of earlier runs that are gone (see [`lease_is_stale`]), and tail rules
/// whose queue is gone; returns the names removed. Running tails are left alone.
pub async fn clean_stale_tails(clients: &Clients, bus_name: &str) -> Result<Vec<String>> {
    let queues = clients
        .sqs
        .list_queues()
        .queue_name_prefix(TAIL_PREFIX)
        .send()
        .await
        .map_err(aws_error("sqs:ListQueues", TAIL_PREFIX))?;
    let mut live_queues = Vec::new();
    let mut removed = Vec::new();
    let now = now_seconds();
    for url in queues.queue_urls() {
        let name = url.rsplit('/').next().unwrap_or_default().to_owned();
        let tags = clients
            .sqs
            .list_queue_tags()
            .queue_url(url)
            .send()
            .await
            .map_err(aws_error("sqs:ListQueueTags", url))?;
        let tag = |key: &str| tags.tags().and_then(|t| t.get(key)).map(String::as_str);
        if lease_is_stale(tag(TAG_HOST), tag(TAG_PID), tag(TAG_EXPIRES), now) {
            remove_rule(clients, bus_name, &name).await?;
            clients
                .sqs
                .delete_queue()
                .queue_url(url)
                .send()
                .await
                .map_err(aws_error("sqs:DeleteQueue", url))?;
            removed.push(name);
        } else {
            live_queues.push(name);
        }
    }
    // A rule whose queue is gone (the queue is created first and deleted last, so this is a
    // tail whose queue someone else removed).
    let rules = clients
        .events
        .list_rules()
        .event_bus_name(bus_name)
        .name_prefix(TAIL_PREFIX)
        .send()
        .await
        .map_err(aws_error("events:ListRules", bus_name))?;
    for rule in rules.rules() {
        let Some(name) = rule.name() else { continue };
        if !live_queues.iter().any(|q| q == name) && !removed.iter().any(|r| r == name) {
            remove_rule(clients, bus_name, name).await?;
            removed.push(name.to_owned());
        }
    }
    Ok(removed)
}

/// Removes a rule and its targets; a rule that is already gone is fine.
async fn remove_rule(clients: &Clients, bus_name: &str, name: &str) -> Result<()> {
    let targets = clients
        .events
        .list_targets_by_rule()
        .rule(name)
        .event_bus_name(bus_name)
        .send()
        .await;
    let Ok(targets) = targets else {
        // No such rule.
        return Ok(());
    };
    let ids: Vec<String> = targets
        .targets()
        .iter()
        .map(|t| t.id().to_owned())
        .collect();
    if !ids.is_empty() {
        clients
            .events
            .remove_targets()
            .rule(name)
            .event_bus_name(bus_name)
            .set_ids(Some(ids))
            .send()
            .await
            .map_err(aws_error("events:RemoveTargets", name))?;
    }
    clients
        .events
        .delete_rule()
        .name(name)
        .event_bus_name(bus_name)
        .send()
        .await
        .map_err(aws_error("events:DeleteRule", name))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_selects_what_the_filters_say_and_everything_without_them() {
        assert_eq!(tail_pattern(None, None, None), json!({"version": ["0"]}));
        assert_eq!(
            tail_pattern(Some("app.intake"), None, Some("c-1")),
            json!({"source": ["app.intake"],
                   "detail": {"metadata": {"correlation_id": ["c-1"]}}})
        );
    }

    #[test]
    fn a_lease_is_stale_when_expired_or_its_process_is_gone() {
        let now = 1_000;
        assert!(lease_is_stale(None, None, Some("999"), now));
        assert!(!lease_is_stale(None, None, Some("1001"), now));
        assert!(!lease_is_stale(None, None, None, now));
        if std::path::Path::new("/proc/self").exists() {
            let me = std::process::id().to_string();
            assert!(!lease_is_stale(Some(&host()), Some(&me), Some("1001"), now));
            // Beyond the kernel's largest pid.
            assert!(lease_is_stale(
                Some(&host()),
                Some("4294967"),
                Some("1001"),
                now
            ));
            assert!(!lease_is_stale(
                Some("elsewhere"),
                Some("4294967"),
                Some("1001"),
                now
            ));
        }
    }
}
