"""Lambda on 127.0.0.1: the Invoke API, reserved concurrency and the SQS event source, played locally.

Each function runs in its own processes (sandbox/function_instance.py), one event at a time each, as
Lambda's execution environments do, and never more of them at once than its reserved concurrency; or,
given the `sam build` artifact (`FunctionConfig.code`), each instance is that artifact in the Lambda
Runtime Interface Emulator (sandbox/runtime.py), started on its first invocation and reporting its INIT. Over
HTTP the stand-in answers Lambda's documented Invoke API, which boto3 reaches through
AWS_ENDPOINT_URL_LAMBDA (`environment()`):

    POST /2015-03-31/functions/{name}/invocations   (X-Amz-Invocation-Type RequestResponse or DryRun)
    200 + the handler's result                       X-Amz-Function-Error: Unhandled and
                                                     {"errorMessage", "errorType"} when it raised or timed out
    429 TooManyRequestsException                     Reason ReservedFunctionConcurrentInvocationLimitExceeded:
                                                     every instance is busy (the reserved concurrency is reached)
    404 ResourceNotFoundException                    another function name
    413 RequestTooLargeException                     a payload over 6 MB

`SqsEventSource` plays the event source mapping: up to MaximumConcurrency pollers receive a batch (batch
size, batching window), invoke the function with it on an instance of the same reserved pool, and
delete what the partial batch response does not name. Where Lambda's mapping is throttled and retries,
the stand-in's poller waits for a free instance while it holds the batch (counted in `waits`).

What the stand-in does not play: cold starts on demand for instances of this interpreter (each imports its
handler when the stand-in starts; an emulated instance starts on its first invocation), asynchronous
invocation, versions and aliases, the account's concurrency pool.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import urllib3
from botocore.exceptions import BotoCoreError, ClientError

from sandbox.queue import record
from sandbox.runtime import LambdaRuntime

ROOT = Path(__file__).resolve().parent.parent
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")


@dataclass(frozen=True)
class FunctionConfig:
    """What the template says of a function: its handler, reserved concurrency, timeout and memory."""

    name: str
    handler: str  # module.function, as the template's Handler
    concurrency: int  # ReservedConcurrentExecutions: at most this many instances at once
    timeout: float = 10.0
    memory_mb: int = 256
    environment: Mapping[str, str] = field(default_factory=dict)
    code: Path | None = None  # the built artifact, hosted in the Lambda runtime emulator; None: this interpreter


@dataclass(frozen=True)
class Invocation:
    """One invocation as Lambda would bill it."""

    source: str  # "invoke" (the Invoke API) or "sqs" (the event source mapping)
    started: float  # time.monotonic()
    duration_ms: float
    error: str | None = None  # the errorType of a function error
    init_ms: float | None = None  # the instance's INIT, on the invocation that started it (emulated instances)

    @property
    def billed_ms(self) -> int:
        # Lambda bills each invocation by the millisecond, rounded up, and the INIT with it (since August 2025).
        return max(1, math.ceil(self.duration_ms + (self.init_ms or 0.0)))


class FunctionTimeoutError(Exception):
    """The handler did not return within the function's timeout: Lambda ends the environment."""


class _Instance:
    """One execution environment: a process serving one invocation at a time."""

    def __init__(
        self, config: FunctionConfig, environment: Mapping[str, str], keep: Callable[[dict[str, Any]], None]
    ) -> None:
        self._config = config
        self._environment = dict(environment)
        self._keep = keep  # what becomes of each of its log lines
        self._process: subprocess.Popen[str] | None = None
        self._pool: urllib3.HTTPConnectionPool | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "sandbox.function_instance", self._config.handler, self._config.name,
             str(self._config.memory_mb)],
            cwd=ROOT,
            env=self._environment,
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip

    def wait_ready(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        url = self._process.stdout.readline().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"{self._config.name}: an instance did not start (exit {self._process.poll()})")
        host, _, port = url.removeprefix("http://").rpartition(":")
        self._pool = urllib3.HTTPConnectionPool(host, int(port), maxsize=1, retries=False)
        threading.Thread(target=self._read_logs, args=(self._process,), daemon=True).start()

    def _read_logs(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:  # ends when the process does
            try:
                parsed = json.loads(line)
            except ValueError:
                continue
            if isinstance(parsed, dict):
                self._keep(parsed)  # list.append is atomic: one list for all instances

    def invoke(self, event: bytes, timeout: float, generation: int = 0) -> tuple[bytes, str | None, float]:
        """The payload, the function error's type (or None) and the handler's duration in ms; raises
        FunctionTimeoutError (the instance is replaced, as Lambda does after a timeout). A new `generation`
        makes the instance forget what it built first (sandbox/function_instance.py)."""
        assert self._pool is not None
        try:
            response = self._pool.urlopen(
                "POST",
                "/invoke",
                body=event,
                headers={
                    "Content-Type": "application/json",
                    "X-Timeout-Seconds": f"{timeout:.3f}",
                    "X-Sandbox-Generation": str(generation),
                },
                timeout=urllib3.Timeout(connect=2.0, read=timeout + 0.5),
            )
        except urllib3.exceptions.ReadTimeoutError:
            self.stop()
            self.start()
            self.wait_ready()
            raise FunctionTimeoutError(f"Task timed out after {timeout:.2f} seconds") from None
        error = response.headers.get("X-Function-Error")
        if error:
            error = json.loads(response.data).get("errorType", "Unhandled")
        return response.data, error, float(response.headers.get("X-Duration-Ms") or 0)

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.close()
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)


class _EmulatedInstance:
    """One execution environment: the built artifact in the Lambda runtime emulator, serving one invocation at a
    time, started (its INIT) on its first invocation as Lambda starts an instance on demand."""

    def __init__(
        self, config: FunctionConfig, environment: Mapping[str, str], keep: Callable[[dict[str, Any]], None]
    ) -> None:
        assert config.code is not None
        variables = {k: v for k, v in environment.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}
        self._runtime = LambdaRuntime(
            config.code,
            config.handler,
            variables,
            timeout=math.ceil(config.timeout),
            memory=config.memory_mb,
            name=config.name,
        )
        self._keep = keep  # what becomes of each of its log lines
        self.init_ms: float | None = None  # the INIT of the last invocation, when it started the instance

    def start(self) -> None:
        self._runtime.start()

    def wait_ready(self) -> None:
        pass  # the emulator answers once started; the runtime starts on the first invocation

    def invoke(self, event: bytes, timeout: float, generation: int = 0) -> tuple[bytes, str | None, float]:
        """As an instance of this interpreter does; a new `generation` is not played (the emulated instance keeps
        what it built)."""
        invocation = self._runtime.invoke(json.loads(event))
        for line in invocation.logs:
            try:
                parsed = json.loads(line)
            except ValueError:
                continue
            if isinstance(parsed, dict):
                self._keep(parsed)
        self.init_ms = invocation.init_ms
        payload = invocation.payload
        failed = isinstance(payload, dict) and {"errorType", "errorMessage"} <= payload.keys()
        return json.dumps(payload).encode(), payload["errorType"] if failed else None, invocation.duration_ms

    def stop(self) -> None:
        self._runtime.stop()


class LocalFunction:
    """A function's pool of instances, its reserved concurrency, and what it was asked and billed. With `echo`,
    the instances' log lines are printed as they come (make serve) instead of kept in `logs`."""

    def __init__(self, config: FunctionConfig, environment: Mapping[str, str], *, echo: bool = False) -> None:
        self.config = config
        self.logs: list[dict[str, Any]] = []
        self.invocations: list[Invocation] = []
        self.throttles = 0  # Invoke API calls answered 429
        self.peak_busy = 0
        self.generation = 0  # raised by forget(): each instance forgets what it built before its next event
        keep = _printed if echo else self.logs.append
        kind = _Instance if config.code is None else _EmulatedInstance
        self._instances: list[_Instance | _EmulatedInstance] = [
            kind(config, environment, keep) for _ in range(config.concurrency)
        ]
        self._free = list(self._instances)
        self._lock = threading.Condition()

    def start(self) -> None:
        for instance in self._instances:  # all at once: their imports overlap
            instance.start()
        for instance in self._instances:
            instance.wait_ready()

    def stop(self) -> None:
        for instance in self._instances:
            instance.stop()

    def busy(self) -> int:
        with self._lock:
            return len(self._instances) - len(self._free)

    def acquire(self, wait: float = 0.0) -> _Instance | _EmulatedInstance | None:
        """A free instance, waiting at most `wait` seconds for one; None if all stay busy."""
        with self._lock:
            if not self._lock.wait_for(lambda: bool(self._free), timeout=wait):
                return None
            instance = self._free.pop()
            self.peak_busy = max(self.peak_busy, len(self._instances) - len(self._free))
            return instance

    def forget(self) -> None:
        """Each instance forgets what it built (its parts, the recipes read) before its next event: as the
        instances of a new version would, started with a changed recipe."""
        self.generation += 1

    def release(self, instance: _Instance | _EmulatedInstance) -> None:
        with self._lock:
            self._free.append(instance)
            self._lock.notify()

    def run(self, instance: _Instance | _EmulatedInstance, event: bytes, source: str) -> tuple[bytes, str | None]:
        """Invoke `instance` (acquired) with `event`; the payload and the function error's type, if any."""
        started = time.monotonic()
        try:
            payload, error, duration_ms = instance.invoke(event, self.config.timeout, self.generation)
        except FunctionTimeoutError as timeout:
            error = "Sandbox.Timedout"
            payload = json.dumps({"errorMessage": str(timeout), "errorType": error}).encode()
            duration_ms = self.config.timeout * 1000
        init_ms = instance.init_ms if isinstance(instance, _EmulatedInstance) else None
        self.invocations.append(Invocation(source, started, duration_ms, error, init_ms))
        return payload, error

    def billed_gb_seconds(self, source: str | None = None) -> float:
        """Billed duration x memory, over the invocations (of one source, or all)."""
        billed = sum(i.billed_ms for i in self.invocations if source is None or i.source == source)
        return billed / 1000 * self.config.memory_mb / 1024


def _printed(line: dict[str, Any]) -> None:
    print(json.dumps(line, ensure_ascii=False), flush=True)


class LocalLambda:
    """The Invoke API on 127.0.0.1 in front of each function's pool of instances."""

    def __init__(self, *configs: FunctionConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = ThreadingHTTPServer((host, port), _invoke_handler(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        bound_host, bound_port = self._server.server_address[:2]
        self.url = f"http://{bound_host!s}:{bound_port}"
        base = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PYTHONDONTWRITEBYTECODE": "1"}
        environment = {**base, **self.environment()}  # a function may invoke another through the stand-in
        self.functions = {c.name: LocalFunction(c, {**environment, **c.environment}) for c in configs}
        self.connections = 0  # TCP connections the Invoke API accepted (a client keeps its own alive)
        self._thread = threading.Thread(target=self._server.serve_forever, name="lambda", daemon=True)

    def environment(self) -> dict[str, str]:
        """The standard SDK variable that points boto3's Lambda client at this stand-in."""
        return {"AWS_ENDPOINT_URL_LAMBDA": self.url}

    def start(self) -> LocalLambda:
        for function in self.functions.values():
            function.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        for function in self.functions.values():
            function.stop()

    def __enter__(self) -> LocalLambda:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def _invoke_handler(service: LocalLambda) -> type[BaseHTTPRequestHandler]:
    class InvokeApi(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else a delayed ACK adds ~40 ms to every kept-alive answer

        def setup(self) -> None:  # once per connection: a kept-alive one serves many invocations
            super().setup()
            service.connections += 1

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            found = _INVOKE.match(self.path.partition("?")[0])
            function = service.functions.get(_function_name(found["name"])) if found else None
            if function is None:
                self._error(404, "ResourceNotFoundException", {"Type": "User", "message": "Function not found"})
                return
            if len(body) > MAX_PAYLOAD_BYTES:
                self._error(413, "RequestTooLargeException", {"Type": "User", "message": "Request must be smaller"})
                return
            kind = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
            if kind == "DryRun":
                self._reply(204, b"", {})
                return
            if kind != "RequestResponse":
                self._error(400, "InvalidParameterValueException", {"message": "the stand-in plays RequestResponse"})
                return
            instance = function.acquire()
            if instance is None:
                function.throttles += 1
                reason = {"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "Type": "User"}
                self._error(429, "TooManyRequestsException", {**reason, "message": "Rate Exceeded."})
                return
            try:
                payload, error = function.run(instance, body, "invoke")
            finally:
                function.release(instance)
            headers = {"X-Amz-Executed-Version": "$LATEST"} | ({"X-Amz-Function-Error": "Unhandled"} if error else {})
            self._reply(200, payload, headers)

        def _error(self, status: int, error_type: str, body: dict[str, Any]) -> None:
            self._reply(status, json.dumps(body).encode(), {"x-amzn-ErrorType": error_type})

        def _reply(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

    return InvokeApi


def _function_name(written: str) -> str:
    """The name in a name, a partial or a full ARN, with or without a qualifier."""
    name = unquote(written)
    if "function:" in name:
        name = name.split("function:", 1)[1]
    return name.split(":", 1)[0]


class SqsEventSource:
    """The SQS event source mapping of one function: batch size, batching window, MaximumConcurrency."""

    def __init__(
        self,
        function: LocalFunction,
        sqs: Any,
        queue_url: str,
        *,
        batch_size: int = 10,
        window: float = 0.0,
        maximum_concurrency: int = 2,
    ) -> None:
        self._function = function
        self._sqs = sqs
        self._queue_url = queue_url
        self._batch_size = batch_size
        self._window = window
        self._arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self._stop = threading.Event()
        self._pollers = [
            threading.Thread(target=self._poll, name=f"sqs-poller-{n}", daemon=True) for n in range(maximum_concurrency)
        ]
        self.batches = 0
        self.messages = 0
        self.waits = 0  # times a poller found every instance busy (Lambda: a throttled invoke, retried)
        self.errors = 0  # SQS calls that failed (the poller went on)

    def start(self) -> SqsEventSource:
        for poller in self._pollers:
            poller.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for poller in self._pollers:
            poller.join(30)

    def __enter__(self) -> SqsEventSource:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                self._poll_once()
            except (BotoCoreError, ClientError):  # SQS failed this call: the mapping tries again, as Lambda's does
                self.errors += 1
                time.sleep(0.1)

    def _poll_once(self) -> None:
        messages = self._batch()
        if not messages:
            return
        instance = self._function.acquire(wait=0.05)
        while instance is None and not self._stop.is_set():
            self.waits += 1
            instance = self._function.acquire(wait=0.05)
        if instance is None:
            return  # stopping: the messages come back after their visibility timeout
        event = json.dumps({"Records": [record(message, self._arn) for message in messages]}).encode()
        try:
            payload, error = self._function.run(instance, event, "sqs")
        finally:
            self._function.release(instance)
        self.batches += 1
        self.messages += len(messages)
        if error:
            return  # the whole batch comes back after its visibility timeout
        failed = {item["itemIdentifier"] for item in (json.loads(payload) or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done[start:][:10])]
            self._sqs.delete_message_batch(QueueUrl=self._queue_url, Entries=entries)

    def _batch(self) -> list[dict[str, Any]]:
        """Up to a batch of messages: a long poll of at most 1 s, then more until the batching window ends."""
        batch = self._receive(self._batch_size, wait=1)
        window_ends = time.monotonic() + self._window
        while batch and len(batch) < self._batch_size and time.monotonic() < window_ends and not self._stop.is_set():
            more = self._receive(self._batch_size - len(batch), wait=0)
            batch += more
            if not more:
                time.sleep(min(0.05, max(0.0, window_ends - time.monotonic())))
        return batch

    def _receive(self, count: int, wait: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self._sqs.receive_message(
            QueueUrl=self._queue_url, MaxNumberOfMessages=min(10, count), AttributeNames=["All"], WaitTimeSeconds=wait
        ).get("Messages", [])
        return messages
