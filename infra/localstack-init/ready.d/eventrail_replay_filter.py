"""eventrail's LocalStack 4.13.1 init hook (ready stage): StartReplay honours FilterArns.

The bug: LocalStack 4.13.1 keeps a replay's Destination.FilterArns but ignores it: a replay
limited to some rules (`eventrail replay --function NAME` passes that function's rules)
delivers the replayed events to every rule of the bus whose pattern matches, so every
function runs them again. On AWS only the rules in FilterArns receive them.

This hook installs eventrail_executor.replay_filter (the executor plugin package, installed
next to LocalStack): EventsProvider._process_rules skips, for an event that carries a
replay-name, every rule outside that replay's FilterArns. Events that are not replayed, and
replays without FilterArns, are unchanged.

It only patches LocalStack 4.13.1: on another version, or when the function it patches is
missing, it logs an ERROR and raises, so LocalStack's log shows "Error while running script".

How this file reaches LocalStack: see eventrail_executor.ready_hook.
"""
from eventrail_executor.ready_hook import install_patch

install_patch(
    "replay_filter",
    "replay FilterArns",
    "a replay limited to some rules reaches every rule of the bus",
)
