"""EventBridge Scheduler schedules fire, for LocalStack 4.13.1.

LocalStack 4.13.1 stores Scheduler schedules (its ``scheduler`` provider is moto's backend, and
CloudFormation creates ``AWS::Scheduler::Schedule`` through it) but never invokes their targets;
its CloudFormation provider also has no update for ``AWS::Scheduler::Schedule`` (a stack update
that changes a schedule fails with NotImplementedError).

What AWS does (EventBridge Scheduler User Guide: "Schedule types", "Context attributes",
"Configuring a schedule's dead-letter queue", "Set up the execution role"), and so does this:

* An ``ENABLED`` schedule fires on its expression (:mod:`eventrail_executor.schedule_expressions`)
  in its ``ScheduleExpressionTimezone``, between ``StartDate`` and ``EndDate``. A ``FLEXIBLE``
  time window fires at the start of the window (a moment AWS may also choose).
* Each firing assumes the target's ``RoleArn`` (the execution role) and calls the target with it:
  a Lambda function is invoked asynchronously (``Invoke``, ``InvocationType=Event``) through
  LocalStack's Lambda service, so the eventrail executor runs it; an SQS queue gets
  ``SendMessage``. Calls made with the role's session are authorised by eventrail's IAM
  enforcement, so the role must allow ``lambda:InvokeFunction`` (or ``sqs:SendMessage``) as
  on AWS. A role that does not trust ``scheduler.amazonaws.com`` cannot be assumed.
* ``Input`` gets the context attributes substituted per attempt:
  ``<aws.scheduler.schedule-arn>``, ``<aws.scheduler.scheduled-time>`` (ISO 8601 UTC, e.g.
  ``2026-12-07T21:00:00Z``), ``<aws.scheduler.execution-id>`` (one per firing, kept across its
  retries) and ``<aws.scheduler.attempt-number>`` (1, then 2, ...).
* A failed call is retried when retrying can help (throttling, 5xx, connection failures) until
  the target's ``RetryPolicy`` runs out (``MaximumRetryAttempts``, default 185;
  ``MaximumEventAgeInSeconds``, default 86,400); then, or at once for any other failure, the
  input goes to the target's ``DeadLetterConfig`` queue, sent with the execution role, with the
  string message attributes ``ERROR_CODE``, ``ERROR_MESSAGE``, ``RETRY_ATTEMPTS``,
  ``SCHEDULE_ARN``, ``TARGET_ARN`` and, when a retry limit ended it,
  ``EXHAUSTED_RETRY_CONDITION``. Without a DLQ the firing is dropped (logged).
* Schedules created, updated or deleted while LocalStack runs (by the API or CloudFormation) are
  picked up within a second: :class:`Runner` re-reads the backend every tick.

Local waits between retries are short, as in :mod:`eventrail_executor.delivery`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Callable

from eventrail_executor import delivery
from eventrail_executor.schedule_expressions import ExpressionError, Timing

LOG = logging.getLogger(__name__)

SUPPORTED_LOCALSTACK_VERSION = "4.13.1"
SCHEDULER_PRINCIPAL = "scheduler.amazonaws.com"
TICK_SECONDS = 1.0
LOOKBACK = timedelta(seconds=60)
"""How far back a schedule first seen (or changed) is planned from: its creation or update
time, at most this long ago. A time that passed between the API call and the runner's next
pass still fires; one missed long before (a LocalStack started late) does not."""

SCHEDULE_ARN = "<aws.scheduler.schedule-arn>"
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
EXECUTION_ID = "<aws.scheduler.execution-id>"
ATTEMPT_NUMBER = "<aws.scheduler.attempt-number>"


class InstallError(RuntimeError):
    """The running LocalStack is not the one this patch was written for."""


def scheduled_time_text(when: datetime) -> str:
    """A scheduled time as the context attribute has it: ISO 8601, UTC, whole seconds."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def substitute(template: str, schedule_arn: str, scheduled_time: datetime, execution_id: str, attempt: int) -> str:
    """The target input with Scheduler's context attributes replaced by their values."""
    return (
        template.replace(SCHEDULE_ARN, schedule_arn)
        .replace(SCHEDULED_TIME, scheduled_time_text(scheduled_time))
        .replace(EXECUTION_ID, execution_id)
        .replace(ATTEMPT_NUMBER, str(attempt))
    )


def _as_datetime(value: Any) -> datetime | None:
    """A stored date (datetime, epoch seconds or ISO 8601 text) as an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), tz=UTC)
    text = str(value).strip()
    try:
        return datetime.fromtimestamp(float(text), tz=UTC)
    except ValueError:
        pass
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Schedule:
    """One stored schedule, as the runner needs it (free of moto's types)."""

    arn: str
    name: str
    group: str
    expression: str
    timezone: str | None
    state: str
    created: datetime
    start: datetime | None
    end: datetime | None
    target: dict = field(hash=False, compare=False)
    modified: float = 0.0

    @property
    def region(self) -> str:
        return self.arn.split(":")[3]

    @property
    def account(self) -> str:
        return self.arn.split(":")[4]

    def signature(self) -> tuple:
        """What decides the next firing: a change re-plans the schedule."""
        return (self.expression, self.timezone, self.state, self.created, self.start, self.end, self.modified)

    def timing(self) -> Timing:
        return Timing.of(self.expression, self.timezone, self.created, self.start, self.end)


class Runner:
    """Keeps each schedule's next firing and fires the due ones, one :meth:`tick` at a time."""

    def __init__(
        self,
        list_schedules: Callable[[], list[Schedule]],
        fire: Callable[[Schedule, datetime], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._list = list_schedules
        self._fire = fire
        self._clock = clock
        self._plans: dict[str, tuple[tuple, datetime | None]] = {}

    def next_firing(self, arn: str) -> datetime | None:
        plan = self._plans.get(arn)
        return plan[1] if plan else None

    def _plan(self, schedule: Schedule, after: datetime) -> datetime | None:
        if schedule.state != "ENABLED":
            return None
        try:
            return schedule.timing().next_after(after)
        except ExpressionError as e:
            LOG.error("eventrail scheduler: schedule %s will not fire: %s", schedule.arn, e)
            return None

    def tick(self) -> list[tuple[str, datetime]]:
        """Fires what is due now; returns (schedule ARN, scheduled time) of each firing."""
        now = self._clock()
        fired = []
        seen = set()
        for schedule in self._list():
            seen.add(schedule.arn)
            signature = schedule.signature()
            plan = self._plans.get(schedule.arn)
            if plan is None or plan[0] != signature:
                changed = _as_datetime(schedule.modified) or now
                plan = (signature, self._plan(schedule, min(now, max(changed, now - LOOKBACK))))
                self._plans[schedule.arn] = plan
            due = plan[1]
            if due is None or due > now:
                continue
            try:
                self._fire(schedule, due)
            except Exception:  # noqa: BLE001 - one schedule's trouble must not stop the others
                LOG.exception("eventrail scheduler: firing %s failed", schedule.arn)
            fired.append((schedule.arn, due))
            self._plans[schedule.arn] = (signature, self._plan(schedule, due))
        for arn in [a for a in self._plans if a not in seen]:
            del self._plans[arn]
        return fired


# ---------------------------------------------------------------------------------------
# One firing


def dead_letter_attributes(schedule_arn: str, target_arn: str, outcome: delivery.Undelivered) -> dict:
    """The SQS message attributes of a Scheduler dead-letter event."""
    values = {
        "ERROR_CODE": outcome.failure.code,
        "ERROR_MESSAGE": outcome.failure.message or outcome.failure.code,
        "RETRY_ATTEMPTS": str(outcome.retry_attempts),
        "SCHEDULE_ARN": schedule_arn,
        "TARGET_ARN": target_arn,
    }
    if outcome.exhausted_condition is not None:
        values["EXHAUSTED_RETRY_CONDITION"] = outcome.exhausted_condition
    return {k: {"DataType": "String", "StringValue": v} for k, v in values.items()}


def error_code(service: str, error: BaseException, failure: delivery.Failure) -> delivery.Failure:
    """The failure with Scheduler's error code: ``AWS.<SERVICE>.<the target's error code>``."""
    response = getattr(error, "response", None)
    code = ""
    if isinstance(response, dict):
        code = str((response.get("Error") or {}).get("Code") or "")
    code = code.rsplit(".", 1)[-1] if code else failure.code
    return delivery.Failure(f"AWS.{service.upper()}.{code}", failure.message, failure.retryable)


def service_of(arn: str) -> str:
    """The service of an ARN (``lambda``, ``sqs``, ...), or "" for something else."""
    parts = arn.split(":")
    return parts[2] if len(parts) >= 6 and parts[0] == "arn" else ""


@dataclass
class Firing:
    """One firing of one schedule: its attempts, then the dead letter if none succeeded."""

    schedule: Schedule
    scheduled_time: datetime
    call_target: Callable[[str], None]
    """Sends one attempt's input to the target (raises on failure)."""
    send_dead_letter: Callable[[str, str, dict], None]
    """(queue ARN, body, message attributes) -> None, with the execution role."""
    execution_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    attempts: int = 0
    last_input: str = ""

    def _input(self) -> str:
        template = self.schedule.target.get("Input")
        if template is None:
            return "{}"
        return substitute(str(template), self.schedule.arn, self.scheduled_time, self.execution_id, self.attempts)

    def attempt(self) -> None:
        self.attempts += 1
        self.last_input = self._input()
        service = service_of(self.schedule.target.get("Arn", "")) or "scheduler"
        try:
            self.call_target(self.last_input)
        except delivery.DeliveryFailed:
            raise
        except Exception as error:  # noqa: BLE001 - classified as the target's failure
            raise delivery.DeliveryFailed(error_code(service, error, delivery.classify(error))) from error

    def run(self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> delivery.Undelivered | None:
        """All attempts; the outcome when the target never took the input (dead-lettered)."""
        started = clock()
        try:
            self.attempt()
            return None
        except Exception as error:  # noqa: BLE001
            first = delivery.classify(error)
        outcome = None
        if first.retryable:
            policy = delivery.RetryPolicy.of_target(self.schedule.target)
            outcome = delivery.retry_until_done(self.attempt, first, policy, started, clock, sleep)
        else:
            outcome = delivery.Undelivered(first, 0, None)
        if outcome is not None:
            self._dead_letter(outcome)
        return outcome

    def _dead_letter(self, outcome: delivery.Undelivered) -> None:
        target_arn = self.schedule.target.get("Arn", "")
        queue_arn = (self.schedule.target.get("DeadLetterConfig") or {}).get("Arn")
        LOG.warning(
            "eventrail scheduler: %s could not invoke %s (%s %s, %d retries)",
            self.schedule.arn, target_arn, outcome.failure.code, outcome.failure.message, outcome.retry_attempts,
        )
        if not queue_arn:
            LOG.warning("eventrail scheduler: %s has no DeadLetterConfig: the firing is dropped", self.schedule.arn)
            return
        try:
            self.send_dead_letter(queue_arn, self.last_input, dead_letter_attributes(self.schedule.arn, target_arn, outcome))
        except Exception:  # noqa: BLE001 - AWS counts it as a failed DLQ delivery and goes on
            LOG.exception("eventrail scheduler: sending to the dead-letter queue %s failed", queue_arn)


# ---------------------------------------------------------------------------------------
# LocalStack: reading schedules, calling targets with the execution role


def role_trusts_scheduler(trust_policy: Any) -> bool:
    """Whether a role's trust policy lets scheduler.amazonaws.com assume it (no condition
    evaluation: a statement with conditions counts as allowing)."""
    if isinstance(trust_policy, str):
        try:
            trust_policy = json.loads(trust_policy)
        except ValueError:
            return False
    if not isinstance(trust_policy, dict):
        return False
    statements = trust_policy.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action") or []
        actions = actions if isinstance(actions, list) else [actions]
        if not any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions):
            continue
        principal = statement.get("Principal") or {}
        if principal == "*":
            return True
        services = principal.get("Service") if isinstance(principal, dict) else None
        services = services if isinstance(services, list) else [services]
        if SCHEDULER_PRINCIPAL in services:
            return True
    return False


def stored_schedules() -> list[Schedule]:
    """Every schedule in moto's Scheduler backends (all accounts and regions)."""
    from moto.scheduler.models import scheduler_backends

    out = []
    for _account, regions in list(scheduler_backends.items()):
        for _region, backend in list(regions.items()):
            for group in list(getattr(backend, "schedule_groups", {}).values()):
                for stored in list(group.schedules.values()):
                    created = _as_datetime(stored.creation_date) or datetime.now(UTC)
                    out.append(
                        Schedule(
                            arn=stored.arn,
                            name=stored.name,
                            group=stored.group_name,
                            expression=stored.schedule_expression,
                            timezone=stored.schedule_expression_timezone,
                            state=stored.state or "ENABLED",
                            created=created,
                            start=_as_datetime(stored.start_date),
                            end=_as_datetime(stored.end_date),
                            target=dict(stored.target or {}),
                            modified=float(stored.last_modified_date or 0),
                        )
                    )
    return out


def _gateway_url() -> str:
    from localstack import config

    from eventrail_executor.executor import gateway_host

    return f"http://{gateway_host()}:{config.GATEWAY_LISTEN[0].port}"


class RoleSession:
    """AWS clients acting as the schedule's execution role, through the gateway (so eventrail's
    IAM enforcement authorises every call as that role's session)."""

    def __init__(self, schedule: Schedule):
        self.schedule = schedule
        self._credentials: dict | None = None

    def _assume(self) -> dict:
        if self._credentials is not None:
            return self._credentials
        import boto3
        from moto.iam.models import iam_backends

        role_arn = self.schedule.target.get("RoleArn") or ""
        parts = role_arn.split(":")
        if len(parts) < 6:
            raise delivery.DeliveryFailed(delivery.Failure("AWS.STS.ValidationError", f"not a role ARN: {role_arn!r}", False))
        account, role_name = parts[4], parts[5].rsplit("/", 1)[-1]
        try:
            role = iam_backends[account][parts[1]].get_role(role_name)
        except Exception as e:  # noqa: BLE001 - moto's not-found
            raise delivery.DeliveryFailed(
                delivery.Failure("AWS.STS.AccessDenied", f"the execution role {role_arn} does not exist", False)
            ) from e
        if not role_trusts_scheduler(role.assume_role_policy_document):
            raise delivery.DeliveryFailed(
                delivery.Failure(
                    "AWS.STS.AccessDenied",
                    f"{SCHEDULER_PRINCIPAL} is not authorized to perform sts:AssumeRole on {role_arn}: "
                    "the role's trust policy does not allow it",
                    False,
                )
            )
        sts = boto3.client(
            "sts", endpoint_url=_gateway_url(), region_name=self.schedule.region,
            aws_access_key_id=self.schedule.account, aws_secret_access_key="test",
        )
        answer = sts.assume_role(RoleArn=role_arn, RoleSessionName=self.schedule.name[:64])
        self._credentials = answer["Credentials"]
        return self._credentials

    def client(self, service: str):
        import boto3
        from botocore.config import Config

        credentials = self._assume()
        return boto3.client(
            service,
            endpoint_url=_gateway_url(),
            region_name=self.schedule.region,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            config=Config(retries={"total_max_attempts": 1}),
        )


def _queue_url(queue_arn: str) -> str:
    from localstack.utils.aws.arns import sqs_queue_url_for_arn

    return sqs_queue_url_for_arn(queue_arn)


def call_target(session: RoleSession, payload: str) -> None:
    target = session.schedule.target
    arn = target.get("Arn", "")
    service = service_of(arn)
    if service == "lambda":
        session.client("lambda").invoke(FunctionName=arn, InvocationType="Event", Payload=payload.encode("utf-8"))
    elif service == "sqs":
        extra = {}
        group = (target.get("SqsParameters") or {}).get("MessageGroupId")
        if group:
            extra["MessageGroupId"] = group
        session.client("sqs").send_message(QueueUrl=_queue_url(arn), MessageBody=payload, **extra)
    else:
        raise delivery.DeliveryFailed(
            delivery.Failure("AWS.SCHEDULER.UnsupportedTarget", f"eventrail fires Lambda and SQS targets only, not {arn}", False)
        )


def fire(schedule: Schedule, scheduled_time: datetime) -> None:
    """Runs one firing in a thread of its own (a slow target does not hold the others up)."""
    session = RoleSession(schedule)

    def send_dead_letter(queue_arn: str, body: str, attributes: dict) -> None:
        session.client("sqs").send_message(QueueUrl=_queue_url(queue_arn), MessageBody=body, MessageAttributes=attributes)

    firing = Firing(schedule, scheduled_time, lambda payload: call_target(session, payload), send_dead_letter)
    LOG.info("eventrail scheduler: %s fires for %s", schedule.arn, scheduled_time_text(scheduled_time))
    threading.Thread(target=firing.run, name="eventrail-scheduler-firing", daemon=True).start()


# ---------------------------------------------------------------------------------------
# Installing


_RUNNER: Runner | None = None
_MARK = "_eventrail_scheduler_update"


def _loop(runner: Runner) -> None:
    while True:
        try:
            runner.tick()
        except Exception:  # noqa: BLE001 - keep firing whatever one pass met
            LOG.exception("eventrail scheduler: a pass over the schedules failed")
        time.sleep(TICK_SECONDS)


def _patch_cloudformation_update() -> str | None:
    """AWS::Scheduler::Schedule updates in place (UpdateSchedule), as on AWS."""
    from localstack.services.cloudformation.resource_provider import OperationStatus, ProgressEvent
    from localstack.services.scheduler.resource_providers import aws_scheduler_schedule as module

    provider = getattr(module, "SchedulerScheduleProvider", None)
    if provider is None or "update" not in provider.__dict__:
        raise InstallError("SchedulerScheduleProvider.update is missing")
    if getattr(provider.__dict__["update"], _MARK, False):
        return None
    fields = [
        "Description", "EndDate", "FlexibleTimeWindow", "GroupName", "KmsKeyArn", "Name",
        "ScheduleExpression", "ScheduleExpressionTimezone", "StartDate", "State", "Target",
    ]

    def update(self, request):
        model = dict(request.desired_state)
        previous = request.previous_state or {}
        model["Name"] = model.get("Name") or previous.get("Name")
        params = {k: model[k] for k in fields if model.get(k) is not None}
        result = request.aws_client_factory.scheduler.update_schedule(**params)
        model["Arn"] = result.get("ScheduleArn") or previous.get("Arn")
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model)

    setattr(update, _MARK, True)
    provider.update = update
    return "SchedulerScheduleProvider.update"


def install() -> list[str]:
    """Starts the runner and patches the CloudFormation update; returns what it did."""
    global _RUNNER
    from localstack import version as localstack_version

    found = getattr(localstack_version, "version", None)
    if found != SUPPORTED_LOCALSTACK_VERSION:
        raise InstallError(
            f"eventrail's Scheduler patch targets LocalStack {SUPPORTED_LOCALSTACK_VERSION}, this is {found}: not installed"
        )
    try:
        from moto.scheduler.models import scheduler_backends  # noqa: F401
    except ImportError as e:
        raise InstallError(f"moto's Scheduler backend is missing: {e}") from e
    done = []
    patched = _patch_cloudformation_update()
    if patched:
        done.append(patched)
    if _RUNNER is None:
        _RUNNER = Runner(stored_schedules, fire)
        threading.Thread(target=_loop, args=(_RUNNER,), name="eventrail-scheduler", daemon=True).start()
        done.append("schedule runner")
    return done
