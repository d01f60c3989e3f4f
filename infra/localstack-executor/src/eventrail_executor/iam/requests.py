"""The IAM authorisation questions one parsed service request asks.

AWS authorises a request as one or more (action, resource, condition keys) questions. Most
API operations are the IAM action of the same name on one resource; the exceptions below are
the documented ones for the services a function calls (batch and multipart forms authorise as
their single-item action, a PutEvents call is asked once per bus with the entries' sources and
detail-types as multivalued keys). A request that needs no authorisation at all on AWS
(``sts:GetCallerIdentity``) asks nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

# Operations whose IAM action has another name (service signing name, operation) -> action.
_ACTION_ALIASES: dict[tuple[str, str], str] = {
    ("sqs", "SendMessageBatch"): "SendMessage",
    ("sqs", "DeleteMessageBatch"): "DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "ChangeMessageVisibility",
    ("s3", "CreateMultipartUpload"): "PutObject",
    ("s3", "UploadPart"): "PutObject",
    ("s3", "CompleteMultipartUpload"): "PutObject",
    ("s3", "HeadObject"): "GetObject",
    ("s3", "HeadBucket"): "ListBucket",
    ("s3", "ListObjectsV2"): "ListBucket",
    ("s3", "ListObjects"): "ListBucket",
    ("s3", "DeleteObjects"): "DeleteObject",
    # Invoke (sync or async) is authorised as lambda:InvokeFunction.
    ("lambda", "Invoke"): "InvokeFunction",
}

# Calls AWS answers for any authenticated caller.
_UNAUTHORISED_OPERATIONS = {("sts", "GetCallerIdentity")}


@dataclass(frozen=True)
class Question:
    """One authorisation question: may the principal do ``action`` on ``resource``?"""

    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)
    # Why the resource could not be named exactly, if it could not (the question is then asked
    # on "*", which a least-privilege policy does not allow: strict, as AWS is).
    resource_note: str | None = None


@dataclass(frozen=True)
class Call:
    """What the gateway parsed of a request."""

    service: str  # the signing name: events, sqs, s3, dynamodb, ...
    operation: str
    params: dict[str, Any]
    account_id: str
    region: str
    partition: str = "aws"


def questions(call: Call) -> list[Question]:
    """The questions ``call`` asks, in order."""
    if (call.service, call.operation) in _UNAUTHORISED_OPERATIONS:
        return []
    if call.service == "events" and call.operation == "PutEvents":
        return _put_events(call)
    action = f"{call.service}:{_ACTION_ALIASES.get((call.service, call.operation), call.operation)}"
    resource, note = _resource(call)
    return [Question(action=action, resource=resource, resource_note=note)]


def _bus_arn(call: Call, name_or_arn: str | None) -> str:
    name = name_or_arn or "default"
    if name.startswith("arn:"):
        return name
    return f"arn:{call.partition}:events:{call.region}:{call.account_id}:event-bus/{name}"


def _put_events(call: Call) -> list[Question]:
    """PutEvents: one question per bus named by the entries.

    ``events:source`` and ``events:detail-type`` are multivalued keys holding every entry's
    value (for that bus), which is why policies use ``ForAllValues:``/``ForAnyValue:`` on them.
    """
    by_bus: dict[str, dict[str, list[str]]] = {}
    for entry in call.params.get("Entries") or []:
        if not isinstance(entry, dict):
            continue
        bus = _bus_arn(call, entry.get("EventBusName"))
        keys = by_bus.setdefault(bus, {"events:source": [], "events:detail-type": []})
        for key, field_name in (("events:source", "Source"), ("events:detail-type", "DetailType")):
            value = entry.get(field_name)
            if isinstance(value, str) and value not in keys[key]:
                keys[key].append(value)
    if not by_bus:
        by_bus[_bus_arn(call, None)] = {"events:source": [], "events:detail-type": []}
    out = []
    for bus, keys in by_bus.items():
        context = {key: values for key, values in keys.items() if values}
        out.append(Question(action="events:PutEvents", resource=bus, context=context))
    return out


def _queue_arn(call: Call, queue_url: str | None) -> str | None:
    """``arn:aws:sqs:<region>:<account>:<name>`` from a queue URL of any LocalStack style."""
    if not queue_url:
        return None
    parts = [p for p in urlparse(queue_url).path.split("/") if p]
    if len(parts) < 2 or not parts[-2].isdigit():
        return None
    account, name = parts[-2], parts[-1]
    region = parts[-3] if len(parts) >= 3 and parts[0] == "queue" else call.region
    return f"arn:{call.partition}:sqs:{region}:{account}:{name}"


def _resource(call: Call) -> tuple[str, str | None]:
    p = call.params
    if call.service == "sqs":
        arn = _queue_arn(call, p.get("QueueUrl"))
        if arn:
            return arn, None
        if p.get("QueueName"):
            return f"arn:{call.partition}:sqs:{call.region}:{call.account_id}:{p['QueueName']}", None
        return "*", "no queue in the request"
    if call.service == "s3":
        bucket = p.get("Bucket")
        key = p.get("Key")
        if bucket and key is not None:
            return f"arn:{call.partition}:s3:::{bucket}/{key}", None
        if bucket:
            return f"arn:{call.partition}:s3:::{bucket}", None
        return "*", "no bucket in the request"
    if call.service == "dynamodb":
        table = p.get("TableName")
        if table:
            if str(table).startswith("arn:"):
                return str(table), None
            return f"arn:{call.partition}:dynamodb:{call.region}:{call.account_id}:table/{table}", None
        return "*", "no table in the request"
    if call.service == "events":
        if p.get("EventBusName"):
            return _bus_arn(call, p["EventBusName"]), None
        return _bus_arn(call, None), None
    if call.service == "logs":
        group = p.get("logGroupName")
        if group:
            stream = p.get("logStreamName")
            suffix = f":log-stream:{stream}" if stream else ":*"
            return f"arn:{call.partition}:logs:{call.region}:{call.account_id}:log-group:{group}{suffix}", None
        return "*", "no log group in the request"
    if call.service == "lambda":
        name = p.get("FunctionName")
        if name:
            if str(name).startswith("arn:"):
                return str(name), None
            return f"arn:{call.partition}:lambda:{call.region}:{call.account_id}:function:{name}", None
        return "*", "no function in the request"
    return "*", f"eventrail does not know the resource of {call.service}:{call.operation}"
