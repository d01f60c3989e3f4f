"""EventBridge rule-target delivery rules (eventrail_executor.delivery)."""

import json
import unittest
from dataclasses import dataclass, field
from unittest import mock

import support  # noqa: F401 - puts the package source on sys.path

from botocore.exceptions import ClientError, EndpointConnectionError

from eventrail_executor import delivery

RULE = "arn:aws:events:us-east-1:111111111111:rule/bus/app-inventory-OrderPlaced"
OTHER_RULE = "arn:aws:events:us-east-1:111111111111:rule/bus/app-fraud-Suspicious"
FUNCTION = "arn:aws:lambda:us-east-1:111111111111:function:app-inventory"
QUEUE = "arn:aws:sqs:us-east-1:111111111111:app-inventory-delivery-dlq"


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": f"{code} says no"},
         "ResponseMetadata": {"HTTPStatusCode": status}},
        "Invoke",
    )


def sam_statement(source_arn: str = RULE, principal=None, action="lambda:InvokeFunction"):
    """A statement as LocalStack stores SAM's AWS::Lambda::Permission for a rule."""
    return {
        "Sid": "perm",
        "Effect": "Allow",
        "Action": action,
        "Resource": FUNCTION,
        "Principal": principal if principal is not None else {"Service": "events.amazonaws.com"},
        "Condition": {"ArnLike": {"AWS:SourceArn": source_arn}},
    }


@dataclass
class Policy:
    Statement: list


@dataclass
class FunctionPolicy:
    policy: Policy


@dataclass
class Function:
    """The fields of LocalStack's lambda_models.Function the permission check reads."""

    versions: dict = field(default_factory=lambda: {"$LATEST": object()})
    aliases: dict = field(default_factory=dict)
    permissions: dict = field(default_factory=dict)


def function_with(*statements) -> Function:
    function = Function()
    if statements:
        function.permissions["$LATEST"] = FunctionPolicy(Policy(list(statements)))
    return function


class ClassifyTest(unittest.TestCase):
    def test_permission_and_missing_resource_errors_are_not_retried(self):
        denied = delivery.classify(client_error("AccessDeniedException", 403))
        self.assertEqual((denied.code, denied.retryable), (delivery.NO_PERMISSIONS, False))
        gone = delivery.classify(client_error("ResourceNotFoundException", 404))
        self.assertEqual((gone.code, gone.retryable), (delivery.NO_RESOURCE, False))
        self.assertIn("says no", gone.message)

    def test_throttling_5xx_and_connection_failures_are_retried(self):
        for error, code in (
            (client_error("ThrottlingException", 400), delivery.THROTTLING),
            (client_error("TooManyRequestsException", 429), delivery.THROTTLING),
            (client_error("ServiceException", 500), delivery.INTERNAL_ERROR),
            (client_error("ServiceUnavailable", 503), delivery.INTERNAL_ERROR),
            (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), delivery.CONNECTION_FAILURE),
        ):
            failure = delivery.classify(error)
            self.assertEqual((failure.code, failure.retryable), (code, True), error)

    def test_other_client_errors_and_local_bugs_are_not_retried(self):
        self.assertFalse(delivery.classify(client_error("InvalidParameterValueException", 400)).retryable)
        self.assertFalse(delivery.classify(client_error("RequestEntityTooLargeException", 413)).retryable)
        bug = delivery.classify(KeyError("Arn"))
        self.assertEqual((bug.code, bug.retryable), (delivery.INTERNAL_ERROR, False))


class PolicyTest(unittest.TestCase):
    def test_the_rule_named_in_the_source_arn_condition_may_invoke(self):
        self.assertTrue(delivery.policy_allows_rule([sam_statement()], RULE, "111111111111"))

    def test_another_rule_or_no_statement_may_not(self):
        self.assertFalse(delivery.policy_allows_rule([sam_statement()], OTHER_RULE, "111111111111"))
        self.assertFalse(delivery.policy_allows_rule([], RULE, "111111111111"))

    def test_wildcards_and_unconditioned_statements(self):
        wildcard = sam_statement(source_arn="arn:aws:events:us-east-1:111111111111:rule/bus/*")
        self.assertTrue(delivery.policy_allows_rule([wildcard], OTHER_RULE, "111111111111"))
        unconditioned = {k: v for k, v in sam_statement().items() if k != "Condition"}
        self.assertTrue(delivery.policy_allows_rule([unconditioned], OTHER_RULE, "111111111111"))
        self.assertTrue(
            delivery.policy_allows_rule([sam_statement(action="lambda:*")], RULE, "111111111111")
        )
        equals = dict(sam_statement(), Condition={"ArnEquals": {"aws:SourceArn": RULE}})
        self.assertTrue(delivery.policy_allows_rule([equals], RULE, "111111111111"))

    def test_other_principals_actions_and_unknown_conditions_do_not_allow(self):
        self.assertFalse(delivery.policy_allows_rule(
            [sam_statement(principal={"Service": "sns.amazonaws.com"})], RULE, "111111111111"))
        self.assertFalse(delivery.policy_allows_rule(
            [sam_statement(action="lambda:GetFunction")], RULE, "111111111111"))
        odd = dict(sam_statement(), Condition={"StringEquals": {"aws:PrincipalOrgID": "o-1"}})
        self.assertFalse(delivery.policy_allows_rule([odd], RULE, "111111111111"))
        account = dict(sam_statement(), Condition={"StringEquals": {"AWS:SourceAccount": "222222222222"}})
        self.assertFalse(delivery.policy_allows_rule([account], RULE, "111111111111"))

    def test_a_matching_deny_wins(self):
        deny = dict(sam_statement(), Effect="Deny")
        self.assertFalse(delivery.policy_allows_rule([sam_statement(), deny], RULE, "111111111111"))


class LambdaPermissionTest(unittest.TestCase):
    def test_a_deleted_function_is_no_resource(self):
        failure = delivery.lambda_permission_failure({}, FUNCTION, RULE, "111111111111")
        self.assertEqual(failure.code, delivery.NO_RESOURCE)
        missing_alias = delivery.lambda_permission_failure(
            {"app-inventory": function_with(sam_statement())}, FUNCTION + ":live", RULE, "111111111111")
        self.assertEqual(missing_alias.code, delivery.NO_RESOURCE)

    def test_a_removed_permission_is_no_permissions(self):
        failure = delivery.lambda_permission_failure(
            {"app-inventory": function_with()}, FUNCTION, RULE, "111111111111")
        self.assertEqual((failure.code, failure.retryable), (delivery.NO_PERMISSIONS, False))
        self.assertIn(RULE, failure.message)

    def test_the_permitted_rule_passes(self):
        self.assertIsNone(delivery.lambda_permission_failure(
            {"app-inventory": function_with(sam_statement())}, FUNCTION, RULE, "111111111111"))


class Recorder:
    """A fake target plus dead-letter queue and clock."""

    def __init__(self, outcomes, target_extra=None):
        self.outcomes = list(outcomes)
        self.attempts = 0
        self.dead_letters = []
        self.now = 0.0
        self.sleeps = []
        self.threads = []
        self.target = {"Id": "t", "Arn": FUNCTION, "DeadLetterConfig": {"Arn": QUEUE}}
        self.target.update(target_extra or {})

    def send(self):
        self.attempts += 1
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def delivery(self, check=lambda: None, event=None):
        return delivery.Delivery(
            rule_arn=RULE,
            target=self.target,
            event=event if event is not None else {"id": "e-1", "detail": {"a": 1}},
            send=self.send,
            check=check,
            send_dead_letter=lambda q, b, a: self.dead_letters.append((q, b, a)),
        )

    def deliver(self, **kwargs):
        delivery.deliver(self.delivery(**kwargs), start_thread=self.threads.append,
                         clock=lambda: self.now, sleep=self.sleep)
        for thread in self.threads:
            thread()

    def attributes(self):
        self.assertOne()
        return {k: v["StringValue"] for k, v in self.dead_letters[0][2].items()}

    def assertOne(self):
        if len(self.dead_letters) != 1:
            raise AssertionError(f"dead letters: {self.dead_letters}")


class DeliverTest(unittest.TestCase):
    def test_a_delivered_event_leaves_no_dead_letter(self):
        r = Recorder([None])
        r.deliver()
        self.assertEqual((r.attempts, r.dead_letters, r.threads), (1, [], []))

    def test_no_permission_goes_to_the_dead_letter_queue_at_once_without_invoking(self):
        r = Recorder([])
        denied = delivery.Failure(delivery.NO_PERMISSIONS, "not allowed", retryable=False)
        r.deliver(check=lambda: denied)
        self.assertEqual(r.attempts, 0, "the function is not invoked")
        self.assertEqual(r.threads, [], "no retries")
        queue, body, _ = r.dead_letters[0]
        self.assertEqual(queue, QUEUE)
        self.assertEqual(json.loads(body), {"id": "e-1", "detail": {"a": 1}})
        self.assertEqual(r.attributes(), {
            "RULE_ARN": RULE,
            "TARGET_ARN": FUNCTION,
            "ERROR_CODE": "NO_PERMISSIONS",
            "ERROR_MESSAGE": "not allowed",
            "RETRY_ATTEMPTS": "0",
        })

    def test_a_deleted_target_is_not_retried(self):
        r = Recorder([client_error("ResourceNotFoundException", 404)])
        r.deliver()
        self.assertEqual(r.attempts, 1)
        self.assertEqual(r.attributes()["ERROR_CODE"], "NO_RESOURCE")
        self.assertNotIn("EXHAUSTED_RETRY_CONDITION", r.attributes())

    def test_throttling_is_retried_until_it_succeeds(self):
        r = Recorder([client_error("ThrottlingException", 429)] * 3 + [None])
        r.deliver()
        self.assertEqual(r.attempts, 4)
        self.assertEqual(r.dead_letters, [])
        self.assertEqual(r.sleeps, [0.1, 0.2, 0.4])

    def test_retries_stop_at_maximum_retry_attempts(self):
        r = Recorder([client_error("ServiceException", 500)] * 10,
                     {"RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}})
        r.deliver()
        self.assertEqual(r.attempts, 3, "the first attempt and two retries")
        attributes = r.attributes()
        self.assertEqual(attributes["EXHAUSTED_RETRY_CONDITION"], "MaximumRetryAttempts")
        self.assertEqual(attributes["RETRY_ATTEMPTS"], "2")
        self.assertEqual(attributes["ERROR_CODE"], "INTERNAL_ERROR")

    def test_retries_stop_at_maximum_event_age(self):
        r = Recorder([client_error("ThrottlingException", 429)] * 100,
                     {"RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 60}})
        r.deliver()
        self.assertLessEqual(r.now, 60)
        attributes = r.attributes()
        self.assertEqual(attributes["EXHAUSTED_RETRY_CONDITION"], "MaximumEventAgeInSeconds")
        self.assertEqual(attributes["ERROR_CODE"], "THROTTLING")
        self.assertEqual(int(attributes["RETRY_ATTEMPTS"]), r.attempts - 1)
        self.assertTrue(all(s <= delivery.RETRY_DELAY_MAX for s in r.sleeps))

    def test_a_non_retryable_error_during_retries_ends_them(self):
        r = Recorder([client_error("ThrottlingException", 429), client_error("AccessDeniedException", 403)])
        r.deliver()
        self.assertEqual(r.attempts, 2)
        attributes = r.attributes()
        self.assertEqual((attributes["ERROR_CODE"], attributes["RETRY_ATTEMPTS"]), ("NO_PERMISSIONS", "1"))
        self.assertNotIn("EXHAUSTED_RETRY_CONDITION", attributes)

    def test_without_a_dead_letter_queue_the_event_is_dropped_quietly(self):
        r = Recorder([client_error("AccessDeniedException", 403)])
        del r.target["DeadLetterConfig"]
        r.deliver()  # does not raise
        self.assertEqual(r.dead_letters, [])

    def test_a_transformed_string_event_is_dead_lettered_as_is(self):
        r = Recorder([client_error("AccessDeniedException", 403)])
        r.deliver(event="order 1 placed")
        self.assertEqual(r.dead_letters[0][1], "order 1 placed")


class EntrySizeTest(unittest.TestCase):
    def test_counts_the_fields_aws_counts(self):
        entry = {"Source": "s", "DetailType": "dt", "Detail": '{"é":1}', "Resources": ["r1", "r22"]}
        self.assertEqual(delivery.entry_size(entry), 1 + 2 + 8 + 2 + 3)  # é is 2 bytes
        self.assertEqual(delivery.entry_size({**entry, "Time": "2026-01-01"}), 16 + 14)


class InstallTest(unittest.TestCase):
    """Against the LocalStack 4.13.1 the tests run with (the venv's)."""

    @classmethod
    def setUpClass(cls):
        delivery.install()

    def test_install_twice_patches_nothing_more(self):
        self.assertEqual(delivery.install(), [])

    def test_another_localstack_version_is_refused_loudly(self):
        from localstack import version

        with mock.patch.object(version, "version", "4.14.0"):
            with self.assertRaisesRegex(delivery.InstallError, "4.13.1, this is 4.14.0"):
                delivery.install()

    def test_a_missing_function_is_refused_loudly(self):
        from localstack.services.events import provider

        with mock.patch.object(provider, "validate_event", None):
            with self.assertRaisesRegex(delivery.InstallError, "provider.validate_event"):
                delivery.install()

    def test_put_events_takes_entries_up_to_one_mib(self):
        from localstack.services.events import provider

        def entry(detail_bytes):
            text = "x" * (detail_bytes - len('{"a":""}'))
            return {"Source": "eventrail.orders", "DetailType": "OrderPlaced",
                    "Detail": json.dumps({"a": text}, separators=(",", ":"))}

        self.assertIsNone(provider.validate_event(entry(900 * 1024)))
        with self.assertRaises(provider.ValidationException):
            provider.validate_event(entry(delivery.MAX_ENTRY_BYTES))
        malformed = {"Source": "s", "DetailType": "d", "Detail": "[" + "1," * 200_000 + "1]"}
        self.assertEqual(provider.validate_event(malformed)["ErrorCode"], "MalformedDetail")
        self.assertEqual(provider.validate_event({"Source": "s", "DetailType": "d"})["ErrorCode"],
                         "InvalidArgument")

    def test_a_lambda_target_without_permission_is_dead_lettered_not_invoked(self):
        from localstack.services.events.target import TargetSenderFactory
        from localstack.services.lambda_.invocation.models import lambda_stores

        functions = lambda_stores["111111111111"]["us-east-1"].functions
        functions["app-inventory"] = function_with()  # no permission statement
        self.addCleanup(functions.pop, "app-inventory", None)
        target = {"Id": "t", "Arn": FUNCTION, "DeadLetterConfig": {"Arn": QUEUE}}
        sender = TargetSenderFactory(target, RULE, "r", "us-east-1", "111111111111").get_target_sender()
        sender._client = mock.Mock()
        sent = []
        with mock.patch.object(delivery, "_send_dead_letter_for",
                               lambda s: lambda q, b, a: sent.append((q, b, a))):
            sender.process_event({"id": "e-1", "detail": {"a": 1}, "event-bus-name": "bus"}, None)
        sender._client.invoke.assert_not_called()
        self.assertEqual(len(sent), 1, sent)
        self.assertEqual(sent[0][2]["ERROR_CODE"]["StringValue"], "NO_PERMISSIONS")
        self.assertEqual(json.loads(sent[0][1]), {"id": "e-1", "detail": {"a": 1}})

        functions["app-inventory"] = function_with(sam_statement())
        sent.clear()
        with mock.patch.object(delivery, "_send_dead_letter_for",
                               lambda s: lambda q, b, a: sent.append((q, b, a))):
            sender.process_event({"id": "e-2", "detail": {}}, None)
        sender._client.invoke.assert_called_once()
        self.assertEqual(sent, [])


if __name__ == "__main__":
    unittest.main()
