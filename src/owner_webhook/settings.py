"""All configuration, read from the environment once and validated; errors name the variable."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import phonenumbers

from owner_webhook.budget import minimum_timeout
from owner_webhook.errors import SettingError
from owner_webhook.sources import names

# The gateway's ceiling by default (the template's GatewayConcurrency and GatewayRatePerSecond).
GATEWAY_CONCURRENCY = 10
GATEWAY_RATE_PER_SECOND = 20.0
# How long the gateway is assumed to go on working on a call whose answer the forwarder stopped waiting for
# (GatewayAbandonedCallSeconds); at most what the forwarder's 60 s timeout can hold after a forward.
GATEWAY_ABANDONED_CALL_SECONDS = 30.0
MAX_ABANDONED_CALL_SECONDS = 40.0
# A function's name, or its full or partial ARN, as Lambda's Invoke API takes it.
_FUNCTION = re.compile(
    r"(arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:)?([0-9]{12}:)?(function:)?[a-zA-Z0-9_-]{1,64}(:[a-zA-Z0-9$_-]+)?"
)
# S3's rule for a bucket's name (general purpose buckets), and the longest a refusal may be kept.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
MAX_RETENTION_DAYS = 365
# The shortest memory that still stops a replay: Tally retries for 31 h, signatures allow 5 minutes.
MIN_WINDOW = 31 * 3600 + 300


@dataclass(frozen=True)
class Settings:
    api_key_secret_id: str
    gateway_base_url: str = "https://pgw.klogs.io"
    default_phone_region: str = "TR"
    secret_max_age: int = 300
    max_body_bytes: int = 256 * 1024
    # Worst case without a Retry-After: three connect attempts (1 s each) and one read (5 s) = 8 s.
    gateway_connect_timeout: float = 1.0
    gateway_read_timeout: float = 5.0
    forward_budget: float = 8.0  # Tally gives up after 10 s
    typeform_phone_ref: str | None = None
    idempotency_table: str | None = None
    idempotency_ttl: int = 72 * 3600  # longer than Tally's 31 h and Typeform's 10 h of retries
    phone_deduplication: int = 7 * 86_400  # 0: one owner per delivery only
    phone_key_secret_id: str | None = None
    retry_queue_url: str | None = None
    queue_sources: frozenset[str] | None = None  # None: every source
    retry_delay: int = 60  # the forwarder's first wait; it doubles up to 15 minutes
    max_receive_count: int = 16  # as the queue's redrive policy: then the dead-letter queue
    function_timeout: float = 10.0  # the function's Timeout in the template: Tally gives up after 10 s
    # The webhook invokes this function (the forwarder) to forward; None: it forwards in its own process.
    forwarder_function: str | None = None
    # Every delivery goes to the retry queue, and only the forwarder's queue event source forwards: for an
    # account whose concurrency quota leaves none to reserve for the forwarder (the template's QueueEveryDelivery).
    queue_every_delivery: bool = False
    # The gateway's ceiling, set on the forwarder function only: at most GATEWAY_CONCURRENCY instances
    # (its reserved concurrency), each keeping its share of the rate. None: this function is not paced.
    gateway_concurrency: int | None = None
    gateway_rate: float | None = None
    gateway_abandoned_call: float = GATEWAY_ABANDONED_CALL_SECONDS
    # Kept refusals (refusals.py): the S3 bucket, and how long it keeps them (0: nothing is kept).
    refused_bucket: str | None = None
    refused_retention_days: int = 14

    @property
    def keeps_refusals(self) -> bool:
        return self.refused_bucket is not None and self.refused_retention_days > 0

    @property
    def owner_url(self) -> str:
        return self.gateway_base_url.rstrip("/") + "/owner"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings; raises SettingError naming the variable that is missing or invalid."""
    env = os.environ if environ is None else environ
    secret_id = env.get("API_KEY_SECRET_ID", "").strip()
    if not secret_id:
        raise SettingError("API_KEY_SECRET_ID is not set: name the Secrets Manager secret (name or ARN)")
    table = env.get("IDEMPOTENCY_TABLE", "").strip() or None
    idempotency_ttl = int(_number(env, "IDEMPOTENCY_TTL_SECONDS", Settings.idempotency_ttl, MIN_WINDOW, 366 * 86_400))
    phone_deduplication = _phone_deduplication(env, table, idempotency_ttl)
    phone_key_secret_id = env.get("PHONE_KEY_SECRET_ID", "").strip() or None
    if table and phone_key_secret_id is None:
        raise SettingError(
            "PHONE_KEY_SECRET_ID is not set: with IDEMPOTENCY_TABLE, phones are stored only as an HMAC under the "
            "key in that secret (the template generates it)"
        )
    retry_queue_url = _optional_url(env, "RETRY_QUEUE_URL")
    function_timeout = _number(env, "FUNCTION_TIMEOUT_SECONDS", Settings.function_timeout, 1, 900)
    shortest = minimum_timeout(queue=retry_queue_url is not None)
    if function_timeout < shortest:
        raise SettingError(
            f"FUNCTION_TIMEOUT_SECONDS ({function_timeout:g}) is too short for a claim, a forward and what follows "
            f"it{' (queueing the delivery)' if retry_queue_url else ''}: at least {shortest:g} s"
        )
    queue_every_delivery = _flag(env, "QUEUE_EVERY_DELIVERY")
    if queue_every_delivery and retry_queue_url is None:
        raise SettingError("QUEUE_EVERY_DELIVERY=true needs RETRY_QUEUE_URL: every delivery waits in that queue")
    return Settings(
        api_key_secret_id=secret_id,
        gateway_base_url=_url(env, "GATEWAY_BASE_URL", Settings.gateway_base_url),
        default_phone_region=_region(env, "DEFAULT_PHONE_REGION", Settings.default_phone_region),
        secret_max_age=int(_number(env, "SECRET_CACHE_SECONDS", Settings.secret_max_age, 0, 86_400)),
        max_body_bytes=int(_number(env, "MAX_BODY_BYTES", Settings.max_body_bytes, 1, 6 * 1024 * 1024)),
        gateway_connect_timeout=_number(env, "GATEWAY_CONNECT_TIMEOUT", Settings.gateway_connect_timeout, 0.05, 10),
        gateway_read_timeout=_number(env, "GATEWAY_READ_TIMEOUT", Settings.gateway_read_timeout, 0.05, 25),
        forward_budget=_number(env, "FORWARD_BUDGET_SECONDS", Settings.forward_budget, 0.5, 25),
        typeform_phone_ref=env.get("TYPEFORM_PHONE_REF", "").strip() or None,
        idempotency_table=table,
        idempotency_ttl=idempotency_ttl,
        phone_deduplication=phone_deduplication,
        phone_key_secret_id=phone_key_secret_id,
        retry_queue_url=retry_queue_url,
        queue_sources=_sources(env, "QUEUE_SOURCES"),
        retry_delay=int(_number(env, "RETRY_DELAY_SECONDS", Settings.retry_delay, 0, 900)),
        max_receive_count=int(_number(env, "MAX_RECEIVE_COUNT", Settings.max_receive_count, 1, 1000)),
        function_timeout=function_timeout,
        forwarder_function=_function_name(env, "FORWARDER_FUNCTION"),
        refused_bucket=_bucket(env, "REFUSED_BUCKET"),
        refused_retention_days=int(
            _number(env, "REFUSED_RETENTION_DAYS", Settings.refused_retention_days, 0, MAX_RETENTION_DAYS)
        ),
        queue_every_delivery=queue_every_delivery,
        **_ceiling(env),
    )


def _ceiling(env: Mapping[str, str]) -> dict[str, Any]:
    """The gateway's ceiling when either variable is set (the template sets both, on the forwarder)."""
    if not (env.get("GATEWAY_CONCURRENCY", "").strip() or env.get("GATEWAY_RATE_PER_SECOND", "").strip()):
        return {}
    concurrency = int(_number(env, "GATEWAY_CONCURRENCY", GATEWAY_CONCURRENCY, 1, 1000))
    rate = _number(env, "GATEWAY_RATE_PER_SECOND", GATEWAY_RATE_PER_SECOND, 0.01, 100_000)
    if rate < concurrency:
        # Each instance keeps its own pace: below one call a second each, all of them could still call in the
        # same second, so the rate could not be kept.
        raise SettingError(
            f"GATEWAY_RATE_PER_SECOND ({rate:g}) must be at least GATEWAY_CONCURRENCY ({concurrency}): each "
            "forwarder instance needs one whole call a second; lower GatewayConcurrency to the rate"
        )
    return {
        "gateway_concurrency": concurrency,
        "gateway_rate": rate,
        "gateway_abandoned_call": _number(
            env, "GATEWAY_ABANDONED_CALL_SECONDS", GATEWAY_ABANDONED_CALL_SECONDS, 0, MAX_ABANDONED_CALL_SECONDS
        ),
    }


def _phone_deduplication(env: Mapping[str, str], table: str | None, delivery_window: int) -> int:
    raw = env.get("PHONE_DEDUPLICATION_SECONDS", "").strip()
    value = _number(env, "PHONE_DEDUPLICATION_SECONDS", Settings.phone_deduplication, 0, 366 * 86_400)
    if value == 0:
        return 0
    seconds = int(value)
    if table is None:
        if raw:
            raise SettingError("PHONE_DEDUPLICATION_SECONDS needs IDEMPOTENCY_TABLE (the phone records are kept there)")
        return 0
    if seconds < max(MIN_WINDOW, delivery_window):
        raise SettingError(
            f"PHONE_DEDUPLICATION_SECONDS must be 0 or at least IDEMPOTENCY_TTL_SECONDS ({delivery_window}) and "
            f"{MIN_WINDOW} (Tally's 31 h of retries and the 5-minute signature tolerance), got {raw!r}"
        )
    return seconds


def _function_name(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    if value and not _FUNCTION.fullmatch(value):
        raise SettingError(f"{name} must be a Lambda function's name or ARN, got {value!r}")
    return value or None


def _bucket(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    if value and not _BUCKET.fullmatch(value):
        raise SettingError(f"{name} must be an S3 bucket's name, got {value[:80]!r}")
    return value or None


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value not in ("", "true", "false"):
        raise SettingError(f"{name} must be true or false, got {value!r}")
    return value == "true"


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise SettingError(f"{name} must be an http(s) base URL such as https://pgw.example.com, got {value!r}")
    return value


def _optional_url(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return _url(env, name, value) if value else None


def _sources(env: Mapping[str, str], name: str) -> frozenset[str] | None:
    value = env.get(name, "").strip().lower()
    if value in ("", "all", "*"):
        return None
    if value == "none":
        return frozenset()
    chosen = frozenset(part.strip() for part in value.split(",") if part.strip())
    known = names()
    unknown = chosen - set(known)
    if unknown:
        raise SettingError(
            f"{name} names unknown sources {sorted(unknown)}; use all, none or some of {', '.join(known)}"
        )
    return chosen


def _region(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip().upper() or default
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise SettingError(
            f"{name} must be an ISO 3166 region code that phonenumbers knows (TR, US, GB, ...), got {value!r}"
        )
    return value


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingError(f"{name} must be between {low:g} and {high:g}, got {raw!r}")
    return value
