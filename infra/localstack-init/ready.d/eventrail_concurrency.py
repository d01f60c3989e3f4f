"""eventrail's LocalStack 4.13.1 init hook (ready stage): SQS event source mappings run
concurrent invocations up to ScalingConfig.MaximumConcurrency, and each function's
concurrency is measured.

The bug: LocalStack 4.13.1 runs one poller per SQS event source mapping, whose invocations are
synchronous, one after the other, and ignores ScalingConfig.MaximumConcurrency: a mapping never
runs two invocations at once, so a concurrency cap can neither be reached nor broken locally.

This hook installs eventrail_executor.esm_concurrency (the executor plugin package): each SQS
mapping polls with MaximumConcurrency loops (five without a cap, as AWS starts with), each with
at most one invocation in flight. It also serves GET/DELETE /_eventrail/concurrency
(eventrail_executor.concurrency): each function's in-flight and peak concurrent invocations,
counted by the executor where the processes run.

It only patches LocalStack 4.13.1: on another version, or when what it patches is missing, it
logs an ERROR and raises, so LocalStack's log shows "Error while running script".
"""
import logging

_log = logging.getLogger("eventrail.concurrency")

try:
    from eventrail_executor import concurrency as _concurrency
    from eventrail_executor import esm_concurrency as _esm

    _done = _esm.install()
    _concurrency.install_route()
except Exception as _error:
    _log.error(
        "eventrail SQS event source mapping concurrency patch NOT installed (one invocation at "
        "a time per mapping, MaximumConcurrency ignored): %s",
        _error,
    )
    raise
_log.info("eventrail ESM concurrency patch installed: %s", ", ".join(_done) or "already")
