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

eventrail's LocalStack supervisor (crates/local) copies this file into
<FILESYSTEM_ROOT>/etc/localstack/init/ready.d/ before starting LocalStack. For a LocalStack
you run yourself in Docker, mount it at /etc/localstack/init/ready.d/ and install the
plugin package (infra/localstack-executor) into its Python environment.
"""
import logging

_log = logging.getLogger("eventrail.delivery")

try:
    from eventrail_executor import delivery as _delivery

    _patched = _delivery.install()
except Exception as _error:
    _log.error(
        "eventrail EventBridge delivery patch NOT installed (delivery rules are LocalStack's "
        "own: no DLQ, no retry policy, no Lambda permission check, 256 KiB entries): %s",
        _error,
    )
    raise
_log.info("eventrail EventBridge delivery patch installed: %s", ", ".join(_patched))
