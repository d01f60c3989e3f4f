"""CloudFormation UpdateStack of a SAM template whose resources refer to each other, for LocalStack 4.13.1.

On AWS, a SAM template is transformed before CloudFormation looks at its references, so only
the transformed template must be free of cycles. A function whose ScheduleV2 event names an
explicit role (``RoleArn: !GetAtt FnScheduleRole.Arn``) while that role's policy names the
function (``Resource: !GetAtt Fn.Arn``) is such a template: once transformed, the schedule
refers to the role and the role to the function, no cycle.

LocalStack 4.13.1's CloudFormation v2 engine first models the *untransformed* template
(``ChangeSetModel``, before the global transforms are applied and the template is modelled
again). When the stack already exists (UpdateStack, CreateChangeSet on a stack), every
reference present in both versions is resolved by visiting the resource it names, and a
resource is only remembered once its visit is complete: the function's Events lead to the
role, the role's policy back to the function, and so on until Python's recursion limit.
UpdateStack then answers 500 "maximum recursion depth exceeded while calling a Python
object". CreateStack is not affected (nothing exists before, so nothing is resolved).

:func:`install` wraps ``ChangeSetModel._visit_resource`` to remember which resources are being
visited, and ``_resolve_intrinsic_function_fn_get_att`` / ``_resolve_intrinsic_function_ref``
so that a reference to a resource whose visit is still under way takes the reference's own
change type (what the engine does for every intrinsic function it does not resolve) instead of
visiting it again. References outside a cycle resolve exactly as before. The untransformed
model is discarded once the transformed template is modelled, where SAM left no cycle.

It only patches LocalStack 4.13.1: on another version, or when what it patches is missing, it
raises :class:`InstallError` and patches nothing. The ready hook
``infra/localstack-init/ready.d/eventrail_cfn_cycles.py`` calls it.
"""

import logging

# InstallError and the version are this module's too (its callers and tests name them here).
from .method_patch import SUPPORTED_LOCALSTACK_VERSION, InstallError, install_wrappers  # noqa: F401

LOG = logging.getLogger("eventrail.cfn_cycles")

# Attribute set on each wrapper, holding the upstream function (install once).
_MARK = "_eventrail_cfn_cycles_upstream"
# Attribute set on a ChangeSetModel: the names of the resources whose visit is under way.
_IN_PROGRESS = "_eventrail_resources_in_visit"

_PATCHED = (
    "_visit_resource",
    "_resolve_intrinsic_function_fn_get_att",
    "_resolve_intrinsic_function_ref",
)


def referenced_resource(function_name, arguments):
    """The logical id an intrinsic function's modelled arguments name, or None.

    ``Fn::GetAtt`` arguments are a ``NodeArray`` whose first item is a terminal value holding the
    logical id; ``Ref`` arguments are the terminal value itself. Anything else: None.
    """
    if function_name == "_resolve_intrinsic_function_fn_get_att":
        items = getattr(arguments, "array", None)
        if not items:
            return None
        arguments = items[0]
    value = getattr(arguments, "value", None)
    return value if isinstance(value, str) else None


def _in_progress(model):
    names = model.__dict__.get(_IN_PROGRESS)
    if names is None:
        names = set()
        model.__dict__[_IN_PROGRESS] = names
    return names


def _wrap_visit_resource(upstream):
    def _visit_resource(self, scope, resource_name, before_resource, after_resource):
        names = _in_progress(self)
        entered = resource_name not in names
        names.add(resource_name)
        try:
            return upstream(self, scope, resource_name, before_resource, after_resource)
        finally:
            if entered:
                names.discard(resource_name)

    return _visit_resource


def _wrap_resolver(name, upstream):
    def _resolve(self, arguments):
        target = referenced_resource(name, arguments)
        if target is not None and target in _in_progress(self):
            LOG.debug(
                "untransformed template: %s refers back to %s, whose visit is under way; "
                "taken as %s",
                name.rsplit("_", 2)[-1],
                target,
                arguments.change_type,
            )
            return arguments.change_type
        return upstream(self, arguments)

    return _resolve


def install() -> list[str]:
    """Patches the running LocalStack 4.13.1; returns what it patched (nothing when done before).

    Raises :class:`InstallError` when LocalStack is another version or a patched method of
    ``ChangeSetModel`` is missing.
    """
    wraps = {
        name: (
            _wrap_visit_resource
            if name == "_visit_resource"
            else lambda upstream, name=name: _wrap_resolver(name, upstream)
        )
        for name in _PATCHED
    }
    return install_wrappers(
        "CloudFormation reference cycle",
        "localstack.services.cloudformation.engine.v2.change_set_model",
        "ChangeSetModel",
        wraps,
        _MARK,
    )
