"""Tests of the Runtime API server and the process sandbox (no LocalStack involved)."""

import json
import threading
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

import support  # noqa: I001  (puts ../src first on sys.path)
from eventrail_executor.runtime_api import (
    InitError,
    RuntimeApiServer,
    Sandbox,
    _Invocation,
    elf_architecture_mismatch,
)

ARN = "arn:aws:lambda:us-east-1:000000000000:function:test"


def invoke(sandbox, event, request_id="req-1"):
    return sandbox.invoke(request_id, json.dumps(event).encode(), ARN, trace_id="Root=1-abc")


class SandboxTest(unittest.TestCase):
    def sandbox(self, timeout=5.0, env=None, variant=""):
        code_dir = support.make_code_dir(variant)
        self.addCleanup(support.remove, code_dir)
        sandbox = Sandbox(code_dir, {"GREETING": "hi", **(env or {})}, timeout)
        self.addCleanup(sandbox.stop)
        return sandbox

    def test_response_carries_headers_env_and_payload(self):
        sandbox = self.sandbox()
        sandbox.start()
        before = time.time() * 1000
        outcome = invoke(sandbox, {"action": "echo", "n": 1}, "req-echo")
        self.assertFalse(outcome.is_error, outcome.payload)
        body = json.loads(outcome.payload)
        self.assertEqual(body["event"], {"action": "echo", "n": 1})
        self.assertEqual(body["request_id"], "req-echo")
        self.assertEqual(body["arn"], ARN)
        self.assertEqual(body["trace"], "Root=1-abc")
        # The deadline is the invocation start plus the function timeout (5 s), in epoch ms.
        self.assertGreaterEqual(body["deadline_ms"], before + 4000)
        self.assertLessEqual(body["deadline_ms"], time.time() * 1000 + 5000)
        self.assertEqual(body["env"]["GREETING"], "hi")
        self.assertTrue(body["env"]["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:"))
        self.assertEqual(Path(body["cwd"]), sandbox.code_dir)
        self.assertIn("START RequestId: req-echo", outcome.logs)
        self.assertIn("handling echo req-echo", outcome.logs)
        self.assertIn("REPORT RequestId: req-echo", outcome.logs)

    def test_every_line_printed_before_the_answer_is_in_that_invocations_logs(self):
        # The output is read asynchronously; a loaded machine must not move a handler's last
        # lines into the next invocation, or lose them.
        sandbox = self.sandbox()
        sandbox.start()
        for n in range(40):
            outcome = invoke(sandbox, {"action": "echo", "n": n}, f"req-{n}")
            self.assertIn(f"handling echo req-{n}", outcome.logs)
            self.assertNotIn(f"handling echo req-{n - 1}", outcome.logs)

    def test_warm_process_is_reused(self):
        sandbox = self.sandbox()
        sandbox.start()
        first = json.loads(invoke(sandbox, {}, "a").payload)["pid"]
        second = json.loads(invoke(sandbox, {}, "b").payload)["pid"]
        self.assertEqual(first, second)

    def test_handler_error_is_an_error_result(self):
        sandbox = self.sandbox()
        sandbox.start()
        outcome = invoke(sandbox, {"action": "error"})
        self.assertTrue(outcome.is_error)
        self.assertEqual(
            json.loads(outcome.payload), {"errorType": "OrderRejected", "errorMessage": "tok_decline"}
        )
        # The process survives a handled error.
        self.assertFalse(invoke(sandbox, {}, "req-2").is_error)

    def test_timeout_kills_process_and_next_invoke_gets_a_fresh_one(self):
        # 5 s, not 1: the same timeout bounds the next invoke, whose fresh process must start
        # and answer within it on a machine busy with a whole test run.
        sandbox = self.sandbox(timeout=5.0)
        sandbox.start()
        pid = sandbox.pid
        outcome = invoke(sandbox, {"action": "sleep", "seconds": 30}, "slow")
        self.assertTrue(outcome.is_error)
        error = json.loads(outcome.payload)
        self.assertEqual(error["errorType"], "Sandbox.Timedout")
        self.assertIn("Task timed out after 5.00 seconds", error["errorMessage"])
        self.assertTrue(support.wait_gone(pid), "timed-out process still running")
        after = invoke(sandbox, {}, "next")
        self.assertFalse(after.is_error, after.payload)
        self.assertNotEqual(json.loads(after.payload)["pid"], pid)

    def test_crash_is_an_error_result_and_next_invoke_gets_a_fresh_process(self):
        sandbox = self.sandbox()
        sandbox.start()
        pid = sandbox.pid
        outcome = invoke(sandbox, {"action": "crash"}, "boom")
        self.assertTrue(outcome.is_error)
        error = json.loads(outcome.payload)
        self.assertEqual(error["errorType"], "Runtime.ExitError")
        self.assertIn("exit status 3", error["errorMessage"])
        after = invoke(sandbox, {}, "again")
        self.assertFalse(after.is_error, after.payload)
        self.assertNotEqual(json.loads(after.payload)["pid"], pid)

    def test_stop_kills_the_process_group(self):
        sandbox = self.sandbox()
        sandbox.start()
        body = json.loads(invoke(sandbox, {"action": "spawn_child"}).payload)
        child = body["event"]["child_pid"]
        self.assertTrue(support.pid_alive(child))
        sandbox.stop()
        self.assertTrue(support.wait_gone(body["pid"]), "bootstrap still running after stop")
        self.assertTrue(support.wait_gone(child), "bootstrap's child still running after stop")
        outcome = invoke(sandbox, {}, "late")
        self.assertTrue(outcome.is_error)
        self.assertEqual(json.loads(outcome.payload)["errorType"], "Runtime.Stopped")

    def test_stop_interrupts_a_running_invocation(self):
        sandbox = self.sandbox(timeout=60)
        sandbox.start()
        results = []
        worker = threading.Thread(
            target=lambda: results.append(invoke(sandbox, {"action": "sleep", "seconds": 60}))
        )
        worker.start()
        time.sleep(0.3)
        sandbox.stop()
        worker.join(10)
        self.assertFalse(worker.is_alive())
        self.assertTrue(results[0].is_error)

    def test_init_error_is_reported(self):
        sandbox = self.sandbox(env={"BOOTSTRAP_INIT": "error"})
        with self.assertRaises(InitError) as caught:
            sandbox.start()
        self.assertEqual(json.loads(caught.exception.payload)["errorType"], "Runtime.ConfigError")

    def test_exit_during_init_is_reported_with_status(self):
        sandbox = self.sandbox(env={"BOOTSTRAP_INIT": "exit"})
        with self.assertRaises(InitError) as caught:
            sandbox.start()
        error = json.loads(caught.exception.payload)
        self.assertEqual(error["errorType"], "Runtime.ExitError")
        self.assertIn("exit status 2", error["errorMessage"])
        self.assertIn("init is exiting", sandbox.logs.text())

    def test_init_failure_on_restart_becomes_an_error_result(self):
        # The first process crashes; the replacement fails init: the invocation gets an error
        # result rather than an exception.
        sandbox = self.sandbox()
        sandbox.start()
        invoke(sandbox, {"action": "crash"})
        sandbox.env["BOOTSTRAP_INIT"] = "error"
        outcome = invoke(sandbox, {}, "after-crash")
        self.assertTrue(outcome.is_error)
        self.assertEqual(json.loads(outcome.payload)["errorType"], "Runtime.ConfigError")

    def test_stop_during_init_unblocks_start(self):
        sandbox = self.sandbox(env={"BOOTSTRAP_INIT": "hang"})
        errors = []

        def start():
            try:
                sandbox.start()
            except InitError as e:
                errors.append(e)

        worker = threading.Thread(target=start)
        worker.start()
        time.sleep(0.5)
        sandbox.stop()
        worker.join(10)
        self.assertFalse(worker.is_alive())
        self.assertEqual(len(errors), 1)

    def test_missing_bootstrap(self):
        code_dir = support.make_code_dir()
        self.addCleanup(support.remove, code_dir)
        (code_dir / "bootstrap").unlink()
        with self.assertRaises(InitError) as caught:
            Sandbox(code_dir, {}, 3).start()
        self.assertEqual(json.loads(caught.exception.payload)["errorType"], "Runtime.InvalidEntrypoint")

    def test_not_executable_bootstrap(self):
        code_dir = support.make_code_dir()
        self.addCleanup(support.remove, code_dir)
        (code_dir / "bootstrap").chmod(0o644)
        with self.assertRaises(InitError) as caught:
            Sandbox(code_dir, {}, 3).start()
        self.assertIn("0755", json.loads(caught.exception.payload)["errorMessage"])

    def test_foreign_architecture_is_named(self):
        code_dir = support.make_code_dir()
        self.addCleanup(support.remove, code_dir)
        import os

        foreign = 183 if os.uname().machine == "x86_64" else 62
        header = b"\x7fELF\x02\x01\x01" + b"\x00" * 11 + foreign.to_bytes(2, "little")
        (code_dir / "bootstrap").write_bytes(header + b"\x00" * 64)
        message = elf_architecture_mismatch(code_dir / "bootstrap")
        self.assertIsNotNone(message)
        self.assertIn("this machine is", message)
        with self.assertRaises(InitError):
            Sandbox(code_dir, {}, 3).start()


class RuntimeApiServerTest(unittest.TestCase):
    def setUp(self):
        self.api = RuntimeApiServer()
        self.api.start()
        self.addCleanup(self.api.close)
        self.base = f"http://{self.api.address}/2018-06-01/runtime"

    def post(self, path, body, headers=None):
        request = urllib.request.Request(self.base + path, data=body, method="POST", headers=headers or {})
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def test_unknown_request_id_is_rejected(self):
        status, body = self.post("/invocation/nope/response", b"{}")
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body)["errorType"], "InvalidRequestID")

    def test_unknown_route_is_404(self):
        status, _ = self.post("/something", b"")
        self.assertEqual(status, 404)

    def test_non_json_error_body_is_wrapped_with_the_error_type_header(self):
        invocation = _Invocation("r1", b"{}", 0, ARN, None)
        self.api.submit(invocation)
        with urllib.request.urlopen(self.base + "/invocation/next") as response:
            self.assertEqual(response.headers["Lambda-Runtime-Aws-Request-Id"], "r1")
        status, _ = self.post(
            "/invocation/r1/error", b"plain text", {"Lambda-Runtime-Function-Error-Type": "Custom"}
        )
        self.assertEqual(status, 202)
        self.assertTrue(invocation.done.is_set())
        self.assertEqual(json.loads(invocation.result), {"errorType": "Custom", "errorMessage": "plain text"})
        # A second answer for the same request id is refused.
        status, _ = self.post("/invocation/r1/response", b"{}")
        self.assertEqual(status, 400)

    def test_oversized_response_becomes_an_error(self):
        invocation = _Invocation("big", b"{}", 0, ARN, None)
        self.api.submit(invocation)
        with urllib.request.urlopen(self.base + "/invocation/next"):
            pass
        status, _ = self.post("/invocation/big/response", b"x" * (6 * 1024 * 1024 + 1))
        self.assertEqual(status, 413)
        self.assertTrue(invocation.is_error)
        self.assertEqual(json.loads(invocation.result)["errorType"], "Function.ResponseSizeTooLarge")

    def test_chunked_response_body(self):
        invocation = _Invocation("c1", b"{}", 0, ARN, None)
        self.api.submit(invocation)
        with urllib.request.urlopen(self.base + "/invocation/next"):
            pass
        import http.client

        conn = http.client.HTTPConnection(self.api.address.split(":")[0], self.api.port)
        conn.request("POST", "/2018-06-01/runtime/invocation/c1/response",
                     body=iter([b'{"a":', b"1}"]), encode_chunked=True)
        self.assertEqual(conn.getresponse().status, 202)
        conn.close()
        self.assertEqual(json.loads(invocation.result), {"a": 1})

    def test_close_releases_a_waiting_next(self):
        statuses = []

        def poll():
            try:
                urllib.request.urlopen(self.base + "/invocation/next")
            except urllib.error.HTTPError as e:
                statuses.append(e.code)
            except OSError:
                statuses.append("closed")

        worker = threading.Thread(target=poll)
        worker.start()
        time.sleep(0.3)
        self.api.close()
        worker.join(5)
        self.assertFalse(worker.is_alive())
        self.assertEqual(statuses, [410])


if __name__ == "__main__":
    unittest.main()
