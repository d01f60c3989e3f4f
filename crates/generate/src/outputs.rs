//! The stack outputs of a function: its name and its queues' URLs, under the names
//! [`FunctionOutputs`] gives them.

use std::fmt::Write as _;

use eventrail_contract::names::{DLQ_URL_VAR, FunctionOutputs, IDEMPOTENCY_TABLE_VAR};
use eventrail_contract::{FunctionDeclaration, Invoke};

/// The outputs of one function, indented for `Outputs`.
pub fn function_outputs(f: &FunctionDeclaration) -> String {
    let name = &f.name;
    let id = f.logical_id();
    let outputs = FunctionOutputs { logical_id: &id };
    let d = &f.declaration;
    let mut out = format!(
        r#"  {function_name}:
    Description: Name of the {name} function
    Value: !Ref {id}
  {failure_queue_url}:
    Description: On-failure destination and poison-event queue of {name} ({DLQ_URL_VAR})
    Value: !Ref {id}FailureQueue
"#,
        function_name = outputs.function_name(),
        failure_queue_url = outputs.failure_queue_url(),
    );
    if d.invoke == Invoke::Rule {
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
