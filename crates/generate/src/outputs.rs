//! The stack outputs of a function: its name and its queues' URLs, under the names
//! [`FunctionOutputs`] gives them.

use std::fmt::Write as _;

use eventrail_contract::names::{DLQ_URL_VAR, FunctionOutputs, IDEMPOTENCY_TABLE_VAR};
use eventrail_contract::{Delivery, FunctionDeclaration, QueueSource, Trigger};

use crate::schedule::schedule_name;

/// The outputs of one function, indented for `Outputs`.
pub fn function_outputs(f: &FunctionDeclaration) -> String {
    let trigger = f.declaration.trigger();
    let failure_role = if trigger.is_sqs_fed() {
        "Dead-letter queue of the queue that feeds"
    } else {
        "On-failure destination and poison-event queue of"
    };
    let name = &f.name;
    let id = f.logical_id();
    let outputs = FunctionOutputs { logical_id: &id };
    let d = &f.declaration;
    let mut out = format!(
        r#"  {function_name}:
    Description: Name of the {name} function
    Value: !Ref {id}
  {failure_queue_url}:
    Description: {failure_role} {name} ({DLQ_URL_VAR})
    Value: !Ref {id}FailureQueue
"#,
        function_name = outputs.function_name(),
        failure_queue_url = outputs.failure_queue_url(),
    );
    match &trigger {
        Trigger::Rule {
            delivery: Delivery::Queue,
        } => {
            let _ = write!(
                out,
                "  {}:\n    Description: Buffer queue between the rule and {name}\n    Value: !Ref {id}BufferQueue\n",
                outputs.buffer_queue_url()
            );
        }
        Trigger::Queue(QueueSource::New) => {
            let _ = write!(
                out,
                "  {}:\n    Description: Source queue of {name} (send it the messages to handle)\n    Value: !Ref {id}SourceQueue\n",
                outputs.source_queue_url()
            );
        }
        Trigger::Schedule(_) => {
            let _ = write!(
                out,
                "  {}:\n    Description: Name of the schedule of {name} (EventBridge Scheduler)\n    Value: !Sub \"{}\"\n",
                outputs.schedule_name(),
                schedule_name(f)
            );
        }
        _ => {}
    }
    if d.is_consumer() {
        let _ = write!(
            out,
            r#"  {delivery_dlq_url}:
    Description: Dead-letter queue of the {id}{rule} rule target (EventBridge delivery failures)
    Value: !Ref {id}DeliveryDlq
"#,
            delivery_dlq_url = outputs.delivery_dlq_url(),
            rule = d.rule_name()
        );
    }
    for (queue, q) in &d.queues {
        let qid = eventrail_contract::declaration::logical_id(queue);
        let _ = write!(
            out,
            r#"  {queue_url}:
    Description: Queue {queue} of {name} ({env})
    Value: !Ref {id}{qid}Queue
"#,
            queue_url = outputs.queue_url(&qid),
            env = q.env
        );
    }
    if d.idempotency.is_some() {
        let _ = write!(
            out,
            r#"  {table_name}:
    Description: Idempotency records of {name} ({IDEMPOTENCY_TABLE_VAR})
    Value: !Ref {id}IdempotencyTable
"#,
            table_name = outputs.idempotency_table_name(),
        );
    }
    out
}
