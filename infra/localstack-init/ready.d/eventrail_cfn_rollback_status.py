"""eventrail's LocalStack 4.13.1 init hook (ready stage): a failed changeset's stack statuses, as AWS documents them.

The bug: when a resource fails while a changeset runs, LocalStack sets the stack to
CREATE_FAILED or UPDATE_FAILED first (final statuses on AWS, reached only with rollback
disabled), and a failed update ends in ROLLBACK_COMPLETE (on AWS: a creation failed, delete
the stack). A deploy that polled in between read the failure as "not rolled back", and a
failed update looked like a failed creation.

This hook installs eventrail_executor.cfn_rollback_status (the executor plugin package,
installed next to LocalStack): while a changeset runs, CREATE_FAILED becomes
ROLLBACK_IN_PROGRESS, and an update's failure goes through UPDATE_ROLLBACK_IN_PROGRESS to
UPDATE_ROLLBACK_COMPLETE.

What happens on another LocalStack version, and how this file reaches LocalStack: see
eventrail_executor.ready_hook.
"""
from eventrail_executor.ready_hook import install_patch

install_patch(
    "cfn_rollback_status",
    "rollback status",
    "a failed deploy may read as not rolled back, a failed update as a failed creation",
)
