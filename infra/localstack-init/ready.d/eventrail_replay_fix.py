"""eventrail's LocalStack 4.13.1 init hook (ready stage): make EventBridge StartReplay work.

The bug: LocalStack's events provider keeps an archived event's `time` as an ISO-8601
string, but the archive's start/end-time filter normalises it with
`datetime.replace(second=0, microsecond=0)` and the replay path reads the replayed entries'
`Time` with `.replace(tzinfo=...)`. On a string those calls raise
"str.replace() takes no keyword arguments" and StartReplay answers HTTP 500 (the replay name
stays registered). This hook converts the string form to a timezone-aware datetime before
those two functions see it; nothing else changes.

eventrail's LocalStack supervisor (crates/local) copies this file into
<FILESYSTEM_ROOT>/etc/localstack/init/ready.d/ before starting LocalStack. For a LocalStack
you run yourself in Docker, mount it at /etc/localstack/init/ready.d/.
"""
from datetime import UTC, datetime

from localstack.services.events import archive as _archive
from localstack.services.events import utils as _utils

_EVENT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _to_datetime(value):
    """An EventBridge event time string as an aware datetime; anything else unchanged."""
    if isinstance(value, str):
        return datetime.strptime(value, _EVENT_TIME_FORMAT).replace(tzinfo=UTC)
    return value


_upstream_normalize_datetime = _archive.ArchiveService._normalize_datetime
_upstream_get_event_time = _utils.get_event_time


def _normalize_datetime(self, value):
    return _upstream_normalize_datetime(self, _to_datetime(value))


def _get_event_time(event):
    if isinstance(event.get("Time"), str):
        event = {**event, "Time": _to_datetime(event["Time"])}
    return _upstream_get_event_time(event)


_archive.ArchiveService._normalize_datetime = _normalize_datetime
_utils.get_event_time = _get_event_time
