"""A failed changeset's stack statuses as AWS documents them (eventrail_executor.cfn_rollback_status)."""

import unittest
from types import SimpleNamespace
from unittest import mock

import support  # noqa: F401 - puts the package source on sys.path

from eventrail_executor import cfn_rollback_status


class Stack:
    """A stack that records its statuses, as LocalStack's records them as stack events."""

    def __init__(self, status):
        self.status = status
        self.recorded = []

    def set_stack_status(self, status, reason=None):
        self.status = status
        self.recorded.append(str(status))


def run(change_set_type, start, sequence):
    """Runs the patch's wrapper around a stand-in for LocalStack 4.13.1's executor that sets
    `sequence` (its statuses for a failed resource); the statuses the stack recorded."""
    stack = Stack(start)

    def upstream(executor):
        for status in sequence:
            executor._change_set.stack.set_stack_status(status)
        return "result"

    executor = SimpleNamespace(
        _change_set=SimpleNamespace(stack=stack, change_set_type=change_set_type)
    )
    result = cfn_rollback_status._wrap(upstream)(executor)
    assert result == "result"
    # The mapping is gone once the changeset ran.
    assert "set_stack_status" not in stack.__dict__
    return stack.recorded


# What LocalStack 4.13.1's ChangeSetModelExecutor.execute sets when a resource fails.
LOCALSTACK_CREATE = ["CREATE_FAILED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]
LOCALSTACK_UPDATE = ["UPDATE_FAILED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]


class PatchedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cfn_rollback_status.install()

    def test_install_twice_patches_nothing_more(self):
        self.assertEqual(cfn_rollback_status.install(), [])

    def test_another_localstack_version_is_refused_loudly(self):
        from localstack import version

        with mock.patch.object(version, "version", "4.14.0"):
            with self.assertRaisesRegex(cfn_rollback_status.InstallError, "4.13.1, this is 4.14.0"):
                cfn_rollback_status.install()

    def test_a_failed_creation_rolls_back_without_a_final_status_in_between(self):
        self.assertEqual(
            run("CREATE", "CREATE_IN_PROGRESS", LOCALSTACK_CREATE),
            ["ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"],
        )

    def test_a_failed_update_ends_in_update_rollback_complete(self):
        self.assertEqual(
            run("UPDATE", "UPDATE_IN_PROGRESS", LOCALSTACK_UPDATE),
            ["UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE"],
        )

    def test_a_success_and_a_deletion_are_left_alone(self):
        self.assertEqual(
            run("UPDATE", "UPDATE_IN_PROGRESS", ["UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"]),
            ["UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"],
        )
        self.assertEqual(
            run("CREATE", "DELETE_IN_PROGRESS", ["DELETE_FAILED"]), ["DELETE_FAILED"]
        )


if __name__ == "__main__":
    unittest.main()
