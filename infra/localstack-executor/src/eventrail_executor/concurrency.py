"""How many invocations of each function run at once: now (in flight) and at most (peak).

Counted in the executor itself (:class:`eventrail_executor.executor.ProcessRuntimeExecutor`
wraps every invocation of a function's process in :func:`running`), so it counts what really
runs, whatever started it (a direct invoke, an event, an event source mapping's poller).

Served on LocalStack's gateway at ``/_eventrail/concurrency`` (installed by the ready hook
``eventrail_concurrency.py``):

* ``GET`` (``?prefix=<function name prefix>``): ``{"functions": {"<name>": {"peak": n,
  "in_flight": n, "invocations": n}}}``;
* ``DELETE`` (same ``prefix``): starts a new measurement: each peak becomes the function's
  current in-flight count and the invocation count 0. Answers the figures as they were.
"""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from dataclasses import dataclass

CONCURRENCY_PATH = "/_eventrail/concurrency"


@dataclass
class Figures:
    in_flight: int = 0
    peak: int = 0
    invocations: int = 0

    def to_json(self) -> dict[str, int]:
        return {"peak": self.peak, "in_flight": self.in_flight, "invocations": self.invocations}


class Counter:
    """Per-function in-flight and peak counts (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._functions: dict[str, Figures] = {}

    def started(self, function: str) -> None:
        with self._lock:
            figures = self._functions.setdefault(function, Figures())
            figures.in_flight += 1
            figures.invocations += 1
            figures.peak = max(figures.peak, figures.in_flight)

    def finished(self, function: str) -> None:
        with self._lock:
            figures = self._functions.setdefault(function, Figures())
            figures.in_flight = max(0, figures.in_flight - 1)

    @contextmanager
    def running(self, function: str):
        self.started(function)
        try:
            yield
        finally:
            self.finished(function)

    def snapshot(self, prefix: str = "") -> dict[str, dict[str, int]]:
        with self._lock:
            return {
                name: figures.to_json()
                for name, figures in sorted(self._functions.items())
                if name.startswith(prefix)
            }

    def reset(self, prefix: str = "") -> dict[str, dict[str, int]]:
        """Starts a new measurement for the functions named with `prefix`; returns the old one."""
        with self._lock:
            before = {}
            for name, figures in self._functions.items():
                if name.startswith(prefix):
                    before[name] = figures.to_json()
                    figures.peak = figures.in_flight
                    figures.invocations = 0
            return before


COUNTER = Counter()
running = COUNTER.running


def serve(request, **_kwargs):
    from localstack.http import Response

    prefix = request.args.get("prefix", "")
    if request.method == "DELETE":
        functions = COUNTER.reset(prefix)
    else:
        functions = COUNTER.snapshot(prefix)
    return Response(json.dumps({"functions": functions}), status=200, mimetype="application/json")


def install_route() -> None:
    from localstack.services.edge import ROUTER

    ROUTER.add(CONCURRENCY_PATH, endpoint=serve, methods=["GET", "DELETE"])
