"""A changeset's ``Scope`` and ``Details`` (which properties change, which replace the resource), for LocalStack 4.13.1.

AWS documents, for each ``Modify`` of DescribeChangeSet, the ``Scope`` of the change
(``["Properties"]``) and one ``Details`` entry per changed property: its name, whether changing
it re-creates the resource (``RequiresRecreation``: ``Always`` for a create-only property such
as an SQS queue's ``QueueName``, else ``Never``), how CloudFormation knows (``Evaluation``:
``Static``, or ``Dynamic`` when the value is known only once the change runs) and what changed
it (``ChangeSource``). That is how a changeset summary says *why* a resource is replaced.

LocalStack 4.13.1's v2 engine (``ChangeSetModelDescriber``) computes ``Replacement`` from the
resource provider's create-only properties, as AWS does, but leaves ``Scope`` and ``Details``
out, so every modification reads as "something changed".

:func:`install` wraps ``ChangeSetModelDescriber._register_resource_change``: after LocalStack
registers a ``Modify``, the wrapper compares the resource's properties before and after (the
values LocalStack resolved for the describe) and adds ``Scope`` and ``Details``, with
``RequiresRecreation`` from the same create-only properties LocalStack's ``Replacement`` comes
from. A top-level property is the unit, as in AWS's ``Target.Name``. Additions and removals
are left as they are (AWS gives them no details either).

Approximations of what AWS reports: ``ChangeSource`` is ``DirectModification`` for a value
that is known, ``ResourceAttribute`` for one known only after the change runs (AWS may say
``ResourceReference`` or ``ParameterReference`` there, naming the ``CausingEntity``), and
``RequiresRecreation`` is never ``Conditionally`` (LocalStack's providers do not say which
properties replace only sometimes).

It only patches LocalStack 4.13.1: on another version, or when what it patches is missing, it
raises :class:`InstallError` and patches nothing. The ready hook
``infra/localstack-init/ready.d/eventrail_cfn_details.py`` calls it.
"""

import logging

# InstallError and the version are this module's too (its callers and tests name them here).
from .method_patch import SUPPORTED_LOCALSTACK_VERSION, InstallError, install_wrapper  # noqa: F401

LOG = logging.getLogger("eventrail.cfn_details")

# Attribute set on the wrapper, holding the upstream function (install once).
_MARK = "_eventrail_cfn_details_upstream"

_MODULE = "localstack.services.cloudformation.engine.v2.change_set_model_describer"
_OWNER = "ChangeSetModelDescriber"
_PATCHED = "_register_resource_change"

# What LocalStack's describer writes for a value known only once the change runs.
_KNOWN_AFTER_APPLY = "{{changeSet:KNOWN_AFTER_APPLY}}"


def _known_after_apply(value) -> bool:
    if isinstance(value, str):
        return _KNOWN_AFTER_APPLY in value
    if isinstance(value, list):
        return any(_known_after_apply(v) for v in value)
    if isinstance(value, dict):
        return any(_known_after_apply(v) for v in value.values())
    return False


def details(before: dict, after: dict, create_only: set) -> list[dict]:
    """The ``Details`` of a modification from the properties `before` and `after`, as AWS
    shapes them: one per changed top-level property, in name order."""
    result = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        dynamic = _known_after_apply(new)
        result.append(
            {
                "Target": {
                    "Attribute": "Properties",
                    "Name": name,
                    "RequiresRecreation": "Always" if name in create_only else "Never",
                },
                "Evaluation": "Dynamic" if dynamic else "Static",
                "ChangeSource": "ResourceAttribute" if dynamic else "DirectModification",
            }
        )
    return result


def create_only_properties(resource_type: str) -> set:
    """The create-only properties LocalStack's provider for `resource_type` declares (what its
    ``Replacement`` is computed from); none for a type it has no provider for."""
    from localstack.services.cloudformation.resource_provider import ResourceProviderExecutor

    provider = ResourceProviderExecutor.try_load_resource_provider(resource_type)
    if not provider:
        return set()
    return {
        path.replace("/properties/", "", 1)
        for path in provider.SCHEMA.get("createOnlyProperties", [])
    }


def _wrap(upstream):
    def _register_resource_change(self, *args, **kwargs):
        upstream(self, *args, **kwargs)
        before = kwargs.get("before_properties")
        after = kwargs.get("after_properties")
        if before is None or after is None or not self._changes:
            return
        change = self._changes[-1].get("ResourceChange") or {}
        if change.get("Action") != "Modify" or "Details" in change:
            return
        try:
            found = details(
                getattr(before, "properties", None) or {},
                getattr(after, "properties", None) or {},
                create_only_properties(change.get("ResourceType", "")),
            )
        except Exception as error:  # the change stays as LocalStack described it
            LOG.warning("changeset details of %s: %s", change.get("LogicalResourceId"), error)
            return
        if found:
            change["Scope"] = ["Properties"]
            change["Details"] = found

    return _register_resource_change


def install() -> list[str]:
    """Patches the running LocalStack 4.13.1; returns what it patched (nothing when done before).

    Raises :class:`InstallError` when LocalStack is another version or the patched method of
    ``ChangeSetModelDescriber`` is missing.
    """
    return install_wrapper("changeset details", _MODULE, _OWNER, _PATCHED, _wrap, _MARK)
