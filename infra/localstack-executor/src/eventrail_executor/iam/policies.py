"""The policies that decide a question, read from LocalStack's stores at the time of the call.

Nothing is cached: AWS applies a changed role or resource policy to the next call (after
IAM's eventual consistency), and so does this, so `aws iam put-role-policy` on a running
local stack takes effect at once.

* identity policies: the role's inline policies and attached managed policies (their default
  version), from moto's IAM backend, which LocalStack's IAM provider and CloudFormation write;
* resource policies: the event bus policy (EventBridge store), the queue's ``Policy``
  attribute (SQS store), the bucket policy (S3 store). DynamoDB tables and log groups have
  none in this stack.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class NamedPolicy:
    name: str
    document: dict[str, Any]


class RoleNotFound(Exception):
    def __init__(self, role_name: str, account_id: str):
        super().__init__(f"role {role_name} does not exist in account {account_id}")
        self.role_name = role_name


def _as_document(value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            LOG.warning("eventrail IAM: a stored policy is not JSON: %.200s", value)
            return None
    if isinstance(value, dict):
        return value
    return None


def identity_policies(account_id: str, partition: str, role_name: str) -> list[NamedPolicy]:
    from moto.iam.models import iam_backends

    backend = iam_backends[account_id][partition]
    try:
        role = backend.get_role(role_name)
    except Exception as e:  # moto raises IAMNotFoundException
        raise RoleNotFound(role_name, account_id) from e
    out: list[NamedPolicy] = []
    for name, document in (role.policies or {}).items():
        parsed = _as_document(document)
        if parsed is not None:
            out.append(NamedPolicy(name, parsed))
    for arn, managed in (role.managed_policies or {}).items():
        document = None
        for version in getattr(managed, "versions", []) or []:
            if getattr(version, "is_default", False):
                document = version.document
        if document is None:
            document = getattr(managed, "document", None)
        parsed = _as_document(document)
        if parsed is not None:
            out.append(NamedPolicy(arn, parsed))
    return out


def resource_policy(service: str, resource_arn: str, account_id: str, region: str) -> dict | None:
    """The policy attached to ``resource_arn``, if it has one (None: no resource policy)."""
    try:
        if service == "events":
            return _bus_policy(resource_arn)
        if service == "sqs":
            return _queue_policy(resource_arn)
        if service == "s3":
            return _bucket_policy(resource_arn, account_id, region)
    except Exception:  # a store layout this code does not know: say so, evaluate without it
        LOG.exception("eventrail IAM: could not read the resource policy of %s", resource_arn)
    return None


def _arn_parts(arn: str) -> list[str]:
    return arn.split(":", 5)


def _bus_policy(bus_arn: str) -> dict | None:
    from localstack.services.events.models import events_stores

    parts = _arn_parts(bus_arn)
    if len(parts) < 6:
        return None
    region, account, name = parts[3], parts[4], parts[5].split("/", 1)[-1]
    bus = events_stores[account][region].event_buses.get(name)
    return _as_document(bus.policy) if bus is not None else None


def _queue_policy(queue_arn: str) -> dict | None:
    from localstack.services.sqs.models import sqs_stores

    parts = _arn_parts(queue_arn)
    if len(parts) < 6:
        return None
    region, account, name = parts[3], parts[4], parts[5]
    queue = sqs_stores[account][region].queues.get(name)
    if queue is None:
        return None
    return _as_document(queue.attributes.get("Policy"))


def _bucket_policy(object_arn: str, account_id: str, region: str) -> dict | None:
    from localstack.services.s3.models import s3_stores

    resource = _arn_parts(object_arn)[-1]
    bucket_name = resource.split("/", 1)[0]
    store = s3_stores[account_id][region]
    owner = store.global_bucket_map.get(bucket_name, account_id)
    bucket = s3_stores[owner][region].buckets.get(bucket_name)
    return _as_document(bucket.policy) if bucket is not None else None
