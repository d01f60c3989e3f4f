"""A Lambda execution environment made of a local process and a Runtime API server.

Nothing in this module imports LocalStack, so it can be tested on its own.

* ``RuntimeApiServer`` serves the Lambda Runtime API (``/2018-06-01/runtime/...``) for one
  bootstrap process on a loopback port.
* ``FunctionProcess`` is one running ``bootstrap`` plus its server.
* ``Sandbox`` is one execution environment: it starts a process, hands it invocations one
  at a time, enforces the function timeout (the process is killed and the invocation
  reports ``Sandbox.Timedout``), and starts a fresh process for the next invocation when
  the previous one crashed or timed out.
"""

from __future__ import annotations

import codecs
import ctypes
import dataclasses
import http.server
import json
import logging
import os
import queue
import select
import signal
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

LOG = logging.getLogger(__name__)

API_PREFIX = "/2018-06-01/runtime"
# Lambda's limit for a synchronous response payload.
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
# Bytes of process output kept per environment for get_logs().
MAX_LOG_BYTES = 1024 * 1024
# How long a stopped process gets after SIGTERM before SIGKILL.
STOP_GRACE_SECONDS = 1.0
PR_SET_PDEATHSIG = 1


@dataclasses.dataclass
class Outcome:
    """The result of one invocation."""

    request_id: str
    payload: bytes
    is_error: bool
    logs: str
    error_type: str | None = None


class InitError(Exception):
    """The bootstrap failed before it asked for its first invocation."""

    def __init__(self, message: str, payload: bytes):
        super().__init__(message)
        self.payload = payload


def error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


@dataclasses.dataclass
class _Invocation:
    request_id: str
    payload: bytes
    deadline_ms: int
    function_arn: str
    trace_id: str | None
    client_context: str | None = None
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    result: bytes = b""
    is_error: bool = False
    error_type: str | None = None

    def finish(self, payload: bytes, is_error: bool, error_type: str | None = None) -> bool:
        """Record the result once; later calls are ignored (returns False)."""
        if self.done.is_set():
            return False
        self.result = payload
        self.is_error = is_error
        self.error_type = error_type
        self.done.set()
        return True


class _ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:
        # A runtime that was killed mid-request leaves a broken connection behind: expected.
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            LOG.debug("runtime api connection from %s dropped: %s", client_address, error)
        else:
            LOG.warning("runtime api request from %s failed", client_address, exc_info=True)


class RuntimeApiServer:
    """The Lambda Runtime API for one bootstrap process, on 127.0.0.1 and a free port."""

    def __init__(self, host: str = "127.0.0.1"):
        self._queue: queue.Queue[_Invocation] = queue.Queue()
        self._in_flight: dict[str, _Invocation] = {}
        self._lock = threading.Lock()
        self.closed = threading.Event()
        # Set on the first GET .../invocation/next (the runtime finished its init) or on
        # POST .../init/error.
        self.changed = threading.Event()
        self.ready = False
        self.init_error: bytes | None = None
        self._httpd = _ThreadingServer((host, 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"eventrail-runtime-api-{self.port}",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def address(self) -> str:
        """host:port, the value of AWS_LAMBDA_RUNTIME_API."""
        return f"{self._httpd.server_address[0]}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        """Stop serving; a pending GET next is answered with 410 and the connection closed."""
        if self.closed.is_set():
            return
        self.closed.set()
        self.changed.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def submit(self, invocation: _Invocation) -> None:
        with self._lock:
            self._in_flight[invocation.request_id] = invocation
        self._queue.put(invocation)

    def forget(self, request_id: str) -> None:
        with self._lock:
            self._in_flight.pop(request_id, None)

    # --- request handling -------------------------------------------------------------

    def _next(self, handler: _Handler) -> None:
        if not self.ready:
            self.ready = True
            self.changed.set()
        while not self.closed.is_set():
            try:
                invocation = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if invocation.done.is_set():
                # Timed out or cancelled before the runtime picked it up.
                continue
            headers = {
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
                "Content-Type": "application/json",
            }
            if invocation.trace_id:
                headers["Lambda-Runtime-Trace-Id"] = invocation.trace_id
            if invocation.client_context:
                headers["Lambda-Runtime-Client-Context"] = invocation.client_context
            handler.reply(200, invocation.payload, headers)
            return
        handler.reply(410, error_payload("Runtime.Stopped", "execution environment stopped"))
        handler.close_connection = True

    def _result(self, handler: _Handler, request_id: str, is_error: bool) -> None:
        body = handler.read_body()
        with self._lock:
            invocation = self._in_flight.get(request_id)
        if invocation is None or invocation.done.is_set():
            handler.reply(
                400,
                error_payload(
                    "InvalidRequestID",
                    f"request id {request_id!r} is not the invocation in progress",
                ),
            )
            return
        error_type = handler.headers.get("Lambda-Runtime-Function-Error-Type")
        if is_error:
            body = _normalise_error_body(body, error_type or "Unhandled")
        elif len(body) > MAX_RESPONSE_BYTES:
            invocation.finish(
                error_payload(
                    "Function.ResponseSizeTooLarge",
                    f"Response payload size ({len(body)} bytes) exceeded maximum allowed "
                    f"payload size ({MAX_RESPONSE_BYTES} bytes).",
                ),
                True,
                "Function.ResponseSizeTooLarge",
            )
            handler.reply(413, error_payload("RequestEntityTooLarge", "response too large"))
            return
        invocation.finish(body, is_error, error_type if is_error else None)
        self.forget(request_id)
        handler.reply(202, b'{"status":"OK"}')

    def _init_error(self, handler: _Handler) -> None:
        body = handler.read_body()
        error_type = handler.headers.get("Lambda-Runtime-Function-Error-Type") or "Runtime.Unknown"
        if self.init_error is None:
            self.init_error = _normalise_error_body(body, error_type)
            self.changed.set()
        handler.reply(202, b'{"status":"OK"}')

    def _handler_class(self) -> type[_Handler]:
        server = self

        class Handler(_Handler):
            api = server

        return Handler


def _normalise_error_body(body: bytes, error_type: str) -> bytes:
    """Keep a JSON error object as the runtime sent it; wrap anything else."""
    try:
        if isinstance(json.loads(body), dict):
            return body
    except ValueError:
        pass
    return error_payload(error_type, body.decode("utf-8", "replace"))


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    api: RuntimeApiServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        LOG.debug("runtime api %s: %s", self.address_string(), format % args)

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size_line = self.rfile.readline().strip()
                size = int(size_line.split(b";", 1)[0] or b"0", 16)
                if size == 0:
                    # Trailer section ends with an empty line.
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {"Content-Type": "application/json"}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        if self.path == f"{API_PREFIX}/invocation/next":
            self.api._next(self)
        else:
            self.reply(404, error_payload("NotFound", f"no route GET {self.path}"))

    def do_POST(self) -> None:  # noqa: N802
        path = self.path
        prefix = f"{API_PREFIX}/invocation/"
        if path == f"{API_PREFIX}/init/error":
            self.api._init_error(self)
        elif path.startswith(prefix) and path.endswith("/response"):
            self.api._result(self, path[len(prefix) : -len("/response")], is_error=False)
        elif path.startswith(prefix) and path.endswith("/error"):
            self.api._result(self, path[len(prefix) : -len("/error")], is_error=True)
        else:
            self.read_body()
            self.reply(404, error_payload("NotFound", f"no route POST {path}"))


class _Spawner:
    """Starts every bootstrap from one long-lived thread.

    Children get PR_SET_PDEATHSIG=SIGKILL so they die with the process that started
    them. Linux delivers that signal when the *thread* that forked the child exits;
    LocalStack invokes from short-lived threads, so all forks happen on this thread,
    which lives as long as the process.
    """

    _instance: _Spawner | None = None
    _instance_lock = threading.Lock()

    def __init__(self) -> None:
        self._requests: queue.Queue = queue.Queue()
        try:
            self._prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            self._prctl = None
        self._parent_pid = os.getpid()
        threading.Thread(target=self._run, name="eventrail-spawner", daemon=True).start()

    @classmethod
    def get(cls) -> _Spawner:
        with cls._instance_lock:
            if cls._instance is None or cls._instance._parent_pid != os.getpid():
                cls._instance = _Spawner()
            return cls._instance

    def _preexec(self) -> None:
        if self._prctl is not None:
            self._prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != self._parent_pid:
                os._exit(1)

    def _run(self) -> None:
        while True:
            kwargs, reply = self._requests.get()
            try:
                reply.put((subprocess.Popen(preexec_fn=self._preexec, **kwargs), None))
            except Exception as e:  # noqa: BLE001 - handed back to the caller
                reply.put((None, e))

    def popen(self, **kwargs) -> subprocess.Popen:
        reply: queue.Queue = queue.Queue(maxsize=1)
        self._requests.put((kwargs, reply))
        proc, error = reply.get()
        if error is not None:
            raise error
        return proc


class _LogBuffer:
    def __init__(self, limit: int = MAX_LOG_BYTES):
        self._lock = threading.Lock()
        self._parts: list[str] = []
        self._size = 0
        self._total = 0
        self._limit = limit

    def append(self, text: str) -> None:
        with self._lock:
            self._parts.append(text)
            self._size += len(text)
            self._total += len(text)
            while self._size > self._limit and len(self._parts) > 1:
                self._size -= len(self._parts.pop(0))

    def mark(self) -> int:
        with self._lock:
            return self._total

    def since(self, mark: int) -> str:
        """Text appended after ``mark`` (as much of it as is still kept)."""
        with self._lock:
            wanted = self._total - mark
            text = "".join(self._parts)
        return text[-wanted:] if wanted > 0 else ""

    def text(self) -> str:
        with self._lock:
            return "".join(self._parts)


class FunctionProcess:
    """One running bootstrap with its own Runtime API server."""

    def __init__(self, bootstrap: Path, cwd: Path, env: Mapping[str, str], logs: _LogBuffer):
        self.api = RuntimeApiServer()
        self.api.start()
        self.exit_code: int | None = None
        self.exited = threading.Event()
        self._logs = logs
        full_env = dict(env)
        full_env["AWS_LAMBDA_RUNTIME_API"] = self.api.address
        try:
            self.proc = _Spawner.get().popen(
                args=[str(bootstrap)],
                cwd=str(cwd),
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as e:
            self.api.close()
            raise InitError(
                f"cannot start {bootstrap}: {e}",
                error_payload(
                    "Runtime.InvalidEntrypoint",
                    f"Couldn't start the function's bootstrap {bootstrap}: {e}",
                ),
            ) from e
        self.pid = self.proc.pid
        # The output is read without blocking, under a lock, by the pump thread and by
        # drain(): an invocation's outcome drains the pipe itself, so every line the handler
        # wrote before it answered is in that invocation's logs, however loaded the machine.
        self._read_lock = threading.Lock()
        self._eof = False
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._fd = self.proc.stdout.fileno() if self.proc.stdout is not None else -1
        if self._fd >= 0:
            os.set_blocking(self._fd, False)
        threading.Thread(target=self._pump_output, name=f"eventrail-out-{self.pid}", daemon=True).start()
        threading.Thread(target=self._wait, name=f"eventrail-wait-{self.pid}", daemon=True).start()

    def drain(self) -> None:
        """Append everything the process has written so far to the logs, without blocking."""
        with self._read_lock:
            while not self._eof and self._fd >= 0:
                try:
                    chunk = os.read(self._fd, 65536)
                except BlockingIOError:
                    return
                except OSError:
                    chunk = b""
                if not chunk:
                    self._eof = True
                    tail = self._decoder.decode(b"", final=True)
                    if tail:
                        self._logs.append(tail)
                    return
                text = self._decoder.decode(chunk)
                if text:
                    self._logs.append(text)
                    LOG.debug("[bootstrap %s] %s", self.pid, text.rstrip())

    def _pump_output(self) -> None:
        stream = self.proc.stdout
        if stream is None:
            return
        while not self._eof:
            try:
                ready, _, _ = select.select([self._fd], [], [], 0.5)
            except (OSError, ValueError):
                break
            if ready:
                self.drain()
        stream.close()

    def _wait(self) -> None:
        self.exit_code = self.proc.wait()
        self.exited.set()
        self.api.changed.set()

    def exit_reason(self) -> str:
        code = self.exit_code
        if code is None:
            return "Runtime exited"
        if code < 0:
            try:
                name = signal.Signals(-code).name.removeprefix("SIG").lower()
            except ValueError:
                name = str(-code)
            return f"Runtime exited with error: signal: {name}"
        return f"Runtime exited with error: exit status {code}"

    def wait_ready(self, stop: threading.Event) -> None:
        """Block until the runtime asks for its first invocation; raise InitError if it fails first."""
        while True:
            if self.api.init_error is not None:
                raise InitError("the runtime reported an init error", self.api.init_error)
            if self.api.ready:
                return
            if self.exited.is_set():
                raise InitError(
                    f"bootstrap exited during init ({self.exit_reason()})",
                    error_payload(
                        "Runtime.ExitError",
                        f"{self.exit_reason()} (before asking for its first invocation)",
                    ),
                )
            if stop.is_set() or self.api.closed.is_set():
                raise InitError(
                    "execution environment stopped during init",
                    error_payload("Runtime.Stopped", "execution environment stopped during init"),
                )
            self.api.changed.wait(0.5)
            self.api.changed.clear()

    def kill(self) -> None:
        """Stop the process group (bootstrap and its children) and the API server."""
        if self.proc.poll() is None:
            _signal_group(self.proc.pid, signal.SIGTERM)
            if not self.exited.wait(STOP_GRACE_SECONDS):
                _signal_group(self.proc.pid, signal.SIGKILL)
                self.exited.wait(STOP_GRACE_SECONDS)
        else:
            # The leader is gone; its children may still be in the group.
            _signal_group(self.proc.pid, signal.SIGKILL)
        self.api.close()

    def alive(self) -> bool:
        return not self.exited.is_set() and not self.api.closed.is_set()


# ELF e_machine values of the architectures Lambda supports.
_ELF_MACHINES = {62: "x86_64", 183: "arm64"}
_HOST_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


def elf_architecture_mismatch(path: Path) -> str | None:
    """A message if ``path`` is an ELF executable for another CPU than this machine's."""
    try:
        with open(path, "rb") as f:
            header = f.read(20)
    except OSError:
        return None
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    byteorder = "little" if header[5] == 1 else "big"
    binary = _ELF_MACHINES.get(int.from_bytes(header[18:20], byteorder))
    host = _HOST_ARCH.get(os.uname().machine)
    if binary and host and binary != host:
        return (
            f"{path} is built for {binary} but this machine is {host}: the local stage runs "
            f"functions as host processes, so build them for {host} (cargo lambda build "
            f"--release{' --arm64' if host == 'arm64' else ' --x86-64'})"
        )
    return None


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Sandbox:
    """One Lambda execution environment: serves one invocation at a time."""

    def __init__(self, code_dir: Path, env: Mapping[str, str], timeout_seconds: float, name: str = ""):
        self.code_dir = Path(code_dir)
        self.env = {str(k): str(v) for k, v in env.items() if v is not None}
        self.timeout_seconds = float(timeout_seconds)
        self.name = name
        self.logs = _LogBuffer()
        self._process: FunctionProcess | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _bootstrap(self) -> Path:
        bootstrap = self.code_dir / "bootstrap"
        if not bootstrap.is_file():
            raise InitError(
                f"no bootstrap in {self.code_dir}",
                error_payload(
                    "Runtime.InvalidEntrypoint",
                    f"Couldn't find a file named 'bootstrap' at the root of the function code "
                    f"({self.code_dir}). A Rust function built with `cargo lambda build "
                    f"--output-format zip` has one.",
                ),
            )
        if not os.access(bootstrap, os.X_OK):
            raise InitError(
                f"{bootstrap} is not executable",
                error_payload(
                    "Runtime.InvalidEntrypoint",
                    f"{bootstrap} is not executable: store it in the zip with mode 0755.",
                ),
            )
        mismatch = elf_architecture_mismatch(bootstrap)
        if mismatch:
            raise InitError(
                mismatch,
                error_payload("Runtime.InvalidEntrypoint", mismatch),
            )
        return bootstrap

    def start(self) -> None:
        """Start the process and wait until it asks for work. Raises InitError on failure."""
        with self._lock:
            self._start_locked()

    def _start_locked(self) -> None:
        if self._stopped.is_set():
            raise InitError(
                "execution environment stopped",
                error_payload("Runtime.Stopped", "execution environment stopped"),
            )
        process = FunctionProcess(self._bootstrap(), self.code_dir, self.env, self.logs)
        self._process = process
        try:
            process.wait_ready(self._stopped)
        except InitError:
            process.kill()
            raise

    def invoke(
        self,
        request_id: str,
        payload: bytes,
        function_arn: str,
        trace_id: str | None = None,
        client_context: str | None = None,
    ) -> Outcome:
        with self._lock:
            return self._invoke_locked(request_id, payload, function_arn, trace_id, client_context)

    def _invoke_locked(
        self,
        request_id: str,
        payload: bytes,
        function_arn: str,
        trace_id: str | None,
        client_context: str | None,
    ) -> Outcome:
        started = time.monotonic()
        mark = self.logs.mark()
        process = self._process
        if process is None or not process.alive():
            # First use, or the previous process crashed or timed out: start a fresh one.
            if process is not None:
                process.kill()
            try:
                self._start_locked()
            except InitError as e:
                return self._outcome(request_id, e.payload, True, mark, started, "Runtime.InitError")
            process = self._process
            assert process is not None
        deadline_ms = int(time.time() * 1000 + self.timeout_seconds * 1000)
        invocation = _Invocation(
            request_id=request_id,
            payload=payload,
            deadline_ms=deadline_ms,
            function_arn=function_arn,
            trace_id=trace_id,
            client_context=client_context,
        )
        process.api.submit(invocation)
        until = started + self.timeout_seconds
        while not invocation.done.is_set():
            remaining = until - time.monotonic()
            if remaining <= 0:
                if invocation.finish(
                    error_payload(
                        "Sandbox.Timedout",
                        f"RequestId: {request_id} Error: Task timed out after "
                        f"{self.timeout_seconds:.2f} seconds",
                    ),
                    True,
                    "Sandbox.Timedout",
                ):
                    # The process may be anywhere in the handler: it cannot be reused.
                    process.kill()
                break
            if self._stopped.is_set():
                invocation.finish(
                    error_payload(
                        "Runtime.Stopped",
                        f"RequestId: {request_id} Error: execution environment stopped",
                    ),
                    True,
                    "Runtime.Stopped",
                )
                break
            if process.exited.is_set():
                invocation.finish(
                    error_payload(
                        "Runtime.ExitError",
                        f"RequestId: {request_id} Error: {process.exit_reason()}",
                    ),
                    True,
                    "Runtime.ExitError",
                )
                process.kill()
                break
            invocation.done.wait(min(remaining, 0.05))
        process.api.forget(request_id)
        return self._outcome(
            request_id, invocation.result, invocation.is_error, mark, started, invocation.error_type
        )

    def _outcome(
        self,
        request_id: str,
        payload: bytes,
        is_error: bool,
        mark: int,
        started: float,
        error_type: str | None,
    ) -> Outcome:
        # Everything the handler printed before it answered is in the pipe: read it now rather
        # than rely on the pump thread having been scheduled.
        if self._process is not None:
            self._process.drain()
        duration_ms = (time.monotonic() - started) * 1000
        output = self.logs.since(mark)
        if output and not output.endswith("\n"):
            output += "\n"
        logs = (
            f"START RequestId: {request_id} Version: $LATEST\n"
            f"{output}"
            f"END RequestId: {request_id}\n"
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\n"
        )
        return Outcome(request_id, payload, is_error, logs, error_type)

    def stop(self) -> None:
        """Kill the process (if any); later invocations fail with Runtime.Stopped."""
        self._stopped.set()
        process = self._process
        if process is not None:
            process.kill()
