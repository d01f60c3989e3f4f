"""SQS event source mappings poll with several pollers, capped by MaximumConcurrency, for
LocalStack 4.13.1.

What AWS does (Lambda Developer Guide, "Using Lambda with Amazon SQS", "Configuring maximum
concurrency for Amazon SQS event sources"): an SQS event source mapping starts with five pollers
and scales out with the queue's backlog; each batch is one synchronous invocation, so the
function runs as many invocations at once as there are batches in flight.
``ScalingConfig.MaximumConcurrency`` (2 to 1000) caps the concurrent invocations that mapping
starts.

What LocalStack 4.13.1 does: one poller thread per mapping (``EsmWorker.poller_loop``) whose
invocations are synchronous, one after the other, so a mapping never runs more than one
invocation at a time, and ``ScalingConfig`` is stored and ignored. A cap of 2 can then never be
reached locally, and neither can a breach of it.

What :func:`install` changes: ``EsmWorker.start`` of a mapping whose source is an SQS queue
starts :func:`pollers_for` - 1 more polling loops beside LocalStack's own, on the same poller
(same queue, batch size, batching window, filters and ReportBatchItemFailures handling; each
loop deletes only the messages its batch processed, and only the items not reported as failed).
Each loop has at most one invocation in flight, so the mapping never has more invocations in
flight than its MaximumConcurrency; without a cap it has five, AWS's starting pollers. The loops
stop with the worker (disable, update, delete, shutdown). Kinesis and DynamoDB stream mappings
are unchanged.
"""

from __future__ import annotations

import logging
import threading

LOG = logging.getLogger(__name__)

SUPPORTED_LOCALSTACK_VERSION = "4.13.1"

DEFAULT_POLLERS = 5
"""Loops for a mapping without MaximumConcurrency: the five pollers AWS starts with."""

MINIMUM_CAP = 2
MAXIMUM_CAP = 1000

_MARK = "_eventrail_esm_concurrency"
_GENERATION = "_eventrail_poller_generation"


class InstallError(RuntimeError):
    """The running LocalStack is not the one this patch was written for."""


def is_sqs_source(esm_config: dict) -> bool:
    parts = str(esm_config.get("EventSourceArn") or "").split(":")
    return len(parts) >= 6 and parts[2] == "sqs"


def pollers_for(esm_config: dict) -> int:
    """How many polling loops (so invocations at once, at most) a mapping gets."""
    cap = (esm_config.get("ScalingConfig") or {}).get("MaximumConcurrency")
    if cap is None:
        return DEFAULT_POLLERS
    try:
        value = int(cap)
    except (TypeError, ValueError):
        return DEFAULT_POLLERS
    return max(MINIMUM_CAP, min(MAXIMUM_CAP, value))


def _extra_loop(worker, generation: int, index: int) -> None:
    """One more polling loop of `worker`, as its own loop polls, until the worker stops or
    restarts (a newer generation)."""
    from localstack.config import (
        LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC,
        LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_ERROR_SEC,
    )
    from localstack.services.lambda_.event_source_mapping.pollers.poller import EmptyPollResultsException
    from localstack.utils.backoff import ExponentialBackoff

    error_backoff = ExponentialBackoff(initial_interval=2, max_interval=LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_ERROR_SEC)
    empty_backoff = ExponentialBackoff(initial_interval=1, max_interval=LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC)
    shutdown = worker._shutdown_event

    def current() -> bool:
        return not shutdown.is_set() and getattr(worker, _GENERATION, None) == generation

    while current():
        # After a batch, poll again at once, as AWS's pollers do (LocalStack's own loop waits
        # LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC).
        interval = 0.0
        try:
            worker.poller.poll_events()
            error_backoff.reset()
            empty_backoff.reset()
        except EmptyPollResultsException:
            interval = empty_backoff.next_backoff()
        except Exception as e:  # noqa: BLE001 - as LocalStack's own loop: log, back off, go on
            LOG.error("eventrail ESM poller %d of %s: %s", index, worker.uuid, e)
            interval = error_backoff.next_backoff()
        shutdown.wait(interval)


def start_extra_pollers(worker) -> int:
    """Starts the extra loops of an SQS mapping's worker; returns how many."""
    if not is_sqs_source(worker.esm_config):
        return 0
    generation = getattr(worker, _GENERATION, 0) + 1
    setattr(worker, _GENERATION, generation)
    extra = pollers_for(worker.esm_config) - 1
    for index in range(1, extra + 1):
        threading.Thread(
            target=_extra_loop,
            args=(worker, generation, index),
            name=f"eventrail-esm-poller-{worker.uuid}-{index}",
            daemon=True,
        ).start()
    LOG.info(
        "eventrail ESM %s: %d pollers (MaximumConcurrency %s)",
        worker.uuid, extra + 1, (worker.esm_config.get("ScalingConfig") or {}).get("MaximumConcurrency", "not set"),
    )
    return extra


def install() -> list[str]:
    from localstack import version as localstack_version

    found = getattr(localstack_version, "version", None)
    if found != SUPPORTED_LOCALSTACK_VERSION:
        raise InstallError(
            f"eventrail's SQS event source mapping concurrency patch targets LocalStack "
            f"{SUPPORTED_LOCALSTACK_VERSION}, this is {found}: not installed"
        )
    from localstack.services.lambda_.event_source_mapping import esm_worker

    worker_class = getattr(esm_worker, "EsmWorker", None)
    upstream = None if worker_class is None else worker_class.__dict__.get("start")
    if upstream is None or not hasattr(worker_class, "poller_loop"):
        raise InstallError(f"EsmWorker.start / poller_loop are missing in LocalStack {found}: not installed")
    if getattr(upstream, _MARK, None) is not None:
        return []

    def start(self):
        upstream(self)
        start_extra_pollers(self)

    setattr(start, _MARK, upstream)
    start.__doc__ = upstream.__doc__
    worker_class.start = start
    return ["EsmWorker.start"]
