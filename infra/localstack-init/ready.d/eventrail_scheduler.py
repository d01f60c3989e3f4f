"""eventrail's LocalStack 4.13.1 init hook (ready stage): EventBridge Scheduler schedules fire.

The bug: LocalStack 4.13.1 stores Scheduler schedules (API and CloudFormation's
AWS::Scheduler::Schedule) but never invokes their targets, and its CloudFormation provider
cannot update a schedule (NotImplementedError), so a stack update that changes one fails.

This hook installs eventrail_executor.scheduler (the executor plugin package, installed next
to LocalStack): a runner reads the stored schedules every second and fires each ENABLED one on
its rate/cron/at expression in its timezone, between its start and end dates; a firing assumes
the target's execution role and invokes the Lambda function asynchronously (or sends to the
SQS queue) with the context attributes substituted in Input, retries per the RetryPolicy and
then sends the input to the DeadLetterConfig queue with Scheduler's message attributes.
AWS::Scheduler::Schedule updates call UpdateSchedule.

It only patches LocalStack 4.13.1: on another version, or when what it patches is missing, it
logs an ERROR and raises, so LocalStack's log shows "Error while running script".
eventrail's LocalStack supervisor (crates/local) copies this file into
<FILESYSTEM_ROOT>/etc/localstack/init/ready.d/ before starting LocalStack.
"""
import logging

_log = logging.getLogger("eventrail.scheduler")

try:
    from eventrail_executor import scheduler as _scheduler

    _done = _scheduler.install()
except Exception as _error:
    _log.error("eventrail Scheduler patch NOT installed (schedules never fire): %s", _error)
    raise
_log.info("eventrail Scheduler patch installed: %s", ", ".join(_done) or "already")
