"""CloudFormation updates of an ``AWS::Lambda::Alias``, for LocalStack 4.13.1.

A function with a gradual rollout (SAM's ``AutoPublishAlias``) publishes a new
``AWS::Lambda::Version`` on each deploy that changes its code, and its alias moves to it. On
AWS that is an in-place update of the alias's ``FunctionVersion`` (``UpdateAlias``).

LocalStack 4.13.1 replaces the alias instead: its engine takes a create-only property whose
value is a reference (``FunctionName: !Ref <Function>``) as changed whenever the resource it
names changes, though the name is the same, so it creates the alias again before deleting the
old one. ``CreateAlias`` fails with ``ResourceConflictException: Alias already exists``, the
update fails, and its rollback deletes the alias and the old version: a second
``eventrail local deploy`` of a function with a rollout leaves it without its alias. (Its
provider has no ``update`` either.)

:func:`install` makes the provider end where AWS does:

* ``create`` of an alias that already exists on that function (the replacement above) moves
  it with ``UpdateAlias`` to the desired version, description and routing;
* ``delete`` leaves an alias alone when it no longer points at the version of the state being
  removed (the replacement's clean-up of the alias ``create`` just moved); a stack deletion
  removes it as before;
* ``update`` (an in-place change, e.g. of the description) calls ``UpdateAlias``.

It only patches LocalStack 4.13.1: on another version, or when the provider or one of its
methods is missing, it raises :class:`InstallError` and patches nothing. The ready hook
``infra/localstack-init/ready.d/eventrail_cfn_alias_update.py`` calls it.
"""

import logging

# InstallError and the version are this module's too (its callers and tests name them here).
from .method_patch import SUPPORTED_LOCALSTACK_VERSION, InstallError, install_wrappers  # noqa: F401

LOG = logging.getLogger("eventrail.cfn_alias_update")

# Attribute set on the replacement, holding the upstream method (install once).
_MARK = "_eventrail_cfn_alias_update_upstream"


def routing_config(model):
    """``UpdateAlias``'s ``RoutingConfig`` for the resource's: CloudFormation lists the
    additional versions' weights, the API takes them as a map of version to weight; none
    clears them."""
    weights = (model.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or []
    return {
        "AdditionalVersionWeights": {
            str(w["FunctionVersion"]): float(w["FunctionWeight"]) for w in weights
        }
    }


def _error_code(error):
    return getattr(error, "response", {}).get("Error", {}).get("Code")


def _update_alias(lambda_client, model):
    """``UpdateAlias`` to the resource's desired state; returns the alias's ARN."""
    params = {
        "FunctionName": model["FunctionName"],
        "Name": model["Name"],
        "FunctionVersion": model["FunctionVersion"],
        "RoutingConfig": routing_config(model),
    }
    if model.get("Description") is not None:
        params["Description"] = model["Description"]
    return lambda_client.update_alias(**params)["AliasArn"]


def _success(model):
    from localstack.services.cloudformation.resource_provider import (
        OperationStatus,
        ProgressEvent,
    )

    return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model)


def _wrap_create(upstream):
    def create(self, request):
        try:
            return upstream(self, request)
        except Exception as error:
            if _error_code(error) != "ResourceConflictException":
                raise
            model = request.desired_state
            LOG.debug(
                "alias %s of %s exists: moved to version %s (a replacement AWS does in place)",
                model.get("Name"),
                model.get("FunctionName"),
                model.get("FunctionVersion"),
            )
            model["Id"] = _update_alias(request.aws_client_factory.lambda_, model)
            return _success(model)

    return create


def _wrap_delete(upstream):
    def delete(self, request):
        model = request.desired_state
        lambda_client = request.aws_client_factory.lambda_
        try:
            current = lambda_client.get_alias(FunctionName=model["FunctionName"], Name=model["Name"])
        except Exception as error:
            if _error_code(error) != "ResourceNotFoundException":
                raise
            current = None
        if current is not None and str(current.get("FunctionVersion")) != str(
            model.get("FunctionVersion")
        ):
            return _success(request.previous_state)
        return upstream(self, request)

    return delete


def update(self, request):
    """Moves the alias to the desired version (``UpdateAlias``)."""
    model = request.desired_state
    model["Id"] = _update_alias(request.aws_client_factory.lambda_, model)
    return _success(model)


def install() -> list[str]:
    """Patches the running LocalStack 4.13.1; returns what it patched (nothing when done before).

    Raises :class:`InstallError` when LocalStack is another version, or the alias provider or
    its ``update`` is missing.
    """
    return install_wrappers(
        "Lambda alias update",
        "localstack.services.lambda_.resource_providers.lambda_alias",
        "LambdaAliasProvider",
        {
            "create": _wrap_create,
            "delete": _wrap_delete,
            # Upstream's update raises NotImplementedError: nothing of it is kept.
            "update": lambda _upstream: lambda self, request: update(self, request),
        },
        _MARK,
    )
