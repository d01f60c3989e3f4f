"""StartReplay's Destination.FilterArns (eventrail_executor.replay_filter)."""

import unittest
from datetime import UTC, datetime
from types import SimpleNamespace
from unittest import mock

import support  # noqa: F401 - puts the package source on sys.path

from eventrail_executor import replay_filter

ACCOUNT = "000000000000"
REGION = "us-east-1"
BUS = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/app-bus"
ARCHIVE = f"arn:aws:events:{REGION}:{ACCOUNT}:archive/app-archive"
INVENTORY_RULE = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/app-bus/app-inventory-OrderPlaced"
FRAUD_RULE = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/app-bus/app-fraud-OrderPlaced"


def stored_replay(name, destination):
    """A replay as LocalStack 4.13.1 stores it (its own ReplayService builds the model)."""
    from localstack.services.events.replay import ReplayService

    start = datetime(2026, 1, 1, tzinfo=UTC)
    return ReplayService(
        name, REGION, ACCOUNT, ARCHIVE, destination, start, start, None
    ).replay


class ReachesTest(unittest.TestCase):
    def test_without_filter_arns_every_rule_receives_the_replay(self):
        self.assertTrue(replay_filter.replay_reaches(INVENTORY_RULE, None))
        self.assertTrue(replay_filter.replay_reaches(INVENTORY_RULE, []))

    def test_with_filter_arns_only_those_rules_receive_it(self):
        self.assertTrue(replay_filter.replay_reaches(INVENTORY_RULE, [INVENTORY_RULE]))
        self.assertFalse(replay_filter.replay_reaches(FRAUD_RULE, [INVENTORY_RULE]))

    def test_the_stored_replay_keeps_the_destination_s_filter_arns(self):
        replay = stored_replay("r1", {"Arn": BUS, "FilterArns": [INVENTORY_RULE]})
        self.assertEqual(replay_filter.filter_arns_of(replay), [INVENTORY_RULE])
        self.assertIsNone(replay_filter.filter_arns_of(stored_replay("r2", {"Arn": BUS})))

    def test_only_replayed_events_of_a_filtered_replay_are_kept_from_a_rule(self):
        replays = {
            "only-inventory": stored_replay(
                "only-inventory", {"Arn": BUS, "FilterArns": [INVENTORY_RULE]}
            ),
            "everything": stored_replay("everything", {"Arn": BUS}),
        }
        replayed = {"id": "e1", "replay-name": "only-inventory"}
        self.assertTrue(replay_filter.rule_is_filtered_out(replays, FRAUD_RULE, replayed))
        self.assertFalse(replay_filter.rule_is_filtered_out(replays, INVENTORY_RULE, replayed))
        everything = {"id": "e2", "replay-name": "everything"}
        self.assertFalse(replay_filter.rule_is_filtered_out(replays, FRAUD_RULE, everything))
        live = {"id": "e3"}
        self.assertFalse(replay_filter.rule_is_filtered_out(replays, FRAUD_RULE, live))
        unknown = {"id": "e4", "replay-name": "gone"}
        self.assertFalse(replay_filter.rule_is_filtered_out(replays, FRAUD_RULE, unknown))


class InstallTest(unittest.TestCase):
    """Against the LocalStack 4.13.1 the tests run with (the venv's)."""

    @classmethod
    def setUpClass(cls):
        replay_filter.install()

    def test_install_twice_patches_nothing_more(self):
        self.assertEqual(replay_filter.install(), [])

    def test_another_localstack_version_is_refused_loudly(self):
        from localstack import version

        with mock.patch.object(version, "version", "4.14.0"):
            with self.assertRaisesRegex(replay_filter.InstallError, "4.13.1, this is 4.14.0"):
                replay_filter.install()

    def test_the_patched_provider_skips_rules_outside_the_filter(self):
        from localstack.services.events import provider
        from localstack.services.events.models import Rule

        replays = {
            "only-inventory": stored_replay(
                "only-inventory", {"Arn": BUS, "FilterArns": [INVENTORY_RULE]}
            )
        }
        this = SimpleNamespace(get_store=lambda region, account: SimpleNamespace(replays=replays))

        def rule(name):
            return Rule(name=name, region=REGION, account_id=ACCOUNT, event_bus_name="app-bus",
                        event_pattern={"source": ["eventrail.orders"]}, targets={})

        inventory, fraud = rule("app-inventory-OrderPlaced"), rule("app-fraud-OrderPlaced")
        self.assertEqual((inventory.arn, fraud.arn), (INVENTORY_RULE, FRAUD_RULE))
        replayed = {"id": "e1", "source": "eventrail.orders", "replay-name": "only-inventory"}
        live = {"id": "e2", "source": "eventrail.orders"}
        # LocalStack's own rule processing starts by matching the pattern: it saw the event.
        with mock.patch.object(provider, "matches_event", return_value=False) as matched:
            provider.EventsProvider._process_rules(this, fraud, REGION, ACCOUNT, replayed, None)
            self.assertEqual(matched.call_count, 0, "a rule outside FilterArns saw the event")
            provider.EventsProvider._process_rules(this, inventory, REGION, ACCOUNT, replayed, None)
            self.assertEqual(matched.call_count, 1)
            provider.EventsProvider._process_rules(this, fraud, REGION, ACCOUNT, live, None)
            self.assertEqual(matched.call_count, 2, "a live event is not filtered")


if __name__ == "__main__":
    unittest.main()
