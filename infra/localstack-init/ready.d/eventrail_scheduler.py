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

How this file reaches LocalStack: see eventrail_executor.ready_hook.
"""
from eventrail_executor.ready_hook import install_patch

install_patch(
    "scheduler",
    "Scheduler",
    "schedules never fire",
)
