"""The whole local stack: moto server, sandbox gateway, the function's environment, a local endpoint."""

from __future__ import annotations

import os
from typing import Any

from sandbox.aws import (
    IDEMPOTENCY_TABLE,
    LOCAL_PHONE_KEY,
    LOCAL_SECRET,
    PHONE_KEY_SECRET_ID,
    REFUSED_BUCKET,
    SECRET_ID,
    LocalAws,
)
from sandbox.aws_process import SeparateAws
from sandbox.endpoint import Handler, LocalEndpoint
from sandbox.function_instance import new_instance
from sandbox.gateway import SandboxGateway

__all__ = ["FORWARDER_FUNCTION", "Sandbox", "invoked_forwarder", "new_instance"]

LOCAL_MAX_RECEIVE_COUNT = 4
PHONE_REGION = "TR"  # the local stack's DEFAULT_PHONE_REGION
# The forwarder's name on the local endpoint's Invoke API (make replay-refused); deployed, <stack>-forwarder.
FORWARDER_FUNCTION = "owner-webhook-forwarder"


class Sandbox:
    """Starts the stand-ins and points the function at them through its ordinary environment.

    As deployed, deduplication is on (IDEMPOTENCY_TABLE names a table on the moto server), and refusals are
    kept in an encrypted bucket there (REFUSED_BUCKET). The retry queue and its dead-letter queue exist; the
    function uses them with `queue=True` (RETRY_QUEUE_URL). The endpoint also answers Lambda's Invoke API for
    the forwarder, as FORWARDER_FUNCTION (what `make replay-refused` invokes).
    """

    def __init__(
        self,
        *,
        handler: Handler | None = None,
        environment: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        ports: tuple[int, int, int] = (0, 0, 0),  # endpoint, moto server, gateway; 0 picks a free one
        queue: bool = False,
        separate_aws: bool = False,  # the moto server in a process of its own (sandbox/aws_process.py)
    ) -> None:
        self.aws = SeparateAws() if separate_aws else LocalAws(host, ports[1])
        self.gateway = SandboxGateway(api_key=LOCAL_SECRET["api_key"], host=host, port=ports[2])
        self._host, self._endpoint_port = host, ports[0]
        self._queue = queue
        self.queue_url = self.dead_letter_url = ""
        self.refused_key = ""  # the ARN of the KMS key that encrypts the kept refusals
        self._extra = environment or {}
        self._handler = handler
        self.endpoint: LocalEndpoint | None = None
        self._saved: dict[str, str | None] = {}

    def environment(self) -> dict[str, str]:
        return {
            **self.aws.environment(),
            "API_KEY_SECRET_ID": SECRET_ID,
            "GATEWAY_BASE_URL": self.gateway.url,
            "DEFAULT_PHONE_REGION": PHONE_REGION,
            "POWERTOOLS_SERVICE_NAME": "owner-webhook",
            "POWERTOOLS_METRICS_NAMESPACE": "OwnerWebhook",
            "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
            "PHONE_KEY_SECRET_ID": PHONE_KEY_SECRET_ID,
            "REFUSED_BUCKET": REFUSED_BUCKET,
            # Locally the forwarder retries at once and gives up after 4 receives (deployed: 60 s doubling, 16).
            "RETRY_DELAY_SECONDS": "0",
            "MAX_RECEIVE_COUNT": str(LOCAL_MAX_RECEIVE_COUNT),
            **({"RETRY_QUEUE_URL": self.queue_url} if self._queue else {}),
            **self._extra,
        }

    def __enter__(self) -> Sandbox:
        self.aws.start()
        self.aws.put_secret(LOCAL_SECRET)
        self.aws.put_secret(LOCAL_PHONE_KEY, PHONE_KEY_SECRET_ID)
        self.aws.create_idempotency_table()
        self.queue_url, self.dead_letter_url = self.aws.create_retry_queues(LOCAL_MAX_RECEIVE_COUNT)
        self.refused_key = self.aws.create_refused_bucket()
        self.gateway.start()
        for name, value in self.environment().items():
            self._saved[name] = os.environ.get(name)
            os.environ[name] = value
        if self._handler is not None:
            functions = {FORWARDER_FUNCTION: invoked_forwarder}
            self.endpoint = LocalEndpoint(self._handler, self._host, self._endpoint_port, functions).start()
        return self

    def __exit__(self, *_: Any) -> None:
        if self.endpoint is not None:
            self.endpoint.stop()
        self.gateway.stop()
        self.aws.stop()
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def invoked_forwarder(event: dict[str, Any], context: Any) -> Any:
    """The forwarder function as the endpoint's Invoke API runs it: built anew for each invocation, so that a
    replay reads the recipes as they are now (deployed, a fixed recipe comes with a new version's instances)."""
    from owner_webhook.forwarder import lambda_handler

    new_instance()
    return lambda_handler(event, context)
