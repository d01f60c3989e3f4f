"""The shared install of a LocalStack method patch, and the ready hooks' shared entry point."""

import sys
import types
import unittest
from unittest import mock

import support  # noqa: F401 - puts the package source on sys.path

from eventrail_executor import method_patch, ready_hook

# A stand-in LocalStack module whose class the tests patch (the real ones are covered by
# the cfn_* tests).
_MODULE = "eventrail_test_fake_localstack_module"
_MARK = "_eventrail_test_upstream"


def _fake_module():
    class Owner:
        def greet(self):
            """Upstream's doc."""
            return "upstream"

        def other(self):
            return "other"

    module = types.ModuleType(_MODULE)
    module.Owner = Owner
    return module


def _shout(upstream):
    def wrapper(self):
        return upstream(self).upper()

    return wrapper


class InstallWrapperTest(unittest.TestCase):
    def setUp(self):
        self.module = _fake_module()
        patcher = mock.patch.dict(sys.modules, {_MODULE: self.module})
        patcher.start()
        self.addCleanup(patcher.stop)

    def test_wraps_once_keeping_name_doc_and_upstream(self):
        owner = self.module.Owner
        upstream = owner.__dict__["greet"]
        patched = method_patch.install_wrapper("test", _MODULE, "Owner", "greet", _shout, _MARK)
        self.assertEqual(patched, ["Owner.greet"])
        self.assertEqual(owner().greet(), "UPSTREAM")
        self.assertEqual(owner.greet.__name__, "greet")
        self.assertEqual(owner.greet.__doc__, "Upstream's doc.")
        self.assertIs(getattr(owner.greet, _MARK), upstream)
        again = method_patch.install_wrapper("test", _MODULE, "Owner", "greet", _shout, _MARK)
        self.assertEqual(again, [])
        self.assertEqual(owner().greet(), "UPSTREAM")

    def test_a_missing_method_is_named_and_nothing_is_patched(self):
        owner = self.module.Owner
        wraps = {"greet": _shout, "gone": _shout, "also_gone": _shout}
        with self.assertRaisesRegex(
            method_patch.InstallError,
            r"^eventrail's test patch cannot find Owner\.gone, also_gone in LocalStack 4\.13\.1: "
            r"not installed$",
        ):
            method_patch.install_wrappers("test", _MODULE, "Owner", wraps, _MARK)
        self.assertEqual(owner().greet(), "upstream")

    def test_a_missing_class_names_every_method(self):
        with self.assertRaisesRegex(method_patch.InstallError, r"cannot find Nobody\.greet, other"):
            method_patch.install_wrappers(
                "test", _MODULE, "Nobody", {"greet": _shout, "other": _shout}, _MARK
            )

    def test_another_version_is_refused_before_anything_is_looked_up(self):
        from localstack import version

        with mock.patch.object(version, "version", "4.14.0"):
            with self.assertRaisesRegex(
                method_patch.InstallError,
                r"^eventrail's test patch targets LocalStack 4\.13\.1, this is 4\.14\.0: "
                r"not installed$",
            ):
                method_patch.install_wrapper("test", _MODULE, "Nobody", "greet", _shout, _MARK)


class ReadyHookTest(unittest.TestCase):
    def test_a_failed_install_is_logged_as_an_error_and_raised(self):
        from localstack import version

        with mock.patch.object(version, "version", "4.14.0"):
            with self.assertLogs("eventrail.cfn_details", "ERROR") as logs:
                with self.assertRaises(method_patch.InstallError):
                    ready_hook.install_patch("cfn_details", "changeset details", "what breaks")
        self.assertEqual(len(logs.output), 1)
        self.assertIn(
            "eventrail changeset details patch NOT installed (what breaks): eventrail's "
            "changeset details patch targets LocalStack 4.13.1, this is 4.14.0",
            logs.output[0],
        )

    def test_an_install_is_logged_with_what_it_patched(self):
        with self.assertLogs("eventrail.cfn_details", "INFO") as logs:
            ready_hook.install_patch("cfn_details", "changeset details", "what breaks")
            ready_hook.install_patch("cfn_details", "changeset details", "what breaks")
        self.assertRegex(
            logs.output[-1], r"eventrail changeset details patch installed: already$"
        )


if __name__ == "__main__":
    unittest.main()
