"""A failed changeset's stack statuses as AWS documents them, for LocalStack 4.13.1.

On AWS, when a resource fails while a changeset runs (rollback enabled, the default), the
stack goes from ``CREATE_IN_PROGRESS`` to ``ROLLBACK_IN_PROGRESS`` and ends in
``ROLLBACK_COMPLETE``; an update goes from ``UPDATE_IN_PROGRESS`` to
``UPDATE_ROLLBACK_IN_PROGRESS`` and ends in ``UPDATE_ROLLBACK_COMPLETE``. No status in between
is final, so a deploy waits until the stack leaves ``*_IN_PROGRESS`` and reads the outcome.

LocalStack 4.13.1's v2 executor (``ChangeSetModelExecutor.execute``) sets the stack to the
failed resource's own status first (``CREATE_FAILED``, ``UPDATE_FAILED``: final statuses on
AWS, reached only with rollback disabled), then ``ROLLBACK_IN_PROGRESS`` and
``ROLLBACK_COMPLETE`` for an update too ("TODO: differentiate between update and create"). A
deploy that polled in between read ``CREATE_FAILED`` as the end ("not rolled back"), and a
failed update ended as ``ROLLBACK_COMPLETE``, which on AWS means a creation failed and the
stack must be deleted to start over.

:func:`install` wraps ``ChangeSetModelExecutor.execute``: while it runs (not for a
deletion), the stack's status changes are mapped to AWS's: ``CREATE_FAILED`` becomes
``ROLLBACK_IN_PROGRESS``; for an update, ``UPDATE_FAILED`` and ``ROLLBACK_IN_PROGRESS``
become ``UPDATE_ROLLBACK_IN_PROGRESS`` and ``ROLLBACK_COMPLETE`` becomes
``UPDATE_ROLLBACK_COMPLETE``. A status equal to the current one is not recorded twice. The
resource statuses and their reasons are left as they are, and so is what the rollback does
(LocalStack deletes what a failed creation created only when the stack is deleted).

It only patches LocalStack 4.13.1: on another version, or when what it patches is missing, it
raises :class:`InstallError` and patches nothing. The ready hook
``infra/localstack-init/ready.d/eventrail_cfn_rollback_status.py`` calls it.
"""

import logging

# InstallError and the version are this module's too (its callers and tests name them here).
from .method_patch import SUPPORTED_LOCALSTACK_VERSION, InstallError, install_wrapper  # noqa: F401

LOG = logging.getLogger("eventrail.cfn_rollback_status")

# Attribute set on the wrapper, holding the upstream function (install once).
_MARK = "_eventrail_cfn_rollback_status_upstream"

_MODULE = "localstack.services.cloudformation.engine.v2.change_set_model_executor"
_OWNER = "ChangeSetModelExecutor"
_PATCHED = "execute"

CREATE = {"CREATE_FAILED": "ROLLBACK_IN_PROGRESS"}
UPDATE = {
    "UPDATE_FAILED": "UPDATE_ROLLBACK_IN_PROGRESS",
    "ROLLBACK_IN_PROGRESS": "UPDATE_ROLLBACK_IN_PROGRESS",
    "ROLLBACK_COMPLETE": "UPDATE_ROLLBACK_COMPLETE",
}


def status_map(change_set_type: str) -> dict:
    """How the statuses LocalStack sets while executing a changeset of `change_set_type`
    become AWS's."""
    return UPDATE if str(change_set_type) == "UPDATE" else CREATE


def _wrap(upstream):
    def execute(self):
        from localstack.aws.api.cloudformation import StackStatus

        stack = self._change_set.stack
        if stack.status == StackStatus.DELETE_IN_PROGRESS:
            return upstream(self)
        mapping = status_map(getattr(self._change_set, "change_set_type", None))
        own = type(stack).set_stack_status

        def set_stack_status(status, reason=None):
            mapped = StackStatus(mapping.get(str(status), str(status)))
            if mapped == stack.status:
                return
            own(stack, mapped, reason)

        # Shadows the method for this stack only, while its changeset runs (the executor's
        # thread is the only one changing it meanwhile).
        stack.set_stack_status = set_stack_status
        try:
            return upstream(self)
        finally:
            stack.__dict__.pop("set_stack_status", None)

    return execute


def install() -> list[str]:
    """Patches the running LocalStack 4.13.1; returns what it patched (nothing when done before).

    Raises :class:`InstallError` when LocalStack is another version or the patched method of
    ``ChangeSetModelExecutor`` is missing.
    """
    return install_wrapper("rollback status", _MODULE, _OWNER, _PATCHED, _wrap, _MARK)
