"""eventrail's LocalStack 4.13.1 init hook (ready stage): deleting a stack whose creation failed.

The bug: deleting a stack in ROLLBACK_COMPLETE asks the provider of the resource that failed
to be created to delete it. A Lambda function refused at creation has no FunctionName, the
provider raises, the stack ends in DELETE_FAILED and creating it again is refused ("already
exists"): after a failed first deploy, fixing the template and deploying again failed. On AWS
such a resource has no physical resource and the deletion goes through.

This hook installs eventrail_executor.cfn_never_created (the executor plugin package,
installed next to LocalStack): the removal of a resource the stack holds no physical id for
succeeds without calling its provider.

It only patches LocalStack 4.13.1: on another version, or when the method it patches is
missing, it logs an ERROR and raises, so LocalStack's log shows "Error while running script".

eventrail's LocalStack supervisor (crates/local) copies this file into
<FILESYSTEM_ROOT>/etc/localstack/init/ready.d/ before starting LocalStack. For a LocalStack
you run yourself in Docker, mount it at /etc/localstack/init/ready.d/ and install the
plugin package (infra/localstack-executor) into its Python environment.
"""
import logging

_log = logging.getLogger("eventrail.cfn_never_created")

try:
    from eventrail_executor import cfn_never_created as _cfn_never_created

    _patched = _cfn_never_created.install()
except Exception as _error:
    _log.error(
        "eventrail never-created resource deletion patch NOT installed (a stack whose creation "
        "failed cannot be deleted): %s",
        _error,
    )
    raise
_log.info(
    "eventrail never-created resource deletion patch installed: %s",
    ", ".join(_patched) or "already",
)
