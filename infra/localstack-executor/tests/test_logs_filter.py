"""FilterLogEvents' filter pattern (eventrail_executor.logs_filter)."""

import time
import unittest
from unittest import mock

import support  # noqa: F401 - puts the package source on sys.path

from eventrail_executor import logs_filter

SPAN = '{"eventrail_span": {"trace_id": "6740a1b2c3d4e5f60718293a4b5c6d7e", "attributes": {"eventrail.business_key": "p-123"}}}'
OTHER = '{"level": "INFO", "message": "handled p-456"}'


class MatchesTest(unittest.TestCase):
    def test_a_quoted_term_selects_the_messages_that_contain_it(self):
        self.assertTrue(logs_filter.matches('"p-123"', SPAN))
        self.assertFalse(logs_filter.matches('"p-123"', OTHER))
        self.assertTrue(logs_filter.matches('"6740a1b2c3d4e5f60718293a4b5c6d7e"', SPAN))

    def test_terms_are_case_sensitive(self):
        self.assertFalse(logs_filter.matches("INFO", SPAN.lower()))
        self.assertTrue(logs_filter.matches("INFO", OTHER))

    def test_several_terms_must_all_be_there(self):
        self.assertTrue(logs_filter.matches('eventrail_span "p-123"', SPAN))
        self.assertFalse(logs_filter.matches('eventrail_span "p-456"', SPAN))

    def test_question_marked_terms_are_alternatives_and_dashed_ones_exclusions(self):
        self.assertTrue(logs_filter.matches("?p-999 ?p-456", OTHER))
        self.assertFalse(logs_filter.matches("?p-999 ?p-998", OTHER))
        self.assertFalse(logs_filter.matches('"p-456" -INFO', OTHER))
        self.assertTrue(logs_filter.matches('"p-123" -INFO', SPAN))

    def test_a_quoted_phrase_keeps_its_spaces_and_escaped_quotes(self):
        self.assertTrue(logs_filter.matches('"handled p-456"', OTHER))
        self.assertFalse(logs_filter.matches('"handled  p-456"', OTHER))
        self.assertTrue(logs_filter.matches('"\\"level\\""', OTHER))

    def test_other_pattern_kinds_and_an_empty_one_keep_every_event(self):
        for pattern in ["", "   ", '{ $.level = "ERROR" }', "[ip, user]", "%p-[0-9]+%"]:
            self.assertIsNone(logs_filter.parse_terms(pattern), pattern)
            self.assertTrue(logs_filter.matches(pattern, OTHER), pattern)

    def test_the_matcher_reads_the_event_s_message(self):
        match = logs_filter.pattern_matcher('"p-123"')
        self.assertTrue(match('"p-123"', {"message": SPAN, "timestamp": 1}))
        self.assertFalse(match('"p-123"', {"message": OTHER, "timestamp": 1}))


class InstallTest(unittest.TestCase):
    """Against the LocalStack 4.13.1 the tests run with (the venv's)."""

    @classmethod
    def setUpClass(cls):
        logs_filter.install()

    def test_install_twice_patches_nothing_more(self):
        self.assertEqual(logs_filter.install(), [])

    def test_another_localstack_version_is_refused_loudly(self):
        from localstack import version

        with mock.patch.object(version, "version", "4.14.0"):
            with self.assertRaisesRegex(logs_filter.InstallError, "4.13.1, this is 4.14.0"):
                logs_filter.install()

    def test_filter_log_events_returns_only_the_events_with_the_term(self):
        from localstack.services.logs import provider  # noqa: F401 - applies LocalStack's patches
        from moto.logs.models import logs_backends

        backend = logs_backends["000000000000"]["us-east-1"]
        group = "/aws/lambda/eventrail-test-logs-filter"
        if group in backend.groups:
            backend.delete_log_group(group)
        backend.create_log_group(group, tags={})
        backend.create_log_stream(group, "2026/12/07/[$LATEST]a")
        now = int(time.time() * 1000)  # older events are refused, as on AWS
        backend.put_log_events(
            group,
            "2026/12/07/[$LATEST]a",
            [{"timestamp": now, "message": SPAN}, {"timestamp": now + 1, "message": OTHER}],
        )
        events, _token, _searched = backend.filter_log_events(
            group, [], None, None, None, None, '"p-123"', True
        )
        self.assertEqual([e["message"] for e in events], [SPAN])
        everything, _token, _searched = backend.filter_log_events(
            group, [], None, None, None, None, "", True
        )
        self.assertEqual(len(everything), 2)
        backend.delete_log_group(group)


if __name__ == "__main__":
    unittest.main()
