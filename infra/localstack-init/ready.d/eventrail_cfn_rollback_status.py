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

It only patches LocalStack 4.13.1: on another version, or when the method it patches is
missing, it logs an ERROR and raises, so LocalStack's log shows "Error while running script".

eventrail's LocalStack supervisor (crates/local) copies this file into
<FILESYSTEM_ROOT>/etc/localstack/init/ready.d/ before starting LocalStack. For a LocalStack
you run yourself in Docker, mount it at /etc/localstack/init/ready.d/ and install the
plugin package (infra/localstack-executor) into its Python environment.
"""
import logging

_log = logging.getLogger("eventrail.cfn_rollback_status")

try:
    from eventrail_executor import cfn_rollback_status as _cfn_rollback_status

    _patched = _cfn_rollback_status.install()
except Exception as _error:
    _log.error(
        "eventrail rollback status patch NOT installed (a failed deploy may read as not rolled "
        "back, a failed update as a failed creation): %s",
        _error,
    )
    raise
_log.info(
    "eventrail rollback status patch installed: %s", ", ".join(_patched) or "already"
)
