"""Time LocalStack's EventBridge pattern engine on the cases the Rust benchmark wrote.

Usage: python localstack_engine.py <cases.json> <out.json>
(run with the LocalStack venv's python; `cargo bench -p eventrail-pattern --bench
matching` does it for you when the venv exists).

LocalStack (4.13.1, EVENT_RULE_ENGINE=python, the default) matches PutEvents entries by
looping over the bus's rules and calling
`localstack.utils.event_matcher.matches_event(rule.event_pattern, event)` for each: the
pattern string is parsed and validated again on every call, then evaluated against the
event dict. That loop is timed as "matches_event_ns". "precompiled_ns" times only
`EventRuleEngine.evaluate_pattern_on_event` with patterns compiled once up front: the
engine's best case. Both are per event and exclude JSON parsing of the event, which
LocalStack has already done by then (the Rust figures include parsing the event bytes).
"""

import json
import sys
import time

from localstack.services.events.event_rule_engine import EventPatternCompiler, EventRuleEngine
from localstack.utils.event_matcher import matches_event

BUDGET_SECONDS = 2.0


def per_event_ns(match_all, events):
    """Mean ns per event, repeating the whole event list for at least BUDGET_SECONDS
    (a single pass when one pass is already longer)."""
    passes = 0
    start = time.perf_counter()
    while True:
        for event in events:
            match_all(event)
        passes += 1
        elapsed = time.perf_counter() - start
        if elapsed >= BUDGET_SECONDS:
            return elapsed * 1e9 / (passes * len(events))


def main(cases_path, out_path):
    with open(cases_path) as f:
        cases = json.load(f)
    compiler = EventPatternCompiler()
    engine = EventRuleEngine()
    results = {}
    for count, rules in cases["rule_sets"].items():
        pattern_strings = [json.dumps(rule) for rule in rules]
        compiled = [compiler.compile_event_pattern(rule) for rule in rules]

        def full(event):
            return [i for i, p in enumerate(pattern_strings) if matches_event(p, event)]

        def precompiled(event):
            return [i for i, p in enumerate(compiled) if engine.evaluate_pattern_on_event(p, event)]

        for name, events in cases["events"].items():
            if not events:
                continue
            matched = sum(len(full(e)) for e in events) / len(events)
            results[f"{count}/{name}"] = {
                "matches_event_ns": per_event_ns(full, events),
                "precompiled_ns": per_event_ns(precompiled, events),
                "matches_per_event": matched,
            }
            r = results[f"{count}/{name}"]
            print(
                f"localstack {count:>6} rules {name:>9}: {r['matches_event_ns'] / 1e3:12.1f} us/event"
                f" (precompiled {r['precompiled_ns'] / 1e3:12.1f} us), {matched:.2f} matches/event",
                flush=True,
            )
    with open(out_path, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
