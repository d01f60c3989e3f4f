"""Deleting a stack whose creation failed, for LocalStack 4.13.1: a resource that was never created is not deleted.

On AWS, a stack whose creation failed (``ROLLBACK_COMPLETE``) is deleted in one call: the
resource that failed to be created has no physical resource, so there is nothing to delete.
That is how a deploy starts over after a failed first deploy (AWS documents a stack in
``ROLLBACK_COMPLETE`` as one to delete and create again).

LocalStack 4.13.1's v2 engine asks the resource's provider to delete it anyway. A Lambda
function refused at creation (``MemorySize: 1``) has no ``FunctionName``: the provider raises
``KeyError('FunctionName')``, the stack ends in ``DELETE_FAILED``, and creating it again is
refused ("Stack [...] already exists"), so fixing the template and deploying again failed.

:func:`install` wraps ``ChangeSetModelExecutor._execute_resource_action``: a removal of a
resource the stack holds no physical id for (it was never created) succeeds at once, without
calling its provider. Every other action, and the removal of a resource that exists, runs as
before.

It only patches LocalStack 4.13.1: on another version, or when what it patches is missing, it
raises :class:`InstallError` and patches nothing. The ready hook
``infra/localstack-init/ready.d/eventrail_cfn_never_created.py`` calls it.
"""

import logging

# InstallError and the version are this module's too (its callers and tests name them here).
from .method_patch import SUPPORTED_LOCALSTACK_VERSION, InstallError, install_wrapper  # noqa: F401

LOG = logging.getLogger("eventrail.cfn_never_created")

# Attribute set on the wrapper, holding the upstream function (install once).
_MARK = "_eventrail_cfn_never_created_upstream"

_MODULE = "localstack.services.cloudformation.engine.v2.change_set_model_executor"
_OWNER = "ChangeSetModelExecutor"
_PATCHED = "_execute_resource_action"


def never_created(resolved_resources, logical_resource_id: str) -> bool:
    """True when the stack's record of `logical_resource_id` holds no physical id: its
    creation failed (or never started), so no resource exists to delete."""
    resource = (resolved_resources or {}).get(logical_resource_id)
    if resource is None:
        return True
    return not resource.get("PhysicalResourceId")


def _wrap(upstream):
    def _execute_resource_action(self, action, logical_resource_id, resource_type, *args, **kwargs):
        from datetime import UTC, datetime

        from localstack.aws.api.cloudformation import ChangeAction
        from localstack.services.cloudformation.resource_provider import (
            OperationStatus,
            ProgressEvent,
        )

        part_of_replacement = kwargs.get("part_of_replacement", False)
        if (
            action == ChangeAction.Remove
            and not part_of_replacement
            and never_created(getattr(self, "_before_resolved_resources", None), logical_resource_id)
        ):
            LOG.info(
                "%s (%s) was never created: nothing to delete", logical_resource_id, resource_type
            )
            # What upstream records for a removal that succeeded.
            self.resources[logical_resource_id] = {
                "Properties": {},
                "LogicalResourceId": logical_resource_id,
                "Type": resource_type,
                "LastUpdatedTimestamp": datetime.now(UTC),
            }
            return ProgressEvent(OperationStatus.SUCCESS, resource_model={})
        return upstream(self, action, logical_resource_id, resource_type, *args, **kwargs)

    return _execute_resource_action


def install() -> list[str]:
    """Patches the running LocalStack 4.13.1; returns what it patched (nothing when done before).

    Raises :class:`InstallError` when LocalStack is another version or the patched method of
    ``ChangeSetModelExecutor`` is missing.
    """
    patch = "never-created resource deletion"
    return install_wrapper(patch, _MODULE, _OWNER, _PATCHED, _wrap, _MARK)
