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

How this file reaches LocalStack: see eventrail_executor.ready_hook.
"""
from eventrail_executor.ready_hook import install_patch

install_patch(
    "logs_filter",
    "FilterLogEvents pattern",
    "FilterLogEvents returns every event of a group whatever its filterPattern",
)
