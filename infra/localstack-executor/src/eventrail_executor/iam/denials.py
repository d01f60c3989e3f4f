"""Every denied call, kept for `eventrail local denials` and the test suite.

A denial names the principal (role and function), the action, the resource, AWS's verdict
(implicit or explicit deny), the statements that decided it or came closest, and the
statement that would have allowed it. A test that causes a denial on purpose marks it
expected (with its own name) once it has asserted it; the test command fails on any denial
left unmarked.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class Denial:
    id: int
    time: str
    function: str
    role_arn: str
    principal: str  # the assumed-role session ARN, as AWS's error message names it
    action: str
    resource: str
    decision: str  # ImplicitlyDenied | ExplicitlyDenied | EvaluationFailed
    message: str
    context: dict[str, Any] = field(default_factory=dict)
    # The Deny statements that matched (explicit deny), with their policy.
    deny_statements: list[dict[str, Any]] = field(default_factory=list)
    # Statements that matched the action but not the resource, principal or a condition.
    nearest: list[dict[str, Any]] = field(default_factory=list)
    # A statement that, added to the role's policy, would allow this call (None when an
    # explicit deny decides: no Allow can override it).
    allowing_statement: dict[str, Any] | None = None
    expected_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class DenialLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._denials: list[Denial] = []

    def add(self, **fields: Any) -> Denial:
        with self._lock:
            denial = Denial(
                id=len(self._denials) + 1,
                time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                **fields,
            )
            self._denials.append(denial)
            return denial

    def all(self) -> list[Denial]:
        with self._lock:
            return list(self._denials)

    def mark_expected(self, denial_id: int, by: str) -> Denial | None:
        with self._lock:
            for denial in self._denials:
                if denial.id == denial_id:
                    denial.expected_by = by
                    return denial
        return None


def access_denied_message(principal: str, action: str, resource: str, decision: str, policy_kind: str) -> str:
    """AWS's AccessDenied wording."""
    if decision == "ExplicitlyDenied":
        return (
            f"User: {principal} is not authorized to perform: {action} on resource: {resource} "
            f"with an explicit deny in a {policy_kind} policy"
        )
    return (
        f"User: {principal} is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action"
    )


def allowing_statement(action: str, resource: str, context: dict[str, Any]) -> dict[str, Any]:
    """The least statement that allows this one call."""
    statement: dict[str, Any] = {"Effect": "Allow", "Action": action, "Resource": resource}
    conditions = {key: values for key, values in context.items() if key.startswith(action.split(":")[0] + ":")}
    if conditions:
        statement["Condition"] = {"ForAllValues:StringEquals": conditions}
    return statement
