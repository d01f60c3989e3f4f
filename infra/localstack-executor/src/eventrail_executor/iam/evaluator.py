"""The client of the warm Node evaluator process (``evaluate.cjs``).

One process answers every question, in order, over a pipe; it is started on the first
question and again if it dies. Questions are serialised with a lock: each takes about 2 ms,
far below what a function call costs anyway.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)

SCRIPT = Path(__file__).with_name("evaluate.cjs")
# Set by eventrail's LocalStack supervisor (crates/local): where `eventrail local install`
# put Node and iam-simulate.
NODE_VARIABLE = "EVENTRAIL_IAM_NODE"
MODULES_VARIABLE = "EVENTRAIL_IAM_MODULES"


class EvaluatorUnavailable(Exception):
    """The evaluator could not be started or answered nothing."""


@dataclass
class Verdict:
    result: str  # Allowed | ImplicitlyDenied | ExplicitlyDenied
    deny_statements: list[dict[str, Any]] = field(default_factory=list)
    unmatched_identity: list[dict[str, Any]] = field(default_factory=list)
    unmatched_resource: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    @property
    def allowed(self) -> bool:
        return self.result == "Allowed"


# How many verdicts are remembered. A verdict is keyed by the whole question, the policies as
# read at the call included, so a changed policy is a new question: remembering never serves
# a stale answer, it only spares the Node round trip for the same call made again (a busy
# stack asks the same few questions thousands of times; each round trip is ~2 ms, serialised).
CACHE_SIZE = 4096


class Evaluator:
    def __init__(self, node: str | None = None, modules: str | None = None):
        self._node = node or os.environ.get(NODE_VARIABLE)
        self._modules = modules or os.environ.get(MODULES_VARIABLE)
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._next_id = 0
        self._verdicts: dict[str, Verdict] = {}

    def configured(self) -> str | None:
        """Why the evaluator cannot run, or None when it can."""
        if not self._node or not Path(self._node).is_file():
            return f"{NODE_VARIABLE} does not name a node executable ({self._node!r})"
        if not self._modules or not (Path(self._modules) / "@cloud-copilot" / "iam-simulate").is_dir():
            return f"{MODULES_VARIABLE} does not hold @cloud-copilot/iam-simulate ({self._modules!r})"
        return None

    def _start(self) -> subprocess.Popen:
        problem = self.configured()
        if problem:
            raise EvaluatorUnavailable(problem + "; run `eventrail local install`")
        env = dict(os.environ)
        env[MODULES_VARIABLE] = str(self._modules)
        LOG.info("eventrail IAM: starting the policy evaluator (%s %s)", self._node, SCRIPT)
        return subprocess.Popen(
            [str(self._node), str(SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None,  # into LocalStack's log
            env=env,
            text=True,
            bufsize=1,
        )

    def evaluate(self, simulation: dict[str, Any]) -> Verdict:
        key = json.dumps(simulation, sort_keys=True)
        with self._lock:
            known = self._verdicts.get(key)
            if known is not None:
                return known
            verdict = self._ask(simulation)
            if verdict.error is None:
                if len(self._verdicts) >= CACHE_SIZE:
                    self._verdicts.clear()
                self._verdicts[key] = verdict
            return verdict

    def _ask(self, simulation: dict[str, Any]) -> Verdict:
        """One question to the Node process (the caller holds the lock)."""
        for attempt in (1, 2):
            if self._process is None or self._process.poll() is not None:
                self._process = self._start()
            self._next_id += 1
            question = {"id": self._next_id, "simulation": simulation}
            try:
                assert self._process.stdin is not None and self._process.stdout is not None
                self._process.stdin.write(json.dumps(question) + "\n")
                self._process.stdin.flush()
                line = self._process.stdout.readline()
            except (BrokenPipeError, OSError) as e:
                LOG.warning("eventrail IAM: evaluator pipe failed (attempt %s): %s", attempt, e)
                self._process = None
                continue
            if not line:
                LOG.warning("eventrail IAM: evaluator exited (attempt %s)", attempt)
                self._process = None
                continue
            answer = json.loads(line)
            if answer.get("error"):
                return Verdict(result="Error", error=str(answer["error"]))
            return Verdict(
                result=str(answer.get("result")),
                deny_statements=list(answer.get("denyStatements") or []),
                unmatched_identity=list(answer.get("unmatchedIdentity") or []),
                unmatched_resource=list(answer.get("unmatchedResource") or []),
            )
        raise EvaluatorUnavailable("the policy evaluator process keeps exiting; see LocalStack's log")

    def close(self) -> None:
        with self._lock:
            if self._process is not None:
                for pipe in (self._process.stdin, self._process.stdout):
                    if pipe is not None:
                        pipe.close()
                try:
                    self._process.kill()
                    self._process.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired):
                    pass
                self._process = None
