"""Unit tests of the held-invocations count (eventrail_executor.pending)."""

import unittest
from types import SimpleNamespace
from unittest import mock

import support  # noqa: F401  (puts the plugin's source first on sys.path)

from eventrail_executor import pending


def manager(name, url):
    version = SimpleNamespace(id=SimpleNamespace(function_name=name))
    return SimpleNamespace(version_manager=SimpleNamespace(function_version=version), event_queue_url=url)


class FakeSqs:
    def __init__(self, by_url):
        self.by_url = by_url

    def get_queue_attributes(self, QueueUrl, AttributeNames):
        if QueueUrl not in self.by_url:
            raise RuntimeError("gone")
        return {"Attributes": self.by_url[QueueUrl]}


class Pending(unittest.TestCase):
    def test_visible_in_flight_and_delayed_all_count(self):
        self.assertEqual(
            pending.count(
                {
                    "ApproximateNumberOfMessages": "1",
                    "ApproximateNumberOfMessagesNotVisible": "2",
                    "ApproximateNumberOfMessagesDelayed": "3",
                }
            ),
            6,
        )
        self.assertEqual(pending.count({}), 0)

    def test_only_the_stack_s_functions_and_live_queues_are_summed(self):
        managers = {
            "a": manager("eventrail-local-inventory", "q1"),
            "b": manager("eventrail-local-payments", "q2"),
            "c": manager("other-stack-inventory", "q3"),
            "d": manager("eventrail-local-fraud", "gone"),
            "e": manager("eventrail-local-shipping", None),
        }
        sqs = FakeSqs(
            {
                "q1": {"ApproximateNumberOfMessagesNotVisible": "1"},
                "q2": {"ApproximateNumberOfMessagesDelayed": "2"},
                "q3": {"ApproximateNumberOfMessages": "5"},
            }
        )
        with mock.patch.object(pending, "_event_managers", return_value=managers), mock.patch(
            "localstack.services.lambda_.invocation.event_manager.get_sqs_client", return_value=sqs
        ):
            held = pending.pending("eventrail-local-")
        self.assertEqual(held, {"eventrail-local-inventory": 1, "eventrail-local-payments": 2})


if __name__ == "__main__":
    unittest.main()
