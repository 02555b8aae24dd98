"""AWS on 127.0.0.1: a moto server over real HTTP, reached by boto3 through AWS_ENDPOINT_URL."""

from __future__ import annotations

import datetime
import functools
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import boto3
import moto.core.utils
import moto.sqs.models
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from owner_webhook.sources import NAMES
from sandbox import local_secrets

REGION = "eu-central-1"
SECRET_ID = "owner-webhook/local"
# The key of the phones' HMAC in the deduplication table; deployed, the stack generates it.
PHONE_KEY_SECRET_ID = "owner-webhook/local-phone-key"
LOCAL_PHONE_KEY = local_secrets.PHONE_KEY
IDEMPOTENCY_TABLE = "owner-webhook-idempotency"
RETRY_QUEUE = "owner-webhook-retry"
# The kept refusals' bucket, encrypted under a KMS key of this server, as the template's RefusedBucket.
REFUSED_BUCKET = "owner-webhook-refused"
REFUSED_RETENTION_DAYS = 14
# Local-only values (sandbox/local_secrets.py, where each is defined once): never use them anywhere real.
# Each source of the registry has its own; a recipe of your own (owner_webhook/recipes/<name>.json) gets
# local-<name>-secret.
LOCAL_SECRET: dict[str, Any] = local_secrets.document(NAMES)
# The same with generic signed by Standard Webhooks.
STANDARD_WEBHOOKS_SECRET = local_secrets.STANDARD_WEBHOOKS
SECRETS: dict[str, dict[str, Any]] = {
    "default": LOCAL_SECRET,
    "standard-webhooks": {
        **LOCAL_SECRET,
        "webhook_secrets": {**LOCAL_SECRET["webhook_secrets"], "generic": STANDARD_WEBHOOKS_SECRET},
    },
}


def _moto_sqs_reads_the_clock_cheaply() -> None:
    """moto's SQS reads its clock once per message held, on every SendMessage and ReceiveMessage (to count
    the delayed and invisible ones), and each read builds datetimes: a queue holding a burst's thousands of
    messages makes every send slow, and the burst's sends wait on each other (docs/performance.md, "The
    burst soak"). The same clock read as `time.time()` gives the same milliseconds."""
    original = moto.core.utils.unix_time_millis

    def unix_time_millis(moment: datetime.datetime | None = None) -> float:
        return time.time() * 1000.0 if moment is None else original(moment)

    setattr(moto.sqs.models, "unix_time_millis", unix_time_millis)  # noqa: B010 - moto's module, not ours


_moto_sqs_reads_the_clock_cheaply()


_OBJECT_ACTIONS = {"PUT": "PutObject", "GET": "GetObject", "HEAD": "GetObject", "DELETE": "DeleteObject"}


def _s3_action(environ: dict[str, Any]) -> str | None:
    """An S3 call, named as IAM names its action ("s3.PutObject", "s3.ListBucket"), from the request: S3 has no
    X-Amz-Target. A call on a bucket's configuration is named by its method and subresource."""
    if "/s3/aws4_request" not in environ.get("HTTP_AUTHORIZATION", ""):
        return None
    method = environ.get("REQUEST_METHOD", "")
    subresource = environ.get("QUERY_STRING", "").partition("=")[0]
    if "/" in environ.get("PATH_INFO", "").strip("/"):  # /<bucket>/<key>: an object
        return f"s3.{_OBJECT_ACTIONS.get(method, method)}"
    if method == "GET" and subresource in ("", "list-type", "prefix"):
        return "s3.ListBucket"
    return f"s3.{method}?{subresource}"


class _Dispatcher(DomainDispatcherApplication):
    """moto's dispatcher, remembering which backend serves a host: moto finds it anew on every request, by
    listing its package's folders and matching hundreds of URL patterns."""

    def __init__(self) -> None:
        super().__init__(create_backend_app)
        self._backends: dict[str | None, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        if host not in self._backends:
            self._backends[host] = super().get_backend_for_host(host)
        return self._backends[host]


class LocalAws:
    """A moto server in a thread that also counts the API calls it answers, by X-Amz-Target."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        # Read by moto on each PurgeQueue: tests empty the queues before each test, not once a minute as AWS allows.
        os.environ["MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR"] = "false"
        self.calls: Counter[str] = Counter()
        self._failing: Counter[str] = Counter()  # X-Amz-Target: how many of the next calls fail
        self._fail_after: dict[str, float] = {}  # X-Amz-Target: seconds to wait before failing
        self._passing: Counter[str] = Counter()  # X-Amz-Target: calls to let through before failing
        self._slow: dict[str, float] = {}  # X-Amz-Target ("" for every call): seconds to wait before answering
        self._lock = threading.Lock()
        # DynamoDB applies a conditional write atomically; moto checks the condition and writes in two steps,
        # so two threads of this server can both pass one condition. One DynamoDB call at a time, as the table
        # behaves for one item.
        self._dynamodb = threading.Lock()
        self._server: BaseWSGIServer = make_server(
            host,
            port,
            self._counting(_Dispatcher()),
            threaded=True,
            request_handler=MotoRequestHandler,
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        bound_host, bound_port = self._server.server_address[:2]
        self.url = f"http://{bound_host!s}:{bound_port}"

    def _counting(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
        def counted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if environ.get("PATH_INFO") == "/_sandbox/calls":  # the counts, for a process that did not start us
                with self._lock:
                    body = json.dumps(dict(self.calls)).encode()
                start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
                return [body]
            target = environ.get("HTTP_X_AMZ_TARGET") or _s3_action(environ)
            if target:
                with self._lock:
                    self.calls[target] += 1
                    passing = self._passing[target] > 0  # let these through before failing
                    self._passing[target] -= passing
                    failing = not passing and self._failing[target] > 0
                    self._failing[target] -= failing
                    delay = self._fail_after.get(target, 0.0)
                    slow = self._slow.get(target, self._slow.get("", 0.0))
                time.sleep(slow)  # a slow but working service
                if failing:
                    time.sleep(delay)  # longer than the client waits: a hang
                    body = json.dumps({"__type": "InternalServerError", "message": "sandbox fault"}).encode()
                    start_response("500 Internal Server Error", [("Content-Type", "application/x-amz-json-1.0")])
                    return [body]
            if target and target.startswith("DynamoDB_"):
                with self._dynamodb:
                    return app(environ, start_response)
            return app(environ, start_response)

        return counted

    def start(self) -> LocalAws:
        self._thread.start()
        return self

    def fail_next(self, target: str, times: int = 1, after: float = 0.0, skip: int = 0) -> None:
        """Answer the next `times` calls of `target` (e.g. "DynamoDB_20120810.UpdateItem") with a 500,
        `after` seconds (past the client's read timeout, a hang), once `skip` calls have passed."""
        with self._lock:
            self._passing[target] += skip
            self._failing[target] += times
            self._fail_after[target] = after

    def slow_down(self, seconds: float, target: str = "") -> None:
        """Answer every call of `target` (every call, when empty) `seconds` late, but answer it."""
        with self._lock:
            self._slow[target] = seconds

    def clear_faults(self) -> None:
        with self._lock:
            self._slow.clear()
            self._failing.clear()
            self._fail_after.clear()
            self._passing.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def count(self, target: str) -> int:
        with self._lock:
            return self.calls[target]

    def environment(self) -> dict[str, str]:
        """The standard SDK variables that point boto3 (and so Powertools) at this server."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_SESSION_TOKEN": "local",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }

    @functools.cache  # noqa: B019 - one client per service for the server's short life
    def client(self, service: str) -> Any:
        env = self.environment()
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )

    def put_secret(self, value: str | dict[str, Any], secret_id: str = SECRET_ID) -> None:
        """Create or replace the secret's value (a dict is stored as JSON)."""
        text = value if isinstance(value, str) else json.dumps(value)
        client = self.client("secretsmanager")
        try:
            client.put_secret_value(SecretId=secret_id, SecretString=text)
        except client.exceptions.ResourceNotFoundException:
            client.create_secret(Name=secret_id, SecretString=text)

    def create_idempotency_table(self, name: str = IDEMPOTENCY_TABLE) -> None:
        """The table as the template declares it: partition key `id`, TTL on `expiration`."""
        client = self.client("dynamodb")
        client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
        )

    def create_retry_queues(self, max_receive_count: int, name: str = RETRY_QUEUE) -> tuple[str, str]:
        """The queue and its dead-letter queue, as the template declares them; their URLs."""
        sqs = self.client("sqs")
        dead_letters = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})
        queue = sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": policy, "VisibilityTimeout": "60"})
        return str(queue["QueueUrl"]), str(dead_letters)

    def empty_queues(self, name: str = RETRY_QUEUE) -> tuple[str, str]:
        """Purge both queues, messages in flight too (this server allows a purge at any time); their URLs."""
        sqs = self.client("sqs")
        urls = [str(sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]) for queue_name in (name, f"{name}-dlq")]
        for url in urls:
            sqs.purge_queue(QueueUrl=url)
        return urls[0], urls[1]

    def create_refused_bucket(self, name: str = REFUSED_BUCKET, retention_days: int = REFUSED_RETENTION_DAYS) -> str:
        """The kept refusals' bucket as the template declares it: SSE-KMS under a key of its own with rotation,
        public access blocked, objects expiring after `retention_days`. The key's ARN."""
        key = self.client("kms").create_key(Description="owner-webhook kept refusals")["KeyMetadata"]["Arn"]
        self.client("kms").enable_key_rotation(KeyId=key)
        s3 = self.client("s3")
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
        blocked = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=dict.fromkeys(blocked, True))
        rule = {"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": retention_days}}
        s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [rule]})
        return str(key)

    def kept_refusals(self, name: str = REFUSED_BUCKET) -> dict[str, dict[str, Any]]:
        """Every object of the bucket by its name: its body (parsed), metadata and encryption."""
        s3 = self.client("s3")
        found = {}
        for listed in s3.list_objects_v2(Bucket=name).get("Contents", []):
            got = s3.get_object(Bucket=name, Key=listed["Key"])
            found[listed["Key"]] = {
                "body": json.loads(got["Body"].read()),
                "metadata": got["Metadata"],
                "encryption": (got.get("ServerSideEncryption"), got.get("SSEKMSKeyId")),
            }
        return found

    def empty_bucket(self, name: str = REFUSED_BUCKET) -> None:
        s3 = self.client("s3")
        for listed in s3.list_objects_v2(Bucket=name).get("Contents", []):
            s3.delete_object(Bucket=name, Key=listed["Key"])

    def clear_table(self, name: str = IDEMPOTENCY_TABLE) -> None:
        client = self.client("dynamodb")
        for item in client.scan(TableName=name, ProjectionExpression="id")["Items"]:
            client.delete_item(TableName=name, Key={"id": item["id"]})

    def table_items(self, name: str = IDEMPOTENCY_TABLE) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.client("dynamodb").scan(TableName=name)["Items"]
        return items

    def dynamodb_calls(self) -> int:
        """How many DynamoDB API calls this server has answered."""
        return sum(n for target, n in self.calls.items() if target.startswith("DynamoDB_"))

    def secret_reads(self) -> int:
        """How many GetSecretValue calls this server has answered."""
        return self.count("secretsmanager.GetSecretValue")
