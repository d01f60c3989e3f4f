"""EventBridge Scheduler firing rules (eventrail_executor.scheduler), without LocalStack."""

import json
import unittest
from datetime import UTC, datetime, timedelta

import support  # noqa: F401 - puts the package source on sys.path

from botocore.exceptions import ClientError

from eventrail_executor import delivery, scheduler

ARN = "arn:aws:scheduler:us-east-1:111111111111:schedule/default/app-stock-count"
FUNCTION = "arn:aws:lambda:us-east-1:111111111111:function:app-stock-count"
DLQ = "arn:aws:sqs:us-east-1:111111111111:app-stock-count-failures"
ROLE = "arn:aws:iam::111111111111:role/app-stock-count-schedule"
INPUT = (
    '{"scheduledTime":"<aws.scheduler.scheduled-time>","executionId":"<aws.scheduler.execution-id>",'
    '"scheduleArn":"<aws.scheduler.schedule-arn>","attempt":"<aws.scheduler.attempt-number>"}'
)
CREATED = datetime(2026, 12, 7, 20, 30, 0, tzinfo=UTC)


def schedule(expression="rate(1 minute)", state="ENABLED", modified=CREATED.timestamp(), target=None, arn=ARN):
    return scheduler.Schedule(
        arn=arn,
        name=arn.rsplit("/", 1)[-1],
        group="default",
        expression=expression,
        timezone="UTC",
        state=state,
        created=CREATED,
        start=None,
        end=None,
        target=target if target is not None else {
            "Arn": FUNCTION,
            "RoleArn": ROLE,
            "Input": INPUT,
            "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
            "DeadLetterConfig": {"Arn": DLQ},
        },
        modified=modified,
    )


def client_error(code, status):
    return ClientError({"Error": {"Code": code, "Message": f"{code} says no"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "Invoke")


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


class SubstitutionTest(unittest.TestCase):
    def test_every_context_attribute_is_replaced(self):
        text = scheduler.substitute(INPUT, ARN, datetime(2026, 12, 7, 21, 0, 0, 123, tzinfo=UTC), "e-1", 2)
        self.assertEqual(
            json.loads(text),
            {"scheduledTime": "2026-12-07T21:00:00Z", "executionId": "e-1", "scheduleArn": ARN, "attempt": "2"},
        )

    def test_the_scheduled_time_is_utc(self):
        paris = datetime(2026, 12, 7, 22, 0, tzinfo=UTC).astimezone(
            __import__("zoneinfo").ZoneInfo("Europe/Paris"))
        self.assertEqual(scheduler.scheduled_time_text(paris), "2026-12-07T22:00:00Z")

    def test_text_without_attributes_is_unchanged(self):
        self.assertEqual(scheduler.substitute('{"a": 1}', ARN, CREATED, "e", 1), '{"a": 1}')


class RunnerTest(unittest.TestCase):
    def setUp(self):
        self.schedules = [schedule()]
        self.fired = []
        self.clock = Clock(CREATED + timedelta(seconds=5))
        self.runner = scheduler.Runner(lambda: list(self.schedules), lambda s, t: self.fired.append((s.arn, t)), self.clock)

    def advance(self, seconds):
        self.clock.now += timedelta(seconds=seconds)
        return self.runner.tick()

    def test_a_rate_schedule_fires_once_per_period(self):
        self.runner.tick()
        self.assertEqual(self.runner.next_firing(ARN), CREATED + timedelta(minutes=1))
        self.assertEqual(self.advance(30), [])
        self.assertEqual(self.advance(30), [(ARN, CREATED + timedelta(minutes=1))])
        self.assertEqual(self.advance(1), [])
        self.assertEqual(self.advance(59), [(ARN, CREATED + timedelta(minutes=2))])
        self.assertEqual(len(self.fired), 2)

    def test_a_disabled_schedule_does_not_fire_until_enabled(self):
        self.schedules = [schedule(state="DISABLED")]
        self.runner.tick()
        self.assertEqual(self.advance(120), [])
        # Enabled at CREATED + 126 s: the missed periods do not fire, the next one does.
        self.schedules = [schedule(state="ENABLED", modified=(self.clock.now + timedelta(seconds=1)).timestamp())]
        self.assertEqual(self.advance(1), [])
        self.assertEqual(self.runner.next_firing(ARN), CREATED + timedelta(minutes=3))
        self.assertEqual(self.advance(60), [(ARN, CREATED + timedelta(minutes=3))])

    def test_an_updated_expression_is_replanned_and_a_deleted_schedule_forgotten(self):
        self.runner.tick()
        self.schedules = [schedule(expression="cron(0 21 * * ? *)", modified=self.clock.now.timestamp())]
        self.advance(1)
        self.assertEqual(self.runner.next_firing(ARN), datetime(2026, 12, 7, 21, 0, tzinfo=UTC))
        self.assertEqual(self.advance(60), [])
        self.schedules = []
        self.advance(1)
        self.assertIsNone(self.runner.next_firing(ARN))
        self.assertEqual(self.advance(3600), [])

    def test_a_time_that_passed_before_the_runner_saw_the_schedule_still_fires(self):
        # Created at CREATED + 5 s for CREATED + 7 s; the runner's next pass is at CREATED + 9 s.
        at = CREATED + timedelta(seconds=7)
        self.schedules = [schedule(expression=f"at({at.strftime('%Y-%m-%dT%H:%M:%S')})",
                                   modified=self.clock.now.timestamp())]
        self.assertEqual(self.advance(4), [(ARN, at)])
        self.assertEqual(self.advance(60), [])

    def test_a_time_missed_long_before_the_runner_started_does_not_fire(self):
        at = CREATED + timedelta(seconds=7)
        self.schedules = [schedule(expression=f"at({at.strftime('%Y-%m-%dT%H:%M:%S')})")]
        self.assertEqual(self.advance(3600), [])

    def test_a_schedule_created_while_running_is_picked_up(self):
        other = ARN.replace("stock-count", "summary")
        self.runner.tick()
        self.schedules.append(schedule(arn=other))
        self.advance(1)
        self.assertIsNotNone(self.runner.next_firing(other))

    def test_a_bad_expression_fires_nothing_and_stops_nothing_else(self):
        other = ARN.replace("stock-count", "summary")
        self.schedules = [schedule(expression="cron(nonsense)"), schedule(arn=other)]
        self.runner.tick()
        self.assertIsNone(self.runner.next_firing(ARN))
        fired = self.advance(60)
        self.assertEqual([arn for arn, _ in fired], [other])


class FiringTest(unittest.TestCase):
    def firing(self, outcomes, target=None):
        """A firing whose target answers `outcomes` in turn (None: success, else raises)."""
        self.inputs = []
        self.dead_letters = []
        answers = list(outcomes)

        def call(payload):
            self.inputs.append(json.loads(payload))
            answer = answers.pop(0)
            if answer is not None:
                raise answer

        return scheduler.Firing(
            schedule(target=target),
            datetime(2026, 12, 7, 21, 0, tzinfo=UTC),
            call,
            lambda queue, body, attributes: self.dead_letters.append((queue, body, attributes)),
            execution_id="exec-1",
        )

    def run_firing(self, firing):
        return firing.run(clock=lambda: 0.0, sleep=lambda _s: None)

    def test_success_sends_the_substituted_input_once(self):
        self.assertIsNone(self.run_firing(self.firing([None])))
        self.assertEqual(
            self.inputs,
            [{"scheduledTime": "2026-12-07T21:00:00Z", "executionId": "exec-1", "scheduleArn": ARN, "attempt": "1"}],
        )
        self.assertEqual(self.dead_letters, [])

    def test_throttling_is_retried_with_the_next_attempt_number(self):
        outcome = self.run_firing(self.firing([client_error("TooManyRequestsException", 429), None]))
        self.assertIsNone(outcome)
        self.assertEqual([i["attempt"] for i in self.inputs], ["1", "2"])
        self.assertEqual({i["executionId"] for i in self.inputs}, {"exec-1"})

    def test_retries_run_out_then_the_input_is_dead_lettered_with_schedulers_attributes(self):
        failures = [client_error("ServiceException", 500)] * 4
        outcome = self.run_firing(self.firing(failures))
        self.assertEqual(outcome.retry_attempts, 3)
        self.assertEqual([i["attempt"] for i in self.inputs], ["1", "2", "3", "4"])
        [(queue, body, attributes)] = self.dead_letters
        self.assertEqual(queue, DLQ)
        self.assertEqual(json.loads(body)["attempt"], "4")
        values = {k: v["StringValue"] for k, v in attributes.items()}
        self.assertEqual(
            values,
            {
                "ERROR_CODE": "AWS.LAMBDA.ServiceException",
                "ERROR_MESSAGE": "ServiceException says no",
                "RETRY_ATTEMPTS": "3",
                "SCHEDULE_ARN": ARN,
                "TARGET_ARN": FUNCTION,
                "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
            },
        )
        self.assertEqual({v["DataType"] for v in attributes.values()}, {"String"})

    def test_a_denied_invoke_is_not_retried_and_goes_to_the_dlq(self):
        outcome = self.run_firing(self.firing([client_error("AccessDeniedException", 403)]))
        self.assertEqual(len(self.inputs), 1)
        self.assertEqual(outcome.failure.code, "AWS.LAMBDA.AccessDeniedException")
        [(_, _, attributes)] = self.dead_letters
        self.assertNotIn("EXHAUSTED_RETRY_CONDITION", attributes)
        self.assertEqual(attributes["RETRY_ATTEMPTS"]["StringValue"], "0")

    def test_without_a_dlq_the_firing_is_dropped(self):
        target = {"Arn": FUNCTION, "RoleArn": ROLE, "Input": INPUT, "RetryPolicy": {"MaximumRetryAttempts": 0}}
        outcome = self.run_firing(self.firing([client_error("ResourceNotFoundException", 404)], target=target))
        self.assertIsNotNone(outcome)
        self.assertEqual(self.dead_letters, [])

    def test_no_input_sends_an_empty_object(self):
        target = {"Arn": FUNCTION, "RoleArn": ROLE}
        self.assertIsNone(self.run_firing(self.firing([None], target=target)))
        self.assertEqual(self.inputs, [{}])


class TrustTest(unittest.TestCase):
    def test_the_role_must_trust_the_scheduler_service(self):
        trusts = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"},
                                 "Action": "sts:AssumeRole"}]}
        lambda_only = {"Statement": [{"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]},
                                      "Action": ["sts:AssumeRole"]}]}
        self.assertTrue(scheduler.role_trusts_scheduler(trusts))
        self.assertTrue(scheduler.role_trusts_scheduler(json.dumps(trusts)))
        self.assertFalse(scheduler.role_trusts_scheduler(lambda_only))
        self.assertFalse(scheduler.role_trusts_scheduler(None))

    def test_stored_dates_of_every_form(self):
        expected = datetime(2026, 12, 7, 21, 0, tzinfo=UTC)
        self.assertEqual(scheduler._as_datetime(expected.timestamp()), expected)
        self.assertEqual(scheduler._as_datetime("2026-12-07T21:00:00Z"), expected)
        self.assertEqual(scheduler._as_datetime(expected.replace(tzinfo=None)), expected)
        self.assertIsNone(scheduler._as_datetime(None))


class ErrorCodeTest(unittest.TestCase):
    def test_the_targets_code_prefixed_with_its_service(self):
        error = client_error("AWS.SimpleQueueService.NonExistentQueue", 400)
        failure = scheduler.error_code("sqs", error, delivery.classify(error))
        self.assertEqual(failure.code, "AWS.SQS.NonExistentQueue")


if __name__ == "__main__":
    unittest.main()
