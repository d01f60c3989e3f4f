"""EventBridge Scheduler expressions: when a schedule fires next (eventrail_executor.schedule_expressions)."""

import unittest
from datetime import UTC, datetime, timedelta

import support  # noqa: F401 - puts the package source on sys.path

from eventrail_executor.schedule_expressions import ExpressionError, Timing, aws_weekday, parse


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


CREATED = utc(2026, 12, 7, 20, 30, 15)


def next_after(expression, after, zone=None, start=None, end=None, created=CREATED):
    return Timing.of(expression, zone, created, start, end).next_after(after)


def firings(expression, after, count, zone=None, start=None, end=None):
    timing = Timing.of(expression, zone, CREATED, start, end)
    out = []
    for _ in range(count):
        after = timing.next_after(after)
        if after is None:
            break
        out.append(after)
    return out


class RateTest(unittest.TestCase):
    def test_every_period_from_creation(self):
        self.assertEqual(
            firings("rate(1 minute)", CREATED, 3),
            [utc(2026, 12, 7, 20, 31, 15), utc(2026, 12, 7, 20, 32, 15), utc(2026, 12, 7, 20, 33, 15)],
        )

    def test_units_and_plurals(self):
        self.assertEqual(next_after("rate(5 minutes)", CREATED), CREATED + timedelta(minutes=5))
        self.assertEqual(next_after("rate(1 hour)", CREATED), CREATED + timedelta(hours=1))
        self.assertEqual(next_after("rate(2 hours)", CREATED), CREATED + timedelta(hours=2))
        self.assertEqual(next_after("rate(1 day)", CREATED), CREATED + timedelta(days=1))
        self.assertEqual(next_after("rate(3 days)", CREATED), CREATED + timedelta(days=3))

    def test_a_late_reader_gets_the_next_period_not_a_burst(self):
        later = CREATED + timedelta(minutes=10, seconds=3)
        self.assertEqual(next_after("rate(1 minute)", later), utc(2026, 12, 7, 20, 41, 15))

    def test_start_date_is_the_first_firing(self):
        start = utc(2026, 12, 8, 9, 0, 0)
        self.assertEqual(firings("rate(1 hour)", CREATED, 2, start=start), [start, start + timedelta(hours=1)])

    def test_nothing_after_the_end_date(self):
        end = CREATED + timedelta(minutes=2, seconds=30)
        self.assertEqual(len(firings("rate(1 minute)", CREATED, 10, end=end)), 2)

    def test_bad_rates_are_refused(self):
        for bad in ("rate(0 minutes)", "rate(1 week)", "rate(minutes)", "rate(1.5 hours)"):
            with self.assertRaises(ExpressionError, msg=bad):
                parse(bad)


class CronTest(unittest.TestCase):
    def test_every_day_at_a_time_in_utc(self):
        self.assertEqual(
            firings("cron(0 21 * * ? *)", CREATED, 2),
            [utc(2026, 12, 7, 21, 0), utc(2026, 12, 8, 21, 0)],
        )

    def test_lists_ranges_and_increments(self):
        self.assertEqual(
            firings("cron(0/15 9-10 * * ? *)", utc(2026, 12, 7, 9, 20), 4),
            [utc(2026, 12, 7, 9, 30), utc(2026, 12, 7, 9, 45), utc(2026, 12, 7, 10, 0), utc(2026, 12, 7, 10, 15)],
        )
        self.assertEqual(
            firings("cron(5,35 12 * * ? *)", utc(2026, 12, 7, 12, 10), 2),
            [utc(2026, 12, 7, 12, 35), utc(2026, 12, 8, 12, 5)],
        )

    def test_weekdays_by_name_with_sunday_first(self):
        # 2026-12-07 is a Monday.
        self.assertEqual(aws_weekday(datetime(2026, 12, 7).date()), 2)
        self.assertEqual(aws_weekday(datetime(2026, 12, 6).date()), 1)
        self.assertEqual(
            firings("cron(0 8 ? * MON-FRI *)", utc(2026, 12, 10, 9, 0), 3),
            [utc(2026, 12, 11, 8, 0), utc(2026, 12, 14, 8, 0), utc(2026, 12, 15, 8, 0)],
        )
        self.assertEqual(next_after("cron(0 8 ? * 1 *)", CREATED), utc(2026, 12, 13, 8, 0))

    def test_months_days_of_month_and_years(self):
        self.assertEqual(next_after("cron(0 0 1 JAN ? *)", CREATED), utc(2027, 1, 1, 0, 0))
        self.assertEqual(next_after("cron(30 6 15 * ? 2027)", CREATED), utc(2027, 1, 15, 6, 30))
        self.assertIsNone(next_after("cron(0 0 1 1 ? 2025)", CREATED))

    def test_last_day_nearest_weekday_last_and_nth_weekday(self):
        self.assertEqual(next_after("cron(0 12 L * ? *)", CREATED), utc(2026, 12, 31, 12, 0))
        self.assertEqual(next_after("cron(0 12 L 2 ? *)", CREATED), utc(2027, 2, 28, 12, 0))
        # 2027-05-15 is a Saturday: 15W is Friday the 14th.
        self.assertEqual(next_after("cron(0 12 15W 5 ? *)", CREATED), utc(2027, 5, 14, 12, 0))
        # 2027-01-31 is a Sunday: LW is Friday the 29th.
        self.assertEqual(next_after("cron(0 12 LW 1 ? *)", CREATED), utc(2027, 1, 29, 12, 0))
        # The last Friday of December 2026 is the 25th; the first Monday of January 2027 the 4th.
        self.assertEqual(next_after("cron(0 12 ? 12 6L *)", CREATED), utc(2026, 12, 25, 12, 0))
        self.assertEqual(next_after("cron(0 12 ? 1 2#1 *)", CREATED), utc(2027, 1, 4, 12, 0))

    def test_the_timezone_decides_the_wall_time(self):
        # 09:00 in Paris is 08:00 UTC in winter and 07:00 UTC in summer.
        self.assertEqual(next_after("cron(0 9 * * ? *)", CREATED, zone="Europe/Paris"), utc(2026, 12, 8, 8, 0))
        self.assertEqual(
            next_after("cron(0 9 * * ? *)", utc(2027, 7, 1, 0, 0), zone="Europe/Paris"), utc(2027, 7, 1, 7, 0)
        )

    def test_a_wall_time_the_clock_change_skips_does_not_fire(self):
        # 2027-03-28 02:30 does not exist in Paris (02:00 -> 03:00).
        self.assertEqual(
            next_after("cron(30 2 * * ? *)", utc(2027, 3, 27, 2, 0), zone="Europe/Paris"),
            utc(2027, 3, 29, 0, 30),
        )

    def test_bad_cron_expressions_are_refused(self):
        for bad in (
            "cron(0 12 * * * *)",  # both day fields set
            "cron(0 12 ? * ? *)",  # neither
            "cron(0 12 * *)",  # too few fields
            "cron(60 12 * * ? *)",
            "cron(0 24 * * ? *)",
            "cron(0 12 32 * ? *)",
            "cron(0 12 ? * FUNDAY *)",
            "every day",
        ):
            with self.assertRaises(ExpressionError, msg=bad):
                parse(bad)

    def test_an_unknown_timezone_is_refused(self):
        with self.assertRaises(ExpressionError):
            Timing.of("cron(0 9 * * ? *)", "Mars/Olympus", CREATED)


class AtTest(unittest.TestCase):
    def test_once_in_the_schedules_timezone(self):
        self.assertEqual(next_after("at(2026-12-07T22:00:00)", CREATED), utc(2026, 12, 7, 22, 0))
        self.assertEqual(
            next_after("at(2026-12-07T22:00:00)", CREATED, zone="Europe/Paris"), utc(2026, 12, 7, 21, 0)
        )
        self.assertIsNone(next_after("at(2026-12-07T22:00:00)", utc(2026, 12, 7, 22, 0)))


if __name__ == "__main__":
    unittest.main()
