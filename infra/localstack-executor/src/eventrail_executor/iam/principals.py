"""Which function (and role) a request comes from.

LocalStack's Lambda gives each execution environment credentials from ``sts:AssumeRole`` of
the function's execution role (session name: the function name). The executor plugin sees
those credentials when it starts the function's process, so it registers the access key id
here; the gateway handler then knows, from a request's SigV4 ``Credential``, that the call
comes from that role's session. Any other role session (credentials from ``sts:AssumeRole``
on LocalStack, found in its STS backend) is enforced too, as on AWS. Requests signed with
long-term keys (the operator's CLI, the test harness, CloudFormation: LocalStack's account
root) are not role sessions and are not enforced, as the account root is not on AWS.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

_ROLE_ARN = re.compile(r"^arn:(?P<partition>[^:]+):iam::(?P<account>\d{12}):role/(?:.*/)?(?P<name>[^/]+)$")


@dataclass(frozen=True)
class FunctionPrincipal:
    """The role session a function process calls AWS with."""

    role_arn: str
    function_name: str

    @property
    def role_name(self) -> str:
        match = _ROLE_ARN.match(self.role_arn)
        return match.group("name") if match else self.role_arn.rsplit("/", 1)[-1]

    @property
    def account_id(self) -> str:
        match = _ROLE_ARN.match(self.role_arn)
        return match.group("account") if match else ""

    @property
    def partition(self) -> str:
        match = _ROLE_ARN.match(self.role_arn)
        return match.group("partition") if match else "aws"

    @property
    def session_arn(self) -> str:
        """The caller identity AWS reports for the function: its assumed-role session."""
        return (
            f"arn:{self.partition}:sts::{self.account_id}:assumed-role/"
            f"{self.role_name}/{self.function_name}"
        )


_LOCK = threading.Lock()
_BY_ACCESS_KEY: dict[str, FunctionPrincipal] = {}


def register(access_key_id: str | None, role_arn: str | None, function_name: str) -> None:
    """Remember that ``access_key_id`` is ``function_name``'s session of ``role_arn``."""
    if not access_key_id or not role_arn:
        return
    with _LOCK:
        _BY_ACCESS_KEY[access_key_id] = FunctionPrincipal(role_arn, function_name)


def lookup(access_key_id: str | None) -> FunctionPrincipal | None:
    """The role session signing with ``access_key_id``: a function's, or any assumed role's."""
    if not access_key_id:
        return None
    with _LOCK:
        known = _BY_ACCESS_KEY.get(access_key_id)
    if known is not None:
        return known
    return _assumed_role(access_key_id)


def _assumed_role(access_key_id: str) -> FunctionPrincipal | None:
    """A session from ``sts:AssumeRole`` on this LocalStack (its session name stands for the
    function name)."""
    try:
        from localstack.aws.accounts import get_account_id_from_access_key_id
        from moto.sts.models import sts_backends

        account_id = get_account_id_from_access_key_id(access_key_id)
        for partition in ("aws", "aws-cn", "aws-us-gov"):
            session = sts_backends[account_id][partition].get_assumed_role_from_access_key(access_key_id)
            if session is not None:
                return FunctionPrincipal(session.role_arn, session.session_name)
    except Exception:  # not an STS key, or a backend layout this code does not know
        return None
    return None


def forget_all() -> None:
    """For tests."""
    with _LOCK:
        _BY_ACCESS_KEY.clear()
