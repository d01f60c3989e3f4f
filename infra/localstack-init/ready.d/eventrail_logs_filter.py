"""eventrail's LocalStack 4.13.1 init hook (ready stage): FilterLogEvents honours its pattern.

The bug: LocalStack 4.13.1's CloudWatch Logs ignores FilterLogEvents' `filterPattern` and
returns every event of the group (`get_pattern_matcher` of its logs provider matches
everything in the community edition). `eventrail trace <key>` searches the functions' log
groups for the key, then for trace ids; AWS returns only the events that contain them.

This hook installs eventrail_executor.logs_filter (the executor plugin package, installed
next to LocalStack): text-term patterns (`term`, `"quoted phrase"`, several terms = AND,
`?term` = OR, `-term` = exclusion) select events as on AWS; JSON, space-delimited and regex
patterns keep LocalStack's behaviour.

It only patches LocalStack 4.13.1: on another version, or when the function it patches is
missing, it logs an ERROR and raises, so LocalStack's log shows "Error while running script".

eventrail's LocalStack supervisor (crates/local) copies this file into
<FILESYSTEM_ROOT>/etc/localstack/init/ready.d/ before starting LocalStack. For a LocalStack
you run yourself in Docker, mount it at /etc/localstack/init/ready.d/ and install the
plugin package (infra/localstack-executor) into its Python environment.
"""
import logging

_log = logging.getLogger("eventrail.logs_filter")

try:
    from eventrail_executor import logs_filter as _logs_filter

    _patched = _logs_filter.install()
except Exception as _error:
    _log.error(
        "eventrail FilterLogEvents pattern patch NOT installed (FilterLogEvents returns every "
        "event of a group whatever its filterPattern): %s",
        _error,
    )
    raise
_log.info("eventrail FilterLogEvents pattern patch installed: %s", ", ".join(_patched) or "already")
