"""EventBridge rule-target delivery as AWS documents it, for LocalStack 4.13.1.

What AWS does (EventBridge User Guide, "Event retry policy and using dead-letter queues",
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html):

* An event EventBridge cannot deliver to a target because of a retriable error (throttling,
  a 5xx answer, a connection failure) is retried with exponential back-off until the
  target's ``RetryPolicy`` runs out (``MaximumRetryAttempts``, default 185;
  ``MaximumEventAgeInSeconds``, default 86,400).
* Errors that retrying cannot fix (missing permission to the target, a target that no
  longer exists) are not retried: the event goes straight to the target's
  ``DeadLetterConfig`` queue.
* Without a dead-letter queue the undelivered event is dropped.
* Each dead-letter message is the event as it would have been delivered, with the string
  message attributes ``RULE_ARN``, ``TARGET_ARN``, ``ERROR_CODE``, ``ERROR_MESSAGE``,
  ``RETRY_ATTEMPTS`` and, when a retry limit ended the delivery,
  ``EXHAUSTED_RETRY_CONDITION`` (``MaximumRetryAttempts`` or ``MaximumEventAgeInSeconds``).
* For a Lambda target EventBridge relies on the function's resource-based policy: it must
  allow ``events.amazonaws.com`` to ``lambda:InvokeFunction`` (for the rule's ARN as
  ``aws:SourceArn`` when the statement has that condition).
* A PutEvents entry may be up to 1 MB since January 2026 (entry size: the UTF-8 bytes of
  Source, DetailType, Detail and each of Resources, plus 14 bytes for Time).

What LocalStack 4.13.1 does instead: ``EventsProvider._process_rules`` catches a target's
error and only logs it (``TargetDeliveryFailure``); ``RetryPolicy`` and ``DeadLetterConfig``
are stored and never used; the Lambda target sender invokes the function without looking at
its resource policy; ``validate_event`` rejects a ``Detail`` of 256 KiB or more.

What :func:`install` changes (nothing else):

* Every target sender's ``send_event`` goes through :func:`deliver`: a Lambda target is first
  checked against the function's resource policy (:func:`lambda_permission_failure`); a
  failure is classified (:func:`classify`); a non-retryable one goes to the dead-letter queue
  at once, a retryable one is retried in a background thread and dead-lettered when the
  retry policy runs out. The dead-letter message carries AWS's attributes.
* ``validate_event`` measures the entry as AWS does and allows up to 1 MiB.

Local waits are kept short: the delay before retry *n* is ``0.1 s * 2**(n-1)``, at most
2 s (``RETRY_DELAY_FIRST`` and ``RETRY_DELAY_MAX``); the event's age is measured on the real
clock from the first delivery attempt, which LocalStack makes right after PutEvents.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

LOG = logging.getLogger(__name__)

SUPPORTED_LOCALSTACK_VERSION = "4.13.1"
"""The LocalStack version whose internals :func:`install` patches."""

EVENTS_PRINCIPAL = "events.amazonaws.com"

MAX_ENTRY_BYTES = 1024 * 1024
"""AWS's PutEvents entry limit since January 2026 (1 MB); an entry must be smaller."""

TIME_BYTES = 14
"""What a PutEvents entry's Time counts for in its size (AWS's entry-size rule)."""

DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 185
DEFAULT_MAXIMUM_EVENT_AGE_SECONDS = 86_400

RETRY_DELAY_FIRST = 0.1
RETRY_DELAY_MAX = 2.0

# ERROR_CODE values, as EventBridge names them in its dead-letter messages.
NO_PERMISSIONS = "NO_PERMISSIONS"
NO_RESOURCE = "NO_RESOURCE"
THROTTLING = "THROTTLING"
INTERNAL_ERROR = "INTERNAL_ERROR"
CONNECTION_FAILURE = "CONNECTION_FAILURE"
INVALID_PARAMETER = "INVALID_PARAMETER"
SDK_CLIENT_ERROR = "SDK_CLIENT_ERROR"

EXHAUSTED_ATTEMPTS = "MaximumRetryAttempts"
EXHAUSTED_AGE = "MaximumEventAgeInSeconds"


class InstallError(RuntimeError):
    """The running LocalStack is not the one this patch was written for."""


@dataclass(frozen=True)
class Failure:
    """Why one delivery attempt failed, in EventBridge's terms."""

    code: str
    message: str
    retryable: bool


class DeliveryFailed(Exception):
    """Raised before sending when the target cannot be reached (e.g. no permission)."""

    def __init__(self, failure: Failure):
        super().__init__(f"{failure.code}: {failure.message}")
        self.failure = failure


@dataclass(frozen=True)
class RetryPolicy:
    maximum_retry_attempts: int = DEFAULT_MAXIMUM_RETRY_ATTEMPTS
    maximum_event_age_seconds: float = DEFAULT_MAXIMUM_EVENT_AGE_SECONDS

    @classmethod
    def of_target(cls, target: dict) -> RetryPolicy:
        policy = target.get("RetryPolicy") or {}
        attempts = policy.get("MaximumRetryAttempts")
        age = policy.get("MaximumEventAgeInSeconds")
        return cls(
            maximum_retry_attempts=(
                DEFAULT_MAXIMUM_RETRY_ATTEMPTS if attempts is None else int(attempts)
            ),
            maximum_event_age_seconds=(
                DEFAULT_MAXIMUM_EVENT_AGE_SECONDS if age is None else float(age)
            ),
        )


@dataclass(frozen=True)
class Undelivered:
    """The final outcome of a delivery that did not succeed."""

    failure: Failure
    retry_attempts: int
    exhausted_condition: str | None


# ---------------------------------------------------------------------------------------
# Classifying errors


_THROTTLING_CODES = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
}
_NOT_FOUND_CODES = {
    "ResourceNotFoundException",
    "ResourceNotFound",
    "NotFoundException",
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
    "NotFound",
}
_DENIED_CODES = {
    "AccessDeniedException",
    "AccessDenied",
    "AuthorizationErrorException",
    "UnauthorizedOperation",
    "KMSAccessDeniedException",
}


def classify(error: BaseException) -> Failure:
    """What EventBridge makes of a target's error: its ERROR_CODE and whether it retries.

    Only throttling, 5xx answers and connection failures are retried; permission and
    missing-resource errors, and any other client error, go to the dead-letter queue at once.
    """
    if isinstance(error, DeliveryFailed):
        return error.failure
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        details = response.get("Error") or {}
        code = str(details.get("Code") or "")
        message = str(details.get("Message") or error)
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        status = status if isinstance(status, int) else 0
        if code in _THROTTLING_CODES or status == 429:
            return Failure(THROTTLING, message, retryable=True)
        if code in _DENIED_CODES or status == 403:
            return Failure(NO_PERMISSIONS, message, retryable=False)
        if code in _NOT_FOUND_CODES or status == 404:
            return Failure(NO_RESOURCE, message, retryable=False)
        if status >= 500:
            return Failure(INTERNAL_ERROR, message, retryable=True)
        if status == 413 or code in {"RequestEntityTooLargeException", "ValidationException"}:
            return Failure(INVALID_PARAMETER, message, retryable=False)
        return Failure(SDK_CLIENT_ERROR, f"{code}: {message}" if code else message, False)
    if isinstance(error, (ConnectionError, TimeoutError)) or type(error).__name__ in {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
    }:
        return Failure(CONNECTION_FAILURE, str(error), retryable=True)
    # An exception inside LocalStack itself: retrying the same code gives the same answer.
    return Failure(INTERNAL_ERROR, f"{type(error).__name__}: {error}", retryable=False)


# ---------------------------------------------------------------------------------------
# The Lambda resource policy


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _principal_is_events(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        if "*" in _as_list(principal.get("AWS")):
            return True
        return EVENTS_PRINCIPAL in _as_list(principal.get("Service"))
    return False


def _action_allows_invoke(action: Any) -> bool:
    return any(
        fnmatch.fnmatchcase("lambda:invokefunction", str(a).lower()) for a in _as_list(action)
    )


def _condition_holds(condition: dict, context: dict[str, str]) -> bool:
    """Every operator's every key must hold; a key this check does not know fails it."""
    for operator, keys in condition.items():
        if not isinstance(keys, dict):
            return False
        for key, wanted in keys.items():
            have = context.get(key.lower())
            if have is None:
                return False
            values = [str(v) for v in _as_list(wanted)]
            if operator in ("ArnLike", "StringLike"):
                holds = any(fnmatch.fnmatchcase(have, v) for v in values)
            elif operator in ("ArnEquals", "StringEquals"):
                holds = have in values
            elif operator == "StringEqualsIgnoreCase":
                holds = have.lower() in (v.lower() for v in values)
            else:
                return False
            if not holds:
                return False
    return True


def policy_allows_rule(statements: list[dict], rule_arn: str, account_id: str) -> bool:
    """True when the statements let events.amazonaws.com invoke the function for `rule_arn`.

    Allow statements for the events principal (or ``*``), with ``lambda:InvokeFunction``
    (or a wildcard covering it), and either no condition or conditions on
    ``aws:SourceArn`` (ArnLike/ArnEquals/StringLike/StringEquals) and ``aws:SourceAccount``
    that hold for the rule. A matching Deny wins.
    """
    context = {"aws:sourcearn": rule_arn, "aws:sourceaccount": account_id}
    allowed = False
    for statement in statements:
        if not _principal_is_events(statement.get("Principal")):
            continue
        if not _action_allows_invoke(statement.get("Action")):
            continue
        if not _condition_holds(statement.get("Condition") or {}, context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


def parse_function_arn(arn: str) -> tuple[str, str, str, str | None]:
    """(region, account, function name, qualifier or None) of a Lambda function ARN."""
    parts = arn.split(":")
    if len(parts) < 7 or parts[2] != "lambda" or parts[5] != "function":
        raise ValueError(f"not a Lambda function ARN: {arn}")
    qualifier = parts[7] if len(parts) > 7 and parts[7] else None
    return parts[3], parts[4], parts[6], qualifier


def lambda_permission_failure(
    functions: dict, target_arn: str, rule_arn: str, rule_account: str
) -> Failure | None:
    """Why EventBridge may not invoke the function, or None when it may.

    `functions` maps function names to LocalStack's ``Function`` records (the Lambda store of
    the function's account and region).
    """
    _, _, name, qualifier = parse_function_arn(target_arn)
    function = functions.get(name)
    if function is None:
        return Failure(NO_RESOURCE, f"Function not found: {target_arn}", retryable=False)
    resolved = qualifier or "$LATEST"
    known = set(getattr(function, "versions", {}) or {}) | set(
        getattr(function, "aliases", {}) or {}
    )
    if resolved not in known:
        return Failure(NO_RESOURCE, f"Function not found: {target_arn}", retryable=False)
    policy = (getattr(function, "permissions", {}) or {}).get(resolved)
    statements = list(policy.policy.Statement) if policy is not None else []
    if policy_allows_rule(statements, rule_arn, rule_account):
        return None
    return Failure(
        NO_PERMISSIONS,
        f"{EVENTS_PRINCIPAL} is not authorized to perform lambda:InvokeFunction on "
        f"{target_arn} for {rule_arn}: no statement of the function's resource-based "
        "policy allows it",
        retryable=False,
    )


# ---------------------------------------------------------------------------------------
# Retrying


def retry_delay(retry: int) -> float:
    """The local wait before retry number `retry` (1, 2, ...)."""
    return min(RETRY_DELAY_FIRST * (2 ** (retry - 1)), RETRY_DELAY_MAX)


def retry_until_done(
    send: Callable[[], None],
    first: Failure,
    policy: RetryPolicy,
    started: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Undelivered | None:
    """Retries after a first retryable failure; None once an attempt succeeds.

    `started` is the clock's reading at the first attempt (the event's age counts from it).
    """
    failure = first
    retries = 0
    while failure.retryable:
        if retries >= policy.maximum_retry_attempts:
            return Undelivered(failure, retries, EXHAUSTED_ATTEMPTS)
        delay = retry_delay(retries + 1)
        if clock() + delay - started > policy.maximum_event_age_seconds:
            return Undelivered(failure, retries, EXHAUSTED_AGE)
        sleep(delay)
        retries += 1
        try:
            send()
            return None
        except Exception as error:  # noqa: BLE001 - any target error is classified
            failure = classify(error)
    return Undelivered(failure, retries, None)


def dead_letter_attributes(
    rule_arn: str, target_arn: str, outcome: Undelivered
) -> dict[str, dict[str, str]]:
    """The SQS message attributes of a dead letter, as EventBridge writes them."""
    values = {
        "RULE_ARN": rule_arn,
        "TARGET_ARN": target_arn,
        "ERROR_CODE": outcome.failure.code,
        "ERROR_MESSAGE": outcome.failure.message or outcome.failure.code,
        "RETRY_ATTEMPTS": str(outcome.retry_attempts),
    }
    if outcome.exhausted_condition is not None:
        values["EXHAUSTED_RETRY_CONDITION"] = outcome.exhausted_condition
    return {k: {"DataType": "String", "StringValue": v} for k, v in values.items()}


def dead_letter_body(event: Any) -> str:
    """The event as the target would have received it."""
    return event if isinstance(event, str) else json.dumps(event)


# ---------------------------------------------------------------------------------------
# Delivery


@dataclass
class Delivery:
    """One event for one target: what :func:`deliver` needs, kept free of LocalStack types."""

    rule_arn: str
    target: dict
    event: Any
    send: Callable[[], None]
    """One attempt (raises on failure)."""
    check: Callable[[], Failure | None]
    """What stops the attempt before it is made (the Lambda permission), or None."""
    send_dead_letter: Callable[[str, str, dict], None]
    """(queue ARN, body, message attributes) -> None."""


def _finish(delivery: Delivery, outcome: Undelivered) -> None:
    target_arn = delivery.target.get("Arn", "")
    queue_arn = (delivery.target.get("DeadLetterConfig") or {}).get("Arn")
    LOG.warning(
        "EventBridge could not deliver to %s (rule %s): %s %s after %d retries%s",
        target_arn,
        delivery.rule_arn,
        outcome.failure.code,
        outcome.failure.message,
        outcome.retry_attempts,
        f" ({outcome.exhausted_condition} exhausted)" if outcome.exhausted_condition else "",
    )
    if not queue_arn:
        LOG.warning("no DeadLetterConfig on target %s: the event is dropped", target_arn)
        return
    try:
        delivery.send_dead_letter(
            queue_arn,
            dead_letter_body(delivery.event),
            dead_letter_attributes(delivery.rule_arn, target_arn, outcome),
        )
    except Exception:  # noqa: BLE001 - AWS counts InvocationsFailedToBeSentToDLQ and goes on
        LOG.exception("sending the undelivered event to the dead-letter queue %s failed", queue_arn)


def deliver(
    delivery: Delivery,
    start_thread: Callable[[Callable[[], None]], None],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Makes the first attempt now; retries (in `start_thread`) or dead-letters a failure.

    Never raises for a target's failure: like EventBridge, the event is then retried,
    dead-lettered or dropped, and the other targets are not held up.
    """
    started = clock()
    try:
        failure = delivery.check()
        if failure is not None:
            raise DeliveryFailed(failure)
        delivery.send()
        return
    except Exception as error:  # noqa: BLE001 - any target error is classified
        first = classify(error)
    if not first.retryable:
        _finish(delivery, Undelivered(first, 0, None))
        return
    policy = RetryPolicy.of_target(delivery.target)

    def retry() -> None:
        outcome = retry_until_done(delivery.send, first, policy, started, clock, sleep)
        if outcome is not None:
            _finish(delivery, outcome)

    start_thread(retry)


# ---------------------------------------------------------------------------------------
# PutEvents entry size


def entry_size(entry: dict) -> int:
    """A PutEvents entry's size as AWS counts it."""

    def utf8(value: Any) -> int:
        return len(str(value).encode("utf-8")) if value is not None else 0

    size = TIME_BYTES if entry.get("Time") is not None else 0
    size += utf8(entry.get("Source")) + utf8(entry.get("DetailType")) + utf8(entry.get("Detail"))
    for resource in entry.get("Resources") or []:
        size += utf8(resource)
    return size


# ---------------------------------------------------------------------------------------
# Installing into LocalStack


def _spawn(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="eventrail-delivery-retry", daemon=True).start()


def _lambda_check(sender) -> Failure | None:
    from localstack.services.lambda_.invocation.models import lambda_stores

    try:
        region, account, _, _ = parse_function_arn(sender.target["Arn"])
    except ValueError as error:
        return Failure(INVALID_PARAMETER, str(error), retryable=False)
    functions = lambda_stores[account][region].functions
    return lambda_permission_failure(functions, sender.target["Arn"], sender.rule_arn, sender.account_id)


def _send_dead_letter_for(sender) -> Callable[[str, str, dict], None]:
    def send(queue_arn: str, body: str, attributes: dict) -> None:
        from localstack.aws.connect import connect_to
        from localstack.utils.aws.arns import sqs_queue_url_for_arn

        parts = queue_arn.split(":")
        region = parts[3] if len(parts) > 5 else sender.region
        account = parts[4] if len(parts) > 5 else sender.account_id
        sqs = connect_to(aws_access_key_id=account, region_name=region).sqs
        sqs.send_message(
            QueueUrl=sqs_queue_url_for_arn(queue_arn),
            MessageBody=body,
            MessageAttributes=attributes,
        )

    return send


_MARK = "_eventrail_delivery"


def _wrap_send_event(cls, is_lambda: bool):
    upstream = cls.__dict__["send_event"]

    def send_event(self, event, trace_header):
        deliver(
            Delivery(
                rule_arn=self.rule_arn,
                target=self.target,
                event=event,
                send=lambda: upstream(self, event, trace_header),
                check=(lambda: _lambda_check(self)) if is_lambda else (lambda: None),
                send_dead_letter=_send_dead_letter_for(self),
            ),
            start_thread=_spawn,
        )

    setattr(send_event, _MARK, upstream)
    send_event.__doc__ = upstream.__doc__
    cls.send_event = send_event


def install() -> list[str]:
    """Patches the running LocalStack 4.13.1; returns what it patched.

    Raises :class:`InstallError` when LocalStack is another version or a patched function is
    missing, so the patch never half-applies silently.
    """
    from localstack import version as localstack_version

    found = getattr(localstack_version, "version", None)
    if found != SUPPORTED_LOCALSTACK_VERSION:
        raise InstallError(
            f"eventrail's EventBridge delivery patch targets LocalStack "
            f"{SUPPORTED_LOCALSTACK_VERSION}, this is {found}: not installed"
        )
    from localstack.services.events import provider as events_provider
    from localstack.services.events import target as events_target

    factory = getattr(events_target, "TargetSenderFactory", None)
    target_map = getattr(factory, "target_map", None)
    lambda_sender = getattr(events_target, "LambdaTargetSender", None)
    upstream_validate = getattr(events_provider, "validate_event", None)
    missing = [
        name
        for name, value in (
            ("target.TargetSenderFactory.target_map", target_map),
            ("target.LambdaTargetSender", lambda_sender),
            ("provider.validate_event", upstream_validate),
            ("provider.ValidationException", getattr(events_provider, "ValidationException", None)),
        )
        if value is None
    ]
    if not isinstance(target_map, dict) or not target_map:
        missing.append("target.TargetSenderFactory.target_map (a non-empty dict)")
    classes = [] if missing else list(dict.fromkeys(target_map.values()))
    for cls in classes:
        if "send_event" not in cls.__dict__:
            missing.append(f"target.{cls.__name__}.send_event")
    if missing:
        raise InstallError(
            "eventrail's EventBridge delivery patch cannot find "
            + ", ".join(missing)
            + f" in LocalStack {found}: not installed"
        )

    patched = []
    for cls in classes:
        if getattr(cls.__dict__["send_event"], _MARK, None) is not None:
            continue
        _wrap_send_event(cls, is_lambda=cls is lambda_sender)
        patched.append(f"{cls.__name__}.send_event")

    if getattr(upstream_validate, _MARK, None) is None:
        validation_exception = events_provider.ValidationException

        def validate_event(event):
            if entry_size(event) >= MAX_ENTRY_BYTES:
                raise validation_exception(
                    "Total size of the entries in the request is over the limit."
                )
            detail = event.get("Detail")
            if detail and len(detail) >= 262144:
                # Upstream's 256 KiB check would refuse it: validate a stand-in with the
                # same JSON shape for the other checks.
                try:
                    parsed = json.loads(detail)
                except json.JSONDecodeError:
                    parsed = None
                stand_in = "{}" if isinstance(parsed, dict) else "not json"
                return upstream_validate({**event, "Detail": stand_in})
            return upstream_validate(event)

        setattr(validate_event, _MARK, upstream_validate)
        events_provider.validate_event = validate_event
        patched.append("provider.validate_event")
    return patched
