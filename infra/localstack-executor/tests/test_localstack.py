"""End-to-end tests of the plugin inside a real LocalStack (started here, host mode).

Needs the plugin installed into the interpreter running the tests (the venv that
`eventrail local` creates under .eventrail/venv/localstack has it).
"""

import concurrent.futures
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request
import zipfile
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from pathlib import Path

import support  # noqa: F401  (sets OVERRIDE_IN_DOCKER before anything imports LocalStack)

import boto3
from botocore.config import Config

REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/lambda-role"
SOURCE = Path(__file__).resolve().parent.parent / "src"
INIT_HOOKS = Path(__file__).resolve().parents[2] / "localstack-init" / "ready.d"
READY_HOOKS = ["eventrail_scheduler.py", "eventrail_concurrency.py"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def code_zip(variant: str = "") -> bytes:
    source = f"#!{sys.executable}\n" + support.FIXTURE.read_text() + variant
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = (0o100755 << 16)
        archive.writestr(info, source)
    return buffer.getvalue()


class LocalStackExecutorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        names = [ep.name for ep in entry_points(group="localstack.lambda.runtime_executor")]
        if "eventrail" not in names:
            raise RuntimeError(
                f"the eventrail executor plugin is not installed in {sys.prefix} (found {names}); "
                "run `cargo run -p eventrail -- local install` or `uv pip install -e infra/localstack-executor`"
            )
        cls.dir = Path(tempfile.mkdtemp(prefix="eventrail-ls-test-"))
        port = free_port()
        cls.endpoint = f"http://127.0.0.1:{port}"
        env = dict(os.environ)
        env.update(
            GATEWAY_LISTEN=f"127.0.0.1:{port}",
            SERVICES="lambda,sqs,sts,iam,logs,events,s3,dynamodb,scheduler",
            # The plugin's source next to these tests, not a possibly older installed copy.
            PYTHONPATH=str(SOURCE) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            LAMBDA_RUNTIME_EXECUTOR="eventrail",
            PROVIDER_OVERRIDE_DYNAMODB="eventrail",
            LAMBDA_RETRY_BASE_DELAY="1",
            DISABLE_EVENTS="1",
            OVERRIDE_IN_DOCKER="0",
            DOCKER_BRIDGE_IP="127.0.0.1",
            DNS_ADDRESS="0",
            SKIP_SSL_CERT_DOWNLOAD="1",
            SKIP_INFRA_DOWNLOADS="1",
            FILESYSTEM_ROOT=str(cls.dir / "fs"),
            TMPDIR=str(cls.dir),
        )
        # The ready hooks of the patches these tests cover (the others change EventBridge
        # delivery and IAM, which the tests below do not set up for).
        hooks = cls.dir / "fs" / "etc" / "localstack" / "init" / "ready.d"
        hooks.mkdir(parents=True)
        for hook in READY_HOOKS:
            shutil.copy(INIT_HOOKS / hook, hooks / hook)
        cls.log = open(cls.dir / "localstack.log", "wb")
        cls.proc = subprocess.Popen(
            [sys.executable, "-m", "localstack.runtime.main"],
            env=env,
            stdout=cls.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(cls.endpoint + "/_localstack/health", timeout=1):
                    break
            except OSError:
                if cls.proc.poll() is not None or time.monotonic() > deadline:
                    cls.tearDownClass()
                    raise RuntimeError(f"LocalStack did not start; see {cls.dir / 'localstack.log'}")
                time.sleep(0.2)
        while True:
            # The ready hooks run after health answers.
            with urllib.request.urlopen(cls.endpoint + "/_localstack/init/ready", timeout=5) as r:
                ready = json.loads(r.read())
            failed = [s["name"] for s in ready.get("scripts", []) if s.get("state") == "ERROR"]
            if failed or time.monotonic() > deadline:
                cls.tearDownClass()
                raise RuntimeError(f"init hooks failed or hung: {failed}; see {cls.dir / 'localstack.log'}")
            if ready.get("completed"):
                break
            time.sleep(0.2)
        session = boto3.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION
        )
        config = Config(retries={"max_attempts": 0}, read_timeout=120)
        cls.awslambda = session.client("lambda", endpoint_url=cls.endpoint, config=config)
        cls.sqs = session.client("sqs", endpoint_url=cls.endpoint)
        cls.events = session.client("events", endpoint_url=cls.endpoint)
        cls.dynamodb = session.client("dynamodb", endpoint_url=cls.endpoint)
        cls.iam = session.client("iam", endpoint_url=cls.endpoint)
        cls.scheduler = session.client("scheduler", endpoint_url=cls.endpoint)

    @classmethod
    def tearDownClass(cls):
        pid = cls.proc.pid
        before = descendants(pid)
        os.killpg(pid, signal.SIGTERM)
        try:
            cls.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(pid, signal.SIGKILL)
            cls.proc.wait(10)
        cls.log.close()
        leftovers = [p for p in before if support.pid_alive(p) and not support.wait_gone(p, 5)]
        support.remove(cls.dir)
        if leftovers:
            raise AssertionError(f"processes left after LocalStack stopped: {leftovers}")

    # --- helpers -----------------------------------------------------------------------

    def create(self, name, timeout=5, env=None, variant=""):
        self.awslambda.create_function(
            FunctionName=name,
            Runtime="provided.al2023",
            Handler="bootstrap",
            Role=ROLE,
            Code={"ZipFile": code_zip(variant)},
            Timeout=timeout,
            Environment={"Variables": env or {"GREETING": "hello"}},
        )
        self.awslambda.get_waiter("function_active_v2").wait(FunctionName=name)
        self.addCleanup(self.delete_quietly, name)

    def delete_quietly(self, name):
        try:
            self.awslambda.delete_function(FunctionName=name)
        except self.awslambda.exceptions.ResourceNotFoundException:
            pass

    def invoke(self, name, event):
        response = self.awslambda.invoke(FunctionName=name, Payload=json.dumps(event).encode())
        return response.get("FunctionError"), json.loads(response["Payload"].read())

    def wait_updated(self, name):
        self.awslambda.get_waiter("function_updated_v2").wait(FunctionName=name)

    # --- tests -------------------------------------------------------------------------

    def test_dynamodb_is_served_by_moto_with_atomic_conditional_writes(self):
        table = "eventrail-conditional"
        self.dynamodb.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        )
        self.addCleanup(self.dynamodb.delete_table, TableName=table)

        def claim(caller):
            try:
                self.dynamodb.put_item(
                    TableName=table,
                    Item={"id": {"S": "key"}, "owner": {"N": str(caller)}},
                    ConditionExpression="attribute_not_exists(id)",
                )
                return True
            except self.dynamodb.exceptions.ConditionalCheckFailedException:
                return False

        for _ in range(5):
            self.dynamodb.delete_item(TableName=table, Key={"id": {"S": "key"}})
            with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
                won = [c for c, ok in zip(range(32), pool.map(claim, range(32))) if ok]
            self.assertEqual(len(won), 1, f"conditional writes won by {won}")
            item = self.dynamodb.get_item(TableName=table, Key={"id": {"S": "key"}})["Item"]
            self.assertEqual(item["owner"]["N"], str(won[0]))

    def test_direct_invoke_runs_bootstrap_with_localstack_env(self):
        self.create("echo")
        error, body = self.invoke("echo", {"action": "echo", "order": 7})
        self.assertIsNone(error, body)
        self.assertEqual(body["event"], {"action": "echo", "order": 7})
        self.assertEqual(body["env"]["AWS_LAMBDA_FUNCTION_NAME"], "echo")
        self.assertEqual(body["env"]["GREETING"], "hello")
        self.assertEqual(body["env"]["AWS_REGION"], REGION)
        self.assertEqual(body["env"]["AWS_ENDPOINT_URL"], self.endpoint)
        self.assertTrue(body["arn"].endswith(":function:echo"))
        self.assertIn(body["pid"], descendants(self.proc.pid))
        # Warm: the same process serves the next invocation.
        self.assertEqual(self.invoke("echo", {})[1]["pid"], body["pid"])

    def test_handler_error_timeout_and_crash(self):
        # 3 s: a fresh process must start and answer within it on a loaded machine (the 10 s
        # sleep below still times out).
        self.create("faulty", timeout=3)
        error, body = self.invoke("faulty", {"action": "error"})
        self.assertEqual(error, "Unhandled")
        self.assertEqual(body["errorType"], "OrderRejected")

        pid = self.invoke("faulty", {})[1]["pid"]
        error, body = self.invoke("faulty", {"action": "sleep", "seconds": 10})
        self.assertEqual(error, "Unhandled")
        self.assertEqual(body["errorType"], "Sandbox.Timedout")
        self.assertTrue(support.wait_gone(pid))

        error, body = self.invoke("faulty", {})
        self.assertIsNone(error, body)
        fresh = body["pid"]
        self.assertNotEqual(fresh, pid)

        error, body = self.invoke("faulty", {"action": "crash"})
        self.assertEqual(error, "Unhandled")
        self.assertEqual(body["errorType"], "Runtime.ExitError")
        error, body = self.invoke("faulty", {})
        self.assertIsNone(error, body)
        self.assertNotEqual(body["pid"], fresh)

    def test_init_error_is_the_invoke_result(self):
        self.create("broken", env={"BOOTSTRAP_INIT": "error"})
        error, body = self.invoke("broken", {})
        self.assertEqual(error, "Unhandled")
        self.assertEqual(body["errorType"], "Runtime.ConfigError")

    def test_code_and_configuration_updates_replace_the_process(self):
        self.create("updatable")
        old_pid = self.invoke("updatable", {})[1]["pid"]

        self.awslambda.update_function_code(FunctionName="updatable", ZipFile=code_zip("\n# v2\n"))
        self.wait_updated("updatable")
        self.assertTrue(support.wait_gone(old_pid), "old process survived a code update")
        body = self.invoke("updatable", {})[1]
        self.assertNotEqual(body["pid"], old_pid)

        self.awslambda.update_function_configuration(
            FunctionName="updatable", Environment={"Variables": {"GREETING": "changed"}}
        )
        self.wait_updated("updatable")
        self.assertTrue(support.wait_gone(body["pid"]), "old process survived a config update")
        self.assertEqual(self.invoke("updatable", {})[1]["env"]["GREETING"], "changed")

        last = self.invoke("updatable", {})[1]["pid"]
        self.awslambda.delete_function(FunctionName="updatable")
        self.assertTrue(support.wait_gone(last), "process survived the function's deletion")

    def test_concurrent_invocations_get_their_own_processes(self):
        self.create("parallel")
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            results = list(
                pool.map(lambda _: self.invoke("parallel", {"action": "sleep", "seconds": 1.5}), range(3))
            )
        pids = {body["pid"] for _, body in results}
        self.assertEqual(len(pids), 3, results)

    def test_async_failure_reaches_on_failure_destination(self):
        self.create("async-fail")
        queue_url = self.sqs.create_queue(QueueName="async-fail-dlq")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.awslambda.put_function_event_invoke_config(
            FunctionName="async-fail",
            MaximumRetryAttempts=1,
            DestinationConfig={"OnFailure": {"Destination": queue_arn}},
        )
        event = {"action": "error", "order_id": "o-1"}
        self.awslambda.invoke(
            FunctionName="async-fail", InvocationType="Event", Payload=json.dumps(event).encode()
        )
        record = self.receive(queue_url)
        self.assertEqual(record["requestPayload"], event)
        self.assertEqual(record["requestContext"]["condition"], "RetriesExhausted")
        self.assertEqual(record["requestContext"]["approximateInvokeCount"], 2)
        self.assertEqual(record["responsePayload"]["errorType"], "OrderRejected")

    def test_eventbridge_rule_invokes_the_function(self):
        self.create("subscriber")
        queue_url = self.sqs.create_queue(QueueName="subscriber-success")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.awslambda.put_function_event_invoke_config(
            FunctionName="subscriber", DestinationConfig={"OnSuccess": {"Destination": queue_arn}}
        )
        function_arn = self.awslambda.get_function(FunctionName="subscriber")["Configuration"]["FunctionArn"]
        self.events.put_rule(Name="to-subscriber", EventPattern=json.dumps({"source": ["eventrail.orders"]}))
        self.events.put_targets(Rule="to-subscriber", Targets=[{"Id": "fn", "Arn": function_arn}])
        self.addCleanup(self.events.delete_rule, Name="to-subscriber")
        self.addCleanup(self.events.remove_targets, Rule="to-subscriber", Ids=["fn"])
        self.events.put_events(
            Entries=[{"Source": "eventrail.orders", "DetailType": "OrderPlaced", "Detail": '{"n": 1}'}]
        )
        record = self.receive(queue_url)
        handled = record["responsePayload"]["event"]
        self.assertEqual(handled["detail-type"], "OrderPlaced")
        self.assertEqual(handled["detail"], {"n": 1})

    # --- the Scheduler and event source mapping patches ---------------------------------

    def queue(self, name):
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        self.addCleanup(self.sqs.delete_queue, QueueUrl=url)
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def scheduler_role(self, name, trusted="scheduler.amazonaws.com"):
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": trusted}, "Action": "sts:AssumeRole"}]}
        arn = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        self.addCleanup(self.iam.delete_role, RoleName=name)
        return arn

    def concurrency(self, prefix):
        with urllib.request.urlopen(f"{self.endpoint}/_eventrail/concurrency?prefix={prefix}", timeout=5) as r:
            return json.loads(r.read())["functions"]

    def test_a_schedule_fires_its_lambda_target_with_the_context_attributes(self):
        self.create("scheduled")
        queue_url, queue_arn = self.queue("scheduled-success")
        self.awslambda.put_function_event_invoke_config(
            FunctionName="scheduled", DestinationConfig={"OnSuccess": {"Destination": queue_arn}}
        )
        function_arn = self.awslambda.get_function(FunctionName="scheduled")["Configuration"]["FunctionArn"]
        at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
        schedule_arn = self.scheduler.create_schedule(
            Name="scheduled-once",
            ScheduleExpression=f"at({at.strftime('%Y-%m-%dT%H:%M:%S')})",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={
                "Arn": function_arn,
                "RoleArn": self.scheduler_role("scheduled-role"),
                "Input": json.dumps({"time": "<aws.scheduler.scheduled-time>", "id": "<aws.scheduler.execution-id>",
                                     "arn": "<aws.scheduler.schedule-arn>", "attempt": "<aws.scheduler.attempt-number>"}),
            },
        )["ScheduleArn"]
        self.addCleanup(self.scheduler.delete_schedule, Name="scheduled-once")
        event = self.receive(queue_url, seconds=60)["responsePayload"]["event"]
        self.assertEqual(event["time"], at.strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.assertEqual(event["arn"], schedule_arn)
        self.assertEqual(event["attempt"], "1")
        self.assertEqual(len(event["id"]), 36, event)

    def test_a_schedule_whose_role_scheduler_cannot_assume_dead_letters_nothing_and_one_that_can_reaches_sqs(self):
        target_url, target_arn = self.queue("schedule-target")
        at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
        for name, trusted in (("sqs-untrusted", "lambda.amazonaws.com"), ("sqs-trusted", "scheduler.amazonaws.com")):
            self.scheduler.create_schedule(
                Name=name,
                ScheduleExpression=f"at({at.strftime('%Y-%m-%dT%H:%M:%S')})",
                FlexibleTimeWindow={"Mode": "OFF"},
                Target={"Arn": target_arn, "RoleArn": self.scheduler_role(f"{name}-role", trusted),
                        "Input": json.dumps({"from": name})},
            )
            self.addCleanup(self.scheduler.delete_schedule, Name=name)
        self.assertEqual(self.receive(target_url, seconds=60), {"from": "sqs-trusted"})
        time.sleep(2)
        left = self.sqs.receive_message(QueueUrl=target_url, WaitTimeSeconds=1).get("Messages", [])
        self.assertEqual(left, [], "the schedule whose role does not trust the scheduler sent")

    def test_a_target_that_fails_goes_to_the_dead_letter_queue_with_schedulers_attributes(self):
        dlq_url, dlq_arn = self.queue("schedule-dlq")
        at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
        missing = f"arn:aws:lambda:{REGION}:000000000000:function:no-such-function"
        schedule_arn = self.scheduler.create_schedule(
            Name="to-nowhere",
            ScheduleExpression=f"at({at.strftime('%Y-%m-%dT%H:%M:%S')})",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": missing, "RoleArn": self.scheduler_role("to-nowhere-role"), "Input": '{"n": 1}',
                    "RetryPolicy": {"MaximumRetryAttempts": 2}, "DeadLetterConfig": {"Arn": dlq_arn}},
        )["ScheduleArn"]
        self.addCleanup(self.scheduler.delete_schedule, Name="to-nowhere")
        deadline = time.monotonic() + 60
        messages = []
        while not messages and time.monotonic() < deadline:
            messages = self.sqs.receive_message(
                QueueUrl=dlq_url, WaitTimeSeconds=2, MessageAttributeNames=["All"]).get("Messages", [])
        self.assertTrue(messages, "no dead letter")
        self.assertEqual(json.loads(messages[0]["Body"]), {"n": 1})
        attributes = {k: v["StringValue"] for k, v in messages[0]["MessageAttributes"].items()}
        self.assertEqual(attributes["SCHEDULE_ARN"], schedule_arn)
        self.assertEqual(attributes["TARGET_ARN"], missing)
        self.assertEqual(attributes["ERROR_CODE"], "AWS.LAMBDA.ResourceNotFoundException")
        self.assertEqual(attributes["RETRY_ATTEMPTS"], "0")

    def consume(self, name, messages, scaling=None, batch_size=1):
        """`messages` bodies through an SQS mapping of a slow function; returns the queue URL."""
        self.create(name, env={"BOOTSTRAP_SLEEP": "1"})
        url, arn = self.queue(f"{name}-source")
        for start in range(0, len(messages), 10):
            self.sqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "MessageBody": body} for i, body in enumerate(messages[start:start + 10])])
        extra = {"ScalingConfig": scaling} if scaling else {}
        uuid = self.awslambda.create_event_source_mapping(
            FunctionName=name, EventSourceArn=arn, BatchSize=batch_size,
            FunctionResponseTypes=["ReportBatchItemFailures"], **extra)["UUID"]
        self.addCleanup(self.awslambda.delete_event_source_mapping, UUID=uuid)
        return url

    def wait_invocations(self, name, count, seconds=90):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            figures = self.concurrency(name).get(name)
            if figures and figures["invocations"] >= count and figures["in_flight"] == 0:
                return figures
            time.sleep(0.5)
        self.fail(f"{name}: {self.concurrency(name)} after {seconds} s")

    def test_an_sqs_mapping_runs_up_to_its_maximum_concurrency_never_more(self):
        self.consume("capped", [f'{{"n": {i}}}' for i in range(12)], scaling={"MaximumConcurrency": 2})
        self.assertEqual(self.wait_invocations("capped", 12)["peak"], 2)

    def test_an_sqs_mapping_without_a_cap_runs_several_at_once(self):
        self.consume("uncapped", [f'{{"n": {i}}}' for i in range(10)])
        peak = self.wait_invocations("uncapped", 10)["peak"]
        self.assertGreater(peak, 2)
        self.assertLessEqual(peak, 5)

    def test_only_the_items_reported_failed_stay_in_the_queue(self):
        url = self.consume("partial", ['{"n": 1}', '{"n": 2, "fail": true}', '{"n": 3}'],
                           scaling={"MaximumConcurrency": 2}, batch_size=10)
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "600"})
        self.wait_invocations("partial", 1)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            left = int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
            if left == 1:
                break
            time.sleep(0.5)
        self.assertEqual(left, 1, attributes)

    def receive(self, queue_url, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            messages = self.sqs.receive_message(
                QueueUrl=queue_url, WaitTimeSeconds=2, MaxNumberOfMessages=1
            ).get("Messages", [])
            if messages:
                return json.loads(messages[0]["Body"])
        self.fail(f"nothing arrived on {queue_url} within {seconds} s")


if __name__ == "__main__":
    unittest.main()
