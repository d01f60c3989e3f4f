"""Concurrency: the per-function counter (eventrail_executor.concurrency) and the SQS event
source mapping's pollers (eventrail_executor.esm_concurrency), without LocalStack running."""

import threading
import time
import unittest

import support  # noqa: F401 - puts the package source on sys.path

from eventrail_executor import concurrency, esm_concurrency

QUEUE = "arn:aws:sqs:us-east-1:111111111111:app-mailer-buffer"


class CounterTest(unittest.TestCase):
    def test_peak_and_in_flight(self):
        counter = concurrency.Counter()
        counter.started("mailer")
        counter.started("mailer")
        counter.started("planner")
        counter.finished("mailer")
        self.assertEqual(
            counter.snapshot(),
            {
                "mailer": {"peak": 2, "in_flight": 1, "invocations": 2},
                "planner": {"peak": 1, "in_flight": 1, "invocations": 1},
            },
        )
        self.assertEqual(list(counter.snapshot("plan")), ["planner"])

    def test_reset_starts_a_new_measurement_from_what_runs_now(self):
        counter = concurrency.Counter()
        for _ in range(3):
            counter.started("mailer")
        counter.finished("mailer")
        counter.finished("mailer")
        before = counter.reset("mail")
        self.assertEqual(before["mailer"]["peak"], 3)
        self.assertEqual(counter.snapshot()["mailer"], {"peak": 1, "in_flight": 1, "invocations": 0})

    def test_running_counts_down_when_the_invocation_raises(self):
        counter = concurrency.Counter()
        with self.assertRaises(RuntimeError):
            with counter.running("mailer"):
                raise RuntimeError("crash")
        self.assertEqual(counter.snapshot()["mailer"]["in_flight"], 0)


class PollersTest(unittest.TestCase):
    def test_the_cap_decides_the_pollers(self):
        self.assertEqual(esm_concurrency.pollers_for({"ScalingConfig": {"MaximumConcurrency": 2}}), 2)
        self.assertEqual(esm_concurrency.pollers_for({"ScalingConfig": {"MaximumConcurrency": 7}}), 7)
        self.assertEqual(esm_concurrency.pollers_for({}), esm_concurrency.DEFAULT_POLLERS)
        self.assertEqual(esm_concurrency.pollers_for({"ScalingConfig": {}}), esm_concurrency.DEFAULT_POLLERS)

    def test_only_sqs_sources(self):
        self.assertTrue(esm_concurrency.is_sqs_source({"EventSourceArn": QUEUE}))
        self.assertFalse(esm_concurrency.is_sqs_source(
            {"EventSourceArn": "arn:aws:kinesis:us-east-1:111111111111:stream/s"}))


class FakePoller:
    """Each poll is one slow synchronous invocation, counted as the executor counts."""

    def __init__(self, counter, batches):
        self.counter = counter
        self.lock = threading.Lock()
        self.batches = batches

    def poll_events(self):
        from localstack.services.lambda_.event_source_mapping.pollers.poller import EmptyPollResultsException

        with self.lock:
            if self.batches == 0:
                raise EmptyPollResultsException("sqs", QUEUE)
            self.batches -= 1
        with self.counter.running("mailer"):
            time.sleep(0.05)


class FakeWorker:
    def __init__(self, config, poller):
        self.esm_config = config
        self.poller = poller
        self.uuid = "esm-1"
        self._shutdown_event = threading.Event()

    def own_loop(self):
        """What LocalStack's own poller_loop does, reduced to the polling."""
        while not self._shutdown_event.is_set():
            try:
                self.poller.poll_events()
            except Exception:  # noqa: BLE001 - empty: wait
                self._shutdown_event.wait(0.01)


class ExtraPollersTest(unittest.TestCase):
    def run_worker(self, config, batches=30):
        counter = concurrency.Counter()
        worker = FakeWorker({"EventSourceArn": QUEUE, **config}, FakePoller(counter, batches))
        own = threading.Thread(target=worker.own_loop, daemon=True)
        own.start()
        extra = esm_concurrency.start_extra_pollers(worker)
        deadline = time.monotonic() + 30
        while worker.poller.batches and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        worker._shutdown_event.set()
        own.join(5)
        return extra, counter.snapshot()["mailer"]

    def test_a_cap_of_two_runs_two_at_once_never_more(self):
        extra, figures = self.run_worker({"ScalingConfig": {"MaximumConcurrency": 2}})
        self.assertEqual(extra, 1)
        self.assertEqual(figures["peak"], 2)
        self.assertEqual(figures["invocations"], 30)

    def test_without_a_cap_five_pollers(self):
        extra, figures = self.run_worker({})
        self.assertEqual(extra, 4)
        self.assertEqual(figures["peak"], 5)

    def test_a_restart_retires_the_old_loops(self):
        counter = concurrency.Counter()
        worker = FakeWorker({"EventSourceArn": QUEUE, "ScalingConfig": {"MaximumConcurrency": 3}},
                            FakePoller(counter, 0))
        esm_concurrency.start_extra_pollers(worker)
        old = [t for t in threading.enumerate() if t.name.startswith("eventrail-esm-poller-esm-1")]
        esm_concurrency.start_extra_pollers(worker)  # a newer generation, as after stop + start
        deadline = time.monotonic() + 10
        while any(t.is_alive() for t in old) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(any(t.is_alive() for t in old))
        worker._shutdown_event.set()


if __name__ == "__main__":
    unittest.main()
