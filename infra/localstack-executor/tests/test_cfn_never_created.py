"""Deleting a stack whose creation failed (eventrail_executor.cfn_never_created)."""

import unittest
from types import SimpleNamespace
from unittest import mock

import support  # noqa: F401 - puts the package source on sys.path

from eventrail_executor import cfn_never_created

# The stack's record after a creation where `Tiny` was refused and `TinyRole` was created.
RESOLVED = {
    "Tiny": {
        "LogicalResourceId": "Tiny",
        "Type": "AWS::Lambda::Function",
        "Properties": {},
        "ResourceStatus": "CREATE_FAILED",
        "ResourceStatusReason": "Invalid value for parameter MemorySize, value: 1",
    },
    "TinyRole": {
        "LogicalResourceId": "TinyRole",
        "Type": "AWS::IAM::Role",
        "Properties": {},
        "PhysicalResourceId": "stack-TinyRole-1",
        "ResourceStatus": "CREATE_COMPLETE",
    },
}


def executor():
    """An executor holding the record above, whose provider calls are counted."""
    return SimpleNamespace(_before_resolved_resources=RESOLVED, resources={})


def remove(target, name, kind, calls, **extra):
    """Removes `name` through the patch's wrapper around a stand-in for upstream that
    records which resources reach the provider."""
    from localstack.aws.api.cloudformation import ChangeAction

    def provider_call(self, action, logical_resource_id, resource_type, **kwargs):
        calls.append(logical_resource_id)
        return "deleted by the provider"

    wrapped = cfn_never_created._wrap(provider_call)
    return wrapped(
        target,
        action=ChangeAction.Remove,
        logical_resource_id=name,
        resource_type=kind,
        before_properties=None,
        after_properties=None,
        **extra,
    )


class PatchedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cfn_never_created.install()

    def test_install_twice_patches_nothing_more(self):
        self.assertEqual(cfn_never_created.install(), [])

    def test_another_localstack_version_is_refused_loudly(self):
        from localstack import version

        with mock.patch.object(version, "version", "4.14.0"):
            with self.assertRaisesRegex(cfn_never_created.InstallError, "4.13.1, this is 4.14.0"):
                cfn_never_created.install()

    def test_a_resource_never_created_is_removed_without_its_provider(self):
        from localstack.services.cloudformation.resource_provider import OperationStatus

        calls = []
        target = executor()
        event = remove(target, "Tiny", "AWS::Lambda::Function", calls)
        self.assertEqual(event.status, OperationStatus.SUCCESS)
        self.assertEqual(calls, [])
        self.assertEqual(target.resources["Tiny"]["Type"], "AWS::Lambda::Function")

    def test_a_created_resource_is_removed_by_its_provider(self):
        calls = []
        event = remove(executor(), "TinyRole", "AWS::IAM::Role", calls)
        self.assertEqual(event, "deleted by the provider")
        self.assertEqual(calls, ["TinyRole"])

    def test_the_old_half_of_a_replacement_is_left_to_upstream(self):
        calls = []
        remove(executor(), "Tiny", "AWS::Lambda::Function", calls, part_of_replacement=True)
        self.assertEqual(calls, ["Tiny"])

    def test_never_created_reads_the_physical_id(self):
        self.assertTrue(cfn_never_created.never_created(RESOLVED, "Tiny"))
        self.assertFalse(cfn_never_created.never_created(RESOLVED, "TinyRole"))
        self.assertTrue(cfn_never_created.never_created(None, "Tiny"))


if __name__ == "__main__":
    unittest.main()
