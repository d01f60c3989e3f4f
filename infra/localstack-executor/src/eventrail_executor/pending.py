"""How many asynchronous Lambda invocations LocalStack still holds: a positive "settled" signal.

LocalStack 4.13.1 queues each asynchronous invocation (an event from a rule, a redrive, a
retry) in an internal SQS queue per function version, and deletes the message only when the
invocation has run (``Poller`` in ``localstack.services.lambda_.invocation.event_manager``).
Retries go back with a delay, and an invocation taken by a replaced version's poller stays
invisible for the function's timeout plus 60 s. So visible + in flight + delayed messages,
summed over a stack's functions, is 0 exactly when nothing more can run: tests wait for that
instead of guessing with a quiet period. Served at ``GET /_eventrail/lambda/pending``
(``?prefix=<function name prefix>``).
"""

from __future__ import annotations

import json
import logging

LOG = logging.getLogger(__name__)

TARGET_VERSION = "4.13.1"
PENDING_PATH = "/_eventrail/lambda/pending"
ATTRIBUTES = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
]


class InstallError(Exception):
    pass


def count(attributes: dict) -> int:
    """Visible, in-flight and delayed messages of one queue's attributes."""
    return sum(int(attributes.get(name) or 0) for name in ATTRIBUTES)


def _event_managers():
    from localstack.services.plugins import SERVICE_PLUGINS

    service = SERVICE_PLUGINS.get_service("lambda")
    provider = getattr(service, "_provider", None) if service is not None else None
    lambda_service = getattr(provider, "lambda_service", None)
    if lambda_service is None:
        return {}
    return dict(getattr(lambda_service, "event_managers", {}) or {})


def pending(prefix: str = "") -> dict[str, int]:
    """Invocations held per function whose name starts with ``prefix``."""
    from localstack.services.lambda_.invocation.event_manager import get_sqs_client

    out: dict[str, int] = {}
    for manager in _event_managers().values():
        version = manager.version_manager.function_version
        name = version.id.function_name
        url = getattr(manager, "event_queue_url", None)
        if not name.startswith(prefix) or not url:
            continue
        try:
            answer = get_sqs_client(version).get_queue_attributes(QueueUrl=url, AttributeNames=ATTRIBUTES)
        except Exception as e:  # the queue went away with the version: nothing is held there
            LOG.debug("eventrail pending: %s: %s", url, e)
            continue
        out[name] = out.get(name, 0) + count(answer.get("Attributes") or {})
    return out


def serve(request, **_kwargs):
    from localstack.http import Response

    prefix = request.args.get("prefix", "")
    per_function = pending(prefix)
    body = {"pending": sum(per_function.values()), "functions": per_function}
    return Response(json.dumps(body), status=200, mimetype="application/json")


def install() -> None:
    from localstack import version

    if version.__version__ != TARGET_VERSION:
        raise InstallError(f"written for LocalStack {TARGET_VERSION}, not {version.__version__}")
    from localstack.services.lambda_.invocation import event_manager, lambda_service

    if not hasattr(event_manager, "get_sqs_client") or not hasattr(lambda_service.LambdaService, "__init__"):
        raise InstallError("LocalStack's Lambda event manager is not the one this module reads")
    from localstack.services.edge import ROUTER

    ROUTER.add(PENDING_PATH, endpoint=serve, methods=["GET"])
