"""eventrail's LocalStack 4.13.1 init hook (ready stage): EventBridge delivery rules as on AWS.

The bug: LocalStack 4.13.1's events provider ignores a rule target's RetryPolicy and
DeadLetterConfig (a failed delivery is only logged as TargetDeliveryFailure), invokes a
Lambda target without looking at the function's resource-based policy, and rejects a
PutEvents Detail of 256 KiB or more (AWS allows 1 MB entries since January 2026).

This hook installs eventrail_executor.delivery (the executor plugin package, installed next
to LocalStack): every target sender's send_event checks a Lambda target's resource policy,
sends non-retryable failures (NO_PERMISSIONS, NO_RESOURCE, ...) straight to the target's
dead-letter queue with EventBridge's message attributes, retries throttling/5xx/connection
failures with a short back-off until the RetryPolicy runs out and then dead-letters them;
validate_event counts the entry as AWS does and allows up to 1 MiB. Nothing else changes.

It only patches LocalStack 4.13.1: on another version, or when a function it patches is
missing, it logs an ERROR and raises, so LocalStack's log shows "Error while running script".

How this file reaches LocalStack: see eventrail_executor.ready_hook.
"""
from eventrail_executor.ready_hook import install_patch

install_patch(
    "delivery",
    "EventBridge delivery",
    "delivery rules are LocalStack's own: no DLQ, no retry policy, no Lambda permission check, 256 KiB entries",
)
