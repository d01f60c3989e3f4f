"""LocalStack ``RuntimeExecutor`` that runs a function's bootstrap as a local process.

LocalStack creates one executor per execution environment and sends it one invocation at
a time; concurrent invocations get more environments, so each concurrent invocation has
its own process. LocalStack stops the environments of a function version when its code or
configuration changes or the function is deleted; ``stop`` kills the process then.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from localstack import config
from localstack.services.lambda_.invocation.executor_endpoint import StatusErrorException
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

from eventrail_executor import concurrency
from eventrail_executor.iam import principals
from eventrail_executor.runtime_api import InitError, Sandbox

LOG = logging.getLogger(__name__)

# What a provided.al2023 environment has besides the variables LocalStack computes.
BASE_ENV = {"LANG": "en_US.UTF-8"}


def build_env(localstack_env: dict, code_dir: Path) -> dict[str, str]:
    """The process environment: LocalStack's variables with paths pointing at the local code."""
    env = dict(BASE_ENV)
    env["PATH"] = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update({str(k): str(v) for k, v in localstack_env.items() if v is not None})
    env["LAMBDA_TASK_ROOT"] = str(code_dir)
    env["LAMBDA_RUNTIME_DIR"] = str(code_dir)
    return env


def gateway_host() -> str:
    """The address a local process uses to reach LocalStack's gateway."""
    host = config.GATEWAY_LISTEN[0].host if config.GATEWAY_LISTEN else ""
    if host in ("", "0.0.0.0", "::", "[::]"):
        return "127.0.0.1"
    return host


class ProcessRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self._sandbox: Sandbox | None = None

    def _code_dir(self) -> Path:
        code = self.function_version.config.code
        if code is None:
            raise LambdaRuntimeException(
                f"{self.function_version.qualified_arn}: container image functions are not "
                "supported by the eventrail executor; deploy a zip with a bootstrap"
            )
        return Path(code.get_unzipped_code_location())

    def start(self, env_vars: dict[str, str]) -> None:
        code_dir = self._code_dir()
        # The process calls AWS with these credentials (LocalStack assumed the function's role
        # for it): IAM enforcement authorises those calls as this role's session.
        principals.register(
            env_vars.get("AWS_ACCESS_KEY_ID"),
            self.function_version.config.role,
            self.function_version.id.function_name,
        )
        sandbox = Sandbox(
            code_dir,
            build_env(env_vars, code_dir),
            self.function_version.config.timeout,
            name=self.function_version.id.function_name,
        )
        self._sandbox = sandbox
        try:
            sandbox.start()
        except InitError as e:
            LOG.warning(
                "Function %s failed to start in environment %s: %s\n%s",
                self.function_version.qualified_arn,
                self.id,
                e,
                sandbox.logs.text(),
            )
            raise StatusErrorException(str(e), payload=e.payload) from e
        LOG.debug(
            "Environment %s of %s runs bootstrap pid %s",
            self.id,
            self.function_version.qualified_arn,
            sandbox.pid,
        )

    def stop(self) -> None:
        if self._sandbox is not None:
            self._sandbox.stop()

    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return gateway_host()

    def get_runtime_endpoint(self) -> str:
        port = config.GATEWAY_LISTEN[0].port
        return f"http://{gateway_host()}:{port}/_localstack_lambda/{self.id}"

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        if self._sandbox is None:
            raise LambdaRuntimeException(f"environment {self.id} was invoked before it started")
        request_id = payload["invoke-id"]
        body = payload.get("payload") or ""
        # Counted where the process runs: the function's in-flight and peak concurrency.
        with concurrency.running(self.function_version.id.function_name):
            outcome = self._sandbox.invoke(
                request_id=request_id,
                payload=body.encode("utf-8") if isinstance(body, str) else bytes(body),
                function_arn=payload.get("invoked-function-arn") or self.function_version.qualified_arn,
                trace_id=payload.get("trace-id"),
            )
        return InvocationResult(
            request_id=request_id,
            payload=outcome.payload,
            is_error=outcome.is_error,
            logs=outcome.logs,
        )

    def get_logs(self) -> str:
        return self._sandbox.logs.text() if self._sandbox is not None else ""

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        if function_version.config.code:
            # Unzips the code next to LocalStack's state (once per code version).
            function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        # The unzipped code belongs to LocalStack, which removes it with the version.
        pass

    @classmethod
    def validate_environment(cls) -> bool:
        return True
