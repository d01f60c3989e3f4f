//! The tap: a catch-all rule on the bus whose target is an SQS queue the tap creates, so
//! every application event can be read back.

use serde_json::{Value, json};

use crate::aws::{self, Clients};
use crate::error::{ObserveError, Result, aws as aws_error};
use crate::event::ObservedEvent;
use crate::flow::{Flow, group_by_correlation};

/// The tap's default pattern: every event whose source starts with the app's prefix.
pub fn catch_all_pattern(source_prefix: &str) -> Value {
    json!({"source": [{"prefix": source_prefix}]})
}

/// A rule + queue pair reading events off the bus. Delete it with [`Tap::delete`] when done;
/// a tap dropped without that (a failing test) deletes itself from a helper thread.
#[derive(Debug)]
pub struct Tap {
    clients: Clients,
    bus_name: String,
    rule_name: String,
    rule_arn: String,
    queue_url: String,
    events: Vec<ObservedEvent>,
    undecodable: Vec<String>,
    deleted: bool,
}

impl Tap {
    /// Creates a tap on `bus_name` for every event whose source starts with `source_prefix`.
    pub async fn create(clients: &Clients, bus_name: &str, source_prefix: &str) -> Result<Self> {
        Self::create_with_pattern(clients, bus_name, &catch_all_pattern(source_prefix)).await
    }

    /// Creates a tap for events matching `pattern`.
    pub async fn create_with_pattern(
        clients: &Clients,
        bus_name: &str,
        pattern: &Value,
    ) -> Result<Self> {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("eventrail-tap-{}", &suffix[..12]);
        Self::create_named(clients, bus_name, pattern, &name, &[]).await
    }

    /// Creates a tap named `name` (rule and queue) for events matching `pattern`, its queue
    /// tagged with `queue_tags`.
    pub async fn create_named(
        clients: &Clients,
        bus_name: &str,
        pattern: &Value,
        name: &str,
        queue_tags: &[(String, String)],
    ) -> Result<Self> {
        let name = name.to_owned();
        let queue_url = clients
            .sqs
            .create_queue()
            .queue_name(&name)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::MessageRetentionPeriod,
                "3600",
            )
            .set_tags((!queue_tags.is_empty()).then(|| queue_tags.iter().cloned().collect()))
            .send()
            .await
            .map_err(aws_error("sqs:CreateQueue", &name))?
            .queue_url()
            .unwrap_or_default()
            .to_owned();
        let queue_arn = aws::queue_arn(&clients.sqs, &queue_url).await?;
        let rule_arn = clients
            .events
            .put_rule()
            .name(&name)
            .event_bus_name(bus_name)
            .event_pattern(pattern.to_string())
            .description("eventrail observer tap: copies events to an SQS queue for inspection")
            .send()
            .await
            .map_err(aws_error("events:PutRule", format!("{bus_name}/{name}")))?
            .rule_arn()
            .unwrap_or_default()
            .to_owned();
        // Only this rule may send to the queue.
        let policy = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "TapRuleSendsEvents",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}
            }]
        });
        clients
            .sqs
            .set_queue_attributes()
            .queue_url(&queue_url)
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::Policy,
                policy.to_string(),
            )
            .send()
            .await
            .map_err(aws_error("sqs:SetQueueAttributes", &queue_url))?;
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("tap")
            .arn(&queue_arn)
            .build()
            .map_err(aws_error("events:PutTargets", &name))?;
        let output = clients
            .events
            .put_targets()
            .rule(&name)
            .event_bus_name(bus_name)
            .targets(target)
            .send()
            .await
            .map_err(aws_error("events:PutTargets", format!("{bus_name}/{name}")))?;
        if output.failed_entry_count() > 0 {
            return Err(ObserveError::Aws {
                operation: "events:PutTargets",
                target: format!("{bus_name}/{name}"),
                message: format!("{:?}", output.failed_entries()),
            });
        }
        Ok(Self {
            clients: clients.clone(),
            bus_name: bus_name.to_owned(),
            rule_name: name,
            rule_arn,
            queue_url,
            events: Vec::new(),
            undecodable: Vec::new(),
            deleted: false,
        })
    }

    /// The tap rule's ARN (a replay can be limited to it with `FilterArns`).
    pub fn rule_arn(&self) -> &str {
        &self.rule_arn
    }

    /// The tap's name (its rule's and its queue's).
    pub fn name(&self) -> &str {
        &self.rule_name
    }

    /// The bus the tap's rule is on.
    pub fn bus_name(&self) -> &str {
        &self.bus_name
    }

    /// The tap queue's URL.
    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    /// Reads everything waiting in the tap queue (waiting up to `wait_seconds` for the first
    /// message); returns how many new events arrived.
    pub async fn poll(&mut self, wait_seconds: i32) -> Result<usize> {
        let mut received = 0;
        let mut wait = wait_seconds;
        loop {
            let batch = aws::receive(&self.clients.sqs, &self.queue_url, wait, 60).await?;
            if batch.is_empty() {
                return Ok(received);
            }
            wait = 0;
            let receipts: Vec<String> = batch.iter().map(|m| m.receipt_handle.clone()).collect();
            for message in batch {
                match ObservedEvent::from_json(&message.body) {
                    Ok(event) => {
                        self.events.push(event);
                        received += 1;
                    }
                    Err(reason) => self.undecodable.push(format!("{reason}: {}", message.body)),
                }
            }
            aws::delete(&self.clients.sqs, &self.queue_url, &receipts).await?;
        }
    }

    /// Takes the events read so far out of the tap (for a live view that prints them once).
    pub fn take_events(&mut self) -> Vec<ObservedEvent> {
        std::mem::take(&mut self.events)
    }

    /// Every event read so far, in arrival order (duplicated deliveries included).
    pub fn events(&self) -> &[ObservedEvent] {
        &self.events
    }

    /// Messages of the tap queue that were not EventBridge events.
    pub fn undecodable(&self) -> &[String] {
        &self.undecodable
    }

    /// The flow of one correlation id.
    pub fn flow(&self, correlation_id: &str) -> Flow {
        group_by_correlation(&self.events)
            .remove(correlation_id)
            .unwrap_or_else(|| Flow::new(correlation_id))
    }

    /// Removes the rule's target, the rule and the queue.
    pub async fn delete(mut self) -> Result<()> {
        self.deleted = true;
        delete_parts(
            &self.clients,
            &self.bus_name,
            &self.rule_name,
            &self.queue_url,
        )
        .await
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        // The caller's runtime may be unwinding: use a thread with its own runtime and
        // clients. Best effort; a tap left behind only costs a rule and a queue.
        let config = self.clients.sdk_config.clone();
        let (bus, rule, queue) = (
            self.bus_name.clone(),
            self.rule_name.clone(),
            self.queue_url.clone(),
        );
        let cleanup = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let clients = Clients::from_sdk_config(config);
                let _ = tokio::time::timeout(
                    std::time::Duration::from_secs(10),
                    delete_parts(&clients, &bus, &rule, &queue),
                )
                .await;
            });
        });
        let _ = cleanup.join();
    }
}

/// Removes a tap's parts: the rule's target, the rule, the queue (each may already be gone).
pub(crate) async fn delete_parts(
    clients: &Clients,
    bus: &str,
    rule_name: &str,
    queue_url: &str,
) -> Result<()> {
    let rule = format!("{bus}/{rule_name}");
    clients
        .events
        .remove_targets()
        .rule(rule_name)
        .event_bus_name(bus)
        .ids("tap")
        .send()
        .await
        .map_err(aws_error("events:RemoveTargets", &rule))?;
    clients
        .events
        .delete_rule()
        .name(rule_name)
        .event_bus_name(bus)
        .send()
        .await
        .map_err(aws_error("events:DeleteRule", &rule))?;
    clients
        .sqs
        .delete_queue()
        .queue_url(queue_url)
        .send()
        .await
        .map_err(aws_error("sqs:DeleteQueue", queue_url))?;
    Ok(())
}
