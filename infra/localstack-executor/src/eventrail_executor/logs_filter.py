"""FilterLogEvents honours its filter pattern's terms, as CloudWatch Logs does.

The bug: LocalStack 4.13.1's CloudWatch Logs (moto's backend under LocalStack's provider)
ignores ``filterPattern``: ``localstack.services.logs.provider.moto_filter_log_events`` asks
``get_pattern_matcher`` for a matcher, and the community edition's answers every event
("Can be patched by plugins"). FilterLogEvents with ``"p-123"`` returns every event of the
group, where AWS returns those containing ``p-123``. ``eventrail trace`` searches the
functions' log groups for a key and then for trace ids; on LocalStack it read every line of
every group for each search.

This module installs a matcher for the text-term patterns CloudWatch documents for
unstructured log events, which is what eventrail uses:
- ``term`` and ``"quoted phrase"``: the message contains it (case-sensitive);
- several terms: all of them (AND);
- ``?term``: at least one of the ``?`` terms (OR);
- ``-term``: none of them (exclusion).
JSON (``{ $.x = ... }``), space-delimited (``[a, b]``) and regex (``%...%``) patterns keep
LocalStack's behaviour (every event), as does an empty pattern. Subscription and metric
filters use the same matcher, so they now filter their terms too, as on AWS.

``infra/localstack-init/ready.d/eventrail_logs_filter.py`` calls :func:`install`; it patches
LocalStack 4.13.1 only and raises on another version.
"""

from __future__ import annotations

import logging
from typing import Callable, Optional

LOG = logging.getLogger(__name__)

SUPPORTED_LOCALSTACK_VERSION = "4.13.1"
_MARK = "_eventrail_logs_filter_upstream"


class InstallError(Exception):
    pass


def parse_terms(pattern: str) -> Optional[list[tuple[str, str]]]:
    """The pattern's terms as ``(kind, text)``, kind ``and``, ``or`` or ``not``; ``None`` for
    a pattern that is not made of text terms (JSON, space-delimited, regex, empty)."""
    text = (pattern or "").strip()
    if not text or text[0] in "{[%":
        return None
    terms: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        kind = "and"
        if text[i] in "?-" and i + 1 < len(text) and not text[i + 1].isspace():
            kind = "or" if text[i] == "?" else "not"
            i += 1
        if text[i] == '"':
            i += 1
            phrase = []
            while i < len(text) and text[i] != '"':
                if text[i] == "\\" and i + 1 < len(text):
                    i += 1
                phrase.append(text[i])
                i += 1
            i += 1  # the closing quote (or the end)
            word = "".join(phrase)
        else:
            start = i
            while i < len(text) and not text[i].isspace():
                i += 1
            word = text[start:i]
        if word:
            terms.append((kind, word))
    return terms


def matches(pattern: str, message: str) -> bool:
    """Whether CloudWatch Logs' text-term ``pattern`` selects ``message``."""
    terms = parse_terms(pattern)
    if terms is None:
        return True
    wanted = [w for k, w in terms if k == "and"]
    anyof = [w for k, w in terms if k == "or"]
    excluded = [w for k, w in terms if k == "not"]
    return (
        all(w in message for w in wanted)
        and (not anyof or any(w in message for w in anyof))
        and not any(w in message for w in excluded)
    )


def pattern_matcher(pattern: str) -> Callable[[str, dict], bool]:
    """The matcher LocalStack's provider asks ``get_pattern_matcher`` for."""

    def match(_pattern: str, log_event: dict) -> bool:
        return matches(pattern, str((log_event or {}).get("message", "")))

    return match


def install() -> list[str]:
    """Patches the running LocalStack 4.13.1; returns what it patched (nothing when done before)."""
    from localstack import version as localstack_version

    found = getattr(localstack_version, "version", None)
    if found != SUPPORTED_LOCALSTACK_VERSION:
        raise InstallError(
            f"eventrail's FilterLogEvents pattern patch targets LocalStack "
            f"{SUPPORTED_LOCALSTACK_VERSION}, this is {found}: not installed"
        )
    from localstack.services.logs import provider as logs_provider

    upstream = getattr(logs_provider, "get_pattern_matcher", None)
    if upstream is None or not hasattr(logs_provider, "moto_filter_log_events"):
        raise InstallError(
            "eventrail's FilterLogEvents pattern patch cannot find "
            "localstack.services.logs.provider.get_pattern_matcher / moto_filter_log_events in "
            f"LocalStack {found}: not installed"
        )
    if getattr(upstream, _MARK, None) is not None:
        return []

    def get_pattern_matcher(pattern: str) -> Callable[[str, dict], bool]:
        return pattern_matcher(pattern)

    setattr(get_pattern_matcher, _MARK, upstream)
    logs_provider.get_pattern_matcher = get_pattern_matcher
    return ["localstack.services.logs.provider.get_pattern_matcher"]
