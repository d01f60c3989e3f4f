"""eventrail's LocalStack 4.13.1 init hook (ready stage): a changeset's Scope and Details, as AWS documents them.

The gap: LocalStack 4.13.1's DescribeChangeSet reports whether a modification replaces the
resource (`Replacement`) but not which properties change nor which of them replace it (AWS's
`Scope` and `Details`, e.g. `QueueName` with `RequiresRecreation: Always`), so a changeset
summary could not say why a queue is replaced.

This hook installs eventrail_executor.cfn_details (the executor plugin package, installed next
to LocalStack): each modification gets `Scope` and one `Details` entry per changed property,
`RequiresRecreation` from the create-only properties LocalStack's own `Replacement` comes from.

It only patches LocalStack 4.13.1: on another version, or when the method it patches is
missing, it logs an ERROR and raises, so LocalStack's log shows "Error while running script".

eventrail's LocalStack supervisor (crates/local) copies this file into
<FILESYSTEM_ROOT>/etc/localstack/init/ready.d/ before starting LocalStack. For a LocalStack
you run yourself in Docker, mount it at /etc/localstack/init/ready.d/ and install the
plugin package (infra/localstack-executor) into its Python environment.
"""
import logging

_log = logging.getLogger("eventrail.cfn_details")

try:
    from eventrail_executor import cfn_details as _cfn_details

    _patched = _cfn_details.install()
except Exception as _error:
    _log.error(
        "eventrail changeset details patch NOT installed (DescribeChangeSet names no changed "
        "property): %s",
        _error,
    )
    raise
_log.info(
    "eventrail changeset details patch installed: %s", ", ".join(_patched) or "already"
)
