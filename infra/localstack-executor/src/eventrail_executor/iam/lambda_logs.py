"""Lambda's log writes in AWS's order, so that IAM enforcement judges the calls AWS makes.

LocalStack 4.13.1's Lambda writes a function's output to CloudWatch Logs as the function's
execution role (``LogHandler.run_log_loop`` in ``localstack.services.lambda_.invocation.logs``).
When the log stream does not exist yet it calls ``CreateLogGroup`` first and ignores
"already exists". AWS's Lambda creates the stream (``logs:CreateLogStream``) and creates the
group only when it is missing. Least-privilege roles (eventrail's template creates each log
group and lets the role create streams and put events in it, nothing more) are denied the
``CreateLogGroup`` call AWS never makes, and the function's output is lost. This module
replaces that loop with one that makes AWS's calls: put; if the stream is missing, create it;
if the group is missing too, create the group, then the stream; then put again. A role that
really lacks a permission is still denied, as on AWS.
"""

from __future__ import annotations

import logging
import time

LOG = logging.getLogger(__name__)

TARGET_VERSION = "4.13.1"


class InstallError(Exception):
    pass


def _split_lines(text: str) -> list[str]:
    # CloudWatch refuses empty messages; each line keeps its newline, as LocalStack writes them.
    return [line + "\n" for line in text.split("\n") if line]


def write(logs_client, group: str, stream: str, text: str) -> None:
    """Writes ``text`` to ``group``/``stream`` as AWS's Lambda would."""
    events = [{"timestamp": int(time.time() * 1000), "message": line} for line in _split_lines(text)]
    if not events:
        return
    not_found = logs_client.exceptions.ResourceNotFoundException
    try:
        logs_client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
        return
    except not_found:
        pass
    try:
        logs_client.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs_client.exceptions.ResourceAlreadyExistsException:
        pass
    except not_found:
        try:
            logs_client.create_log_group(logGroupName=group)
        except logs_client.exceptions.ResourceAlreadyExistsException:
            pass
        logs_client.create_log_stream(logGroupName=group, logStreamName=stream)
    logs_client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def install() -> None:
    """Replace LocalStack 4.13.1's ``LogHandler.run_log_loop``."""
    from localstack import version

    if version.__version__ != TARGET_VERSION:
        raise InstallError(f"written for LocalStack {TARGET_VERSION}, not {version.__version__}")
    from localstack.services.lambda_.invocation import logs as lambda_logs

    handler = getattr(lambda_logs, "LogHandler", None)
    if handler is None or not hasattr(handler, "run_log_loop") or not hasattr(lambda_logs, "QUEUE_SHUTDOWN"):
        raise InstallError("localstack.services.lambda_.invocation.logs.LogHandler.run_log_loop is missing")

    def run_log_loop(self, *args, **kwargs) -> None:
        from localstack.aws.connect import connect_to
        from localstack.utils.aws.client_types import ServicePrincipal

        logs_client = connect_to.with_assumed_role(
            region_name=self.region,
            role_arn=self.role_arn,
            service_principal=ServicePrincipal.lambda_,
        ).logs
        while not self._shutdown_event.is_set():
            item = self.log_queue.get()
            if item is lambda_logs.QUEUE_SHUTDOWN:
                return
            try:
                write(logs_client, item.log_group, item.log_stream, item.logs)
            except Exception as e:  # as LocalStack does: a failed write is logged, not raised
                LOG.warning("Error saving logs to group %s in region %s: %s", item.log_group, self.region, e)

    handler.run_log_loop = run_log_loop
