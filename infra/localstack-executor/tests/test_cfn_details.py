"""A changeset's Scope and Details, as AWS documents them (eventrail_executor.cfn_details)."""

import unittest
from types import SimpleNamespace
from unittest import mock

import support  # noqa: F401 - puts the package source on sys.path

from eventrail_executor import cfn_details

QUEUE = "AWS::SQS::Queue"


def describe_modification(before: dict, after: dict, requires_replacement: bool) -> dict:
    """The ResourceChange LocalStack's describer registers for a queue modified from `before`
    to `after` (its own method, on a describer holding nothing else)."""
    from localstack.services.cloudformation.engine.v2.change_set_model_describer import (
        ChangeSetModelDescriber,
    )
    from localstack.services.cloudformation.engine.v2.change_set_model_preproc import (
        PreprocProperties,
    )

    describer = SimpleNamespace(_include_property_values=False, _changes=[])
    ChangeSetModelDescriber._register_resource_change(
        describer,
        logical_id="Renamed",
        type_=QUEUE,
        physical_id="http://127.0.0.1/queue/old",
        before_properties=PreprocProperties(before),
        after_properties=PreprocProperties(after),
        requires_replacement=requires_replacement,
    )
    return describer._changes[-1]["ResourceChange"]


class UpstreamTest(unittest.TestCase):
    """What the patch adds, shown on LocalStack 4.13.1's own describer, unpatched."""

    def test_unpatched_describer_says_replaced_but_not_which_property(self):
        from localstack.services.cloudformation.engine.v2.change_set_model_describer import (
            ChangeSetModelDescriber,
        )

        method = ChangeSetModelDescriber.__dict__[cfn_details._PATCHED]
        upstream = getattr(method, cfn_details._MARK, method)
        with mock.patch.object(ChangeSetModelDescriber, cfn_details._PATCHED, upstream):
            change = describe_modification({"QueueName": "old"}, {"QueueName": "new"}, True)
        self.assertEqual(change["Replacement"], "True")
        self.assertNotIn("Details", change)
        self.assertNotIn("Scope", change)


class PatchedTest(unittest.TestCase):
    """Against the LocalStack 4.13.1 the tests run with (the venv's), patched."""

    @classmethod
    def setUpClass(cls):
        cfn_details.install()

    def test_install_twice_patches_nothing_more(self):
        self.assertEqual(cfn_details.install(), [])

    def test_another_localstack_version_is_refused_loudly(self):
        from localstack import version

        with mock.patch.object(version, "version", "4.14.0"):
            with self.assertRaisesRegex(cfn_details.InstallError, "4.13.1, this is 4.14.0"):
                cfn_details.install()

    def test_a_replaced_queue_names_the_create_only_property_that_replaces_it(self):
        change = describe_modification(
            {"QueueName": "old", "VisibilityTimeout": 30},
            {"QueueName": "new", "VisibilityTimeout": 60},
            True,
        )
        self.assertEqual(change["Replacement"], "True")
        self.assertEqual(change["Scope"], ["Properties"])
        self.assertEqual(
            change["Details"],
            [
                {
                    "Target": {
                        "Attribute": "Properties",
                        "Name": "QueueName",
                        "RequiresRecreation": "Always",
                    },
                    "Evaluation": "Static",
                    "ChangeSource": "DirectModification",
                },
                {
                    "Target": {
                        "Attribute": "Properties",
                        "Name": "VisibilityTimeout",
                        "RequiresRecreation": "Never",
                    },
                    "Evaluation": "Static",
                    "ChangeSource": "DirectModification",
                },
            ],
        )

    def test_added_and_removed_properties_are_changes_too(self):
        change = describe_modification({"DelaySeconds": 5}, {"MessageRetentionPeriod": 60}, False)
        names = [d["Target"]["Name"] for d in change["Details"]]
        self.assertEqual(names, ["DelaySeconds", "MessageRetentionPeriod"])
        self.assertEqual(change["Replacement"], "False")

    def test_a_value_known_only_after_the_change_is_dynamic(self):
        found = cfn_details.details(
            {"RedrivePolicy": {"deadLetterTargetArn": "arn:old"}},
            {"RedrivePolicy": {"deadLetterTargetArn": "{{changeSet:KNOWN_AFTER_APPLY}}"}},
            set(),
        )
        self.assertEqual(found[0]["Evaluation"], "Dynamic")
        self.assertEqual(found[0]["ChangeSource"], "ResourceAttribute")

    def test_the_create_only_properties_are_the_provider_s(self):
        self.assertIn("QueueName", cfn_details.create_only_properties(QUEUE))
        self.assertNotIn("VisibilityTimeout", cfn_details.create_only_properties(QUEUE))
        self.assertEqual(cfn_details.create_only_properties("AWS::No::Such"), set())


if __name__ == "__main__":
    unittest.main()
