"""EventBridge Scheduler's schedule expressions: when a schedule fires next.

Pure code (no LocalStack), used by :mod:`eventrail_executor.scheduler`. What it follows (EventBridge
Scheduler User Guide, "Schedule types on EventBridge Scheduler"):

* ``rate(value unit)``: every ``value`` minutes, hours or days (``minute``/``minutes``,
  ``hour``/``hours``, ``day``/``days``). The first firing is one period after the schedule's
  creation, or on its ``StartDate`` when it has one, then every period after that.
* ``cron(minutes hours day-of-month month day-of-week year)``: six fields, evaluated in the
  schedule's ``ScheduleExpressionTimezone`` (default UTC). ``,`` ``-`` ``*`` ``/`` in every
  field; ``?`` in day-of-month or day-of-week (one of the two must be ``?``); ``L`` (last day)
  and ``W`` (nearest weekday, ``15W``, ``LW``) in day-of-month; ``L`` (``6L``: the month's last
  Friday) and ``#`` (``2#1``: its first Monday) in day-of-week. Months ``JAN``-``DEC``, days
  ``SUN``-``SAT`` (1 = Sunday). A local time that does not exist (the hour a DST change skips)
  does not fire.
* ``at(yyyy-mm-ddThh:mm:ss)``: once, at that local time in the schedule's timezone.

``StartDate`` and ``EndDate`` bound every kind: nothing fires before the start or after the
end.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ExpressionError(ValueError):
    """A schedule expression (or timezone) this module cannot evaluate, with the reason."""


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
_AT = re.compile(r"^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$")

_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {name: i for i, name in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)}
_DAYS = {name: i for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}

# How far ahead a cron expression is searched (its year field may name years far off).
_LAST_YEAR = 2199


@dataclass(frozen=True)
class Rate:
    seconds: int


@dataclass(frozen=True)
class At:
    local: datetime  # naive: the wall time in the schedule's timezone


@dataclass(frozen=True)
class DayOfMonth:
    """The day-of-month field: plain days, ``L``, ``nW``/``LW``, or ``?`` (any)."""

    any: bool
    days: frozenset[int]
    last: bool
    nearest_weekday: int | None  # nW: the weekday nearest day n; 0 stands for LW

    def matches(self, day: date) -> bool:
        if self.any:
            return True
        last_day = calendar.monthrange(day.year, day.month)[1]
        if day.day in self.days:
            return True
        if self.last and day.day == last_day:
            return True
        if self.nearest_weekday is not None:
            wanted = last_day if self.nearest_weekday == 0 else min(self.nearest_weekday, last_day)
            return day.day == _nearest_weekday(day.year, day.month, wanted, last_day)
        return False


@dataclass(frozen=True)
class DayOfWeek:
    """The day-of-week field (1 = Sunday): plain days, ``nL``, ``n#k``, or ``?`` (any)."""

    any: bool
    days: frozenset[int]
    last_of: int | None  # nL: the last day n of the month
    nth: tuple[int, int] | None  # n#k: the k-th day n of the month

    def matches(self, day: date) -> bool:
        if self.any:
            return True
        weekday = aws_weekday(day)
        if weekday in self.days:
            return True
        if self.last_of is not None and weekday == self.last_of:
            return day.day + 7 > calendar.monthrange(day.year, day.month)[1]
        if self.nth is not None and weekday == self.nth[0]:
            return (day.day - 1) // 7 + 1 == self.nth[1]
        return False


@dataclass(frozen=True)
class Cron:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_of_month: DayOfMonth
    months: frozenset[int]
    day_of_week: DayOfWeek
    years: frozenset[int]

    def day_matches(self, day: date) -> bool:
        return (
            day.year in self.years
            and day.month in self.months
            and self.day_of_month.matches(day)
            and self.day_of_week.matches(day)
        )


Expression = Rate | Cron | At


def aws_weekday(day: date) -> int:
    """The day of the week as cron expressions number it: 1 = Sunday ... 7 = Saturday."""
    return (day.weekday() + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, wanted: int, last_day: int) -> int:
    """The weekday (Mon-Fri) of the month nearest day `wanted`, never crossing the month."""
    weekday = date(year, month, wanted).weekday()  # Monday = 0
    if weekday < 5:
        return wanted
    if weekday == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return wanted - 1 if wanted > 1 else wanted + 2
    # Sunday: the Monday after, or the Friday before on the month's last day
    return wanted + 1 if wanted < last_day else wanted - 2


def _number(token: str, names: dict[str, int], field: str) -> int:
    upper = token.upper()
    if upper in names:
        return names[upper]
    if not token.isdigit():
        raise ExpressionError(f"cron {field}: {token!r} is not a number")
    return int(token)


def _values(spec: str, low: int, high: int, field: str, names: dict[str, int] | None = None) -> set[int]:
    """The values of a numeric field: lists of ``*``, ``n``, ``a-b``, each with ``/step``."""
    names = names or {}
    out: set[int] = set()
    for part in spec.split(","):
        if not part:
            raise ExpressionError(f"cron {field}: empty list item in {spec!r}")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ExpressionError(f"cron {field}: bad increment in {part!r}")
            step = int(step_text)
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, names, field), _number(last, names, field)
        else:
            start = _number(base, names, field)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high):
            raise ExpressionError(f"cron {field}: {part!r} is outside {low}-{high}")
        if start <= end:
            out.update(range(start, end + 1, step))
        else:  # a wrapping range (FRI-MON, 22-2)
            out.update(v for i, v in enumerate(list(range(start, high + 1)) + list(range(low, end + 1))) if i % step == 0)
    return out


def _day_of_month(spec: str) -> DayOfMonth:
    if spec == "?":
        return DayOfMonth(any=True, days=frozenset(), last=False, nearest_weekday=None)
    if spec == "L":
        return DayOfMonth(any=False, days=frozenset(), last=True, nearest_weekday=None)
    if spec == "LW":
        return DayOfMonth(any=False, days=frozenset(), last=False, nearest_weekday=0)
    if spec.endswith("W"):
        day = spec[:-1]
        if not day.isdigit() or not 1 <= int(day) <= 31:
            raise ExpressionError(f"cron day-of-month: bad {spec!r}")
        return DayOfMonth(any=False, days=frozenset(), last=False, nearest_weekday=int(day))
    return DayOfMonth(any=spec == "*", days=frozenset(_values(spec, 1, 31, "day-of-month")),
                      last=False, nearest_weekday=None)


def _day_of_week(spec: str) -> DayOfWeek:
    if spec == "?":
        return DayOfWeek(any=True, days=frozenset(), last_of=None, nth=None)
    if spec == "L":
        return DayOfWeek(any=False, days=frozenset({7}), last_of=None, nth=None)
    if spec.endswith("L"):
        return DayOfWeek(any=False, days=frozenset(), last_of=_number(spec[:-1], _DAYS, "day-of-week"), nth=None)
    if "#" in spec:
        day, _, index = spec.partition("#")
        if not index.isdigit() or not 1 <= int(index) <= 5:
            raise ExpressionError(f"cron day-of-week: bad {spec!r}")
        return DayOfWeek(any=False, days=frozenset(), last_of=None, nth=(_number(day, _DAYS, "day-of-week"), int(index)))
    return DayOfWeek(any=spec == "*", days=frozenset(_values(spec, 1, 7, "day-of-week", _DAYS)),
                     last_of=None, nth=None)


def parse(expression: str) -> Expression:
    """The parsed expression; :class:`ExpressionError` says what is wrong with it."""
    text = expression.strip()
    rate = _RATE.match(text)
    if rate:
        value = int(rate.group(1))
        if value <= 0:
            raise ExpressionError(f"{expression}: the rate must be positive")
        return Rate(seconds=value * _UNIT_SECONDS[rate.group(2).rstrip("s")])
    at = _AT.match(text)
    if at:
        try:
            return At(local=datetime(*(int(g) for g in at.groups())))
        except ValueError as e:
            raise ExpressionError(f"{expression}: {e}") from e
    cron = _CRON.match(text)
    if not cron:
        raise ExpressionError(f"{expression}: not rate(...), cron(...) or at(...)")
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise ExpressionError(f"{expression}: cron needs 6 fields, not {len(fields)}")
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ExpressionError(f"{expression}: exactly one of day-of-month and day-of-week must be '?'")
    return Cron(
        minutes=tuple(sorted(_values(minutes, 0, 59, "minutes"))),
        hours=tuple(sorted(_values(hours, 0, 23, "hours"))),
        day_of_month=_day_of_month(dom),
        months=frozenset(_values(month, 1, 12, "month", _MONTHS)),
        day_of_week=_day_of_week(dow),
        years=frozenset(_values(year, 1970, _LAST_YEAR, "year")),
    )


def timezone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ExpressionError(f"unknown timezone {name!r}") from e


def _exists(local: datetime, zone: ZoneInfo) -> datetime | None:
    """`local` (naive wall time) in `zone` as UTC, or None when the wall time does not exist."""
    aware = local.replace(tzinfo=zone)
    back = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    return aware.astimezone(UTC) if back == local else None


def _next_cron(cron: Cron, after: datetime, zone: ZoneInfo) -> datetime | None:
    day = after.astimezone(zone).date()
    while day.year <= _LAST_YEAR:
        if day.year > max(cron.years):
            return None
        if cron.day_matches(day):
            for hour in cron.hours:
                for minute in cron.minutes:
                    local = datetime(day.year, day.month, day.day, hour, minute)
                    at = _exists(local, zone)
                    if at is not None and at > after:
                        return at
        day += timedelta(days=1)
    return None


@dataclass(frozen=True)
class Timing:
    """What decides when one schedule fires."""

    expression: Expression
    zone: ZoneInfo
    created: datetime  # aware UTC: a rate schedule without StartDate counts from it
    start: datetime | None = None  # aware UTC
    end: datetime | None = None  # aware UTC

    @classmethod
    def of(cls, expression: str, zone_name: str | None, created: datetime,
           start: datetime | None = None, end: datetime | None = None) -> Timing:
        return cls(parse(expression), timezone(zone_name), created, start, end)

    def next_after(self, after: datetime) -> datetime | None:
        """The first firing strictly after `after` (aware), or None when none is left."""
        floor = after
        if self.start is not None and self.start - timedelta(microseconds=1) > floor:
            floor = self.start - timedelta(microseconds=1)
        expression = self.expression
        if isinstance(expression, Rate):
            period = timedelta(seconds=expression.seconds)
            anchor, first = (self.start, 0) if self.start is not None else (self.created, 1)
            periods = max(first, int((floor - anchor) // period) + 1)
            due = anchor + periods * period
        elif isinstance(expression, At):
            due = _exists(expression.local, self.zone)
            if due is None or due <= floor:
                return None
        else:
            due = _next_cron(expression, floor, self.zone)
        if due is None or (self.end is not None and due > self.end):
            return None
        return due
