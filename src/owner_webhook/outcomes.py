"""Every outcome, defined once: its code, the answer each kind of sender gets, its metric, its meaning.

The tables of docs/answers.md and docs/operations.md are this table in prose; tests keep them in step. A request
or a queued message ends in exactly one outcome (`Result`), which the entry points log and count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# Typeform retries a 503 every 2-3 minutes whatever this says; others honour it. One minute lets a
# short gateway blip pass without hammering it.
DEFAULT_RETRY_AFTER = 60


@dataclass(frozen=True, eq=False)  # each is one of the constants below: compared by identity
class Outcome:
    code: str
    metric: str
    meaning: str
    status: int = 503  # what a sender that does not acknowledge refusals (zapier, generic) gets
    # A submission that can never succeed. Senders that count every non-2xx toward disabling the webhook
    # (the form tools: Typeform, Tally, Webflow, Jotform) acknowledge refusals: they get 200 (`success` false).
    refusal: bool = False
    retry_after: int | None = None  # seconds, for the answers that ask the sender to come back
    body: MappingProxyType[str, Any] | None = None  # a success's body; None: a failure with its code
    # Metrics this failure carries into whatever it ends in (answered, queued, retried by the forwarder).
    signals: tuple[str, ...] = ()
    # An authenticated delivery that ends so is kept to be replayed once the recipe or setting is fixed
    # (refusals.py): it ends without an owner and is not queued, and a retry of it would end the same.
    kept: bool = False

    def status_for(self, acknowledges_refusals: bool) -> int:
        return 200 if acknowledges_refusals and self.refusal else self.status


def _success(code: str, metric: str, meaning: str, **body: Any) -> Outcome:
    return Outcome(code, metric, meaning, 200, body=MappingProxyType({"success": True, **body}))


def _refusal(code: str, meaning: str) -> Outcome:
    return Outcome(code, "PhoneRefused", meaning, 422, refusal=True, kept=True)


def _malformed(code: str, status: int, meaning: str, *, kept: bool = False) -> Outcome:
    return Outcome(code, "MalformedRequest", meaning, status, kept=kept)


def _transient(code: str, metric: str, meaning: str, *signals: str) -> Outcome:
    return Outcome(code, metric, meaning, 503, retry_after=DEFAULT_RETRY_AFTER, signals=signals)


# Forwarded, or not needed.
OWNER_CREATED = _success("owner_created", "OwnerCreated", "the gateway created the owner")
PHONE_EXISTING = _success(
    "phone_existing", "PhoneExisting", "the phone's owner was created for an earlier delivery", existing=True
)
QUEUED = _success("queued", "Queued", "the gateway failed for now; the delivery waits in the retry queue", queued=True)
IGNORED = _success(
    "ignored",
    "Ignored",
    "an event the recipe does not take (its event filter), or a sender's unsigned test ping: never forwarded, "
    "queued or remembered",
    ignored=True,
)
CREATED_UNRECORDED = _success(
    "owner_created_unrecorded",
    "AmbiguousForward",  # counted with the possible duplicates
    "the owner was created but the deduplication table failed to record it",
)
# Refused: resending cannot help.
MISSING_PHONE = _refusal("missing_phone", "no phone in the payload")
INVALID_PHONE = _refusal("invalid_phone", "the phone is not a valid number")
REJECTED_PHONE = _refusal("rejected_phone", "the gateway refused the phone (its 400, 409, 422 or another 4xx)")
UNAUTHENTICATED = Outcome("unauthenticated", "Unauthenticated", "signature or token missing or wrong", 401)
MALFORMED_BODY = _malformed("malformed_body", 400, "body not parseable", kept=True)
UNSUPPORTED_MEDIA_TYPE = _malformed("unsupported_media_type", 415, "content type the source does not send", kept=True)
PAYLOAD_TOO_LARGE = _malformed("payload_too_large", 413, "body over MAX_BODY_BYTES")
UNKNOWN_SOURCE = _malformed("unknown_source", 404, "no source by that name")
METHOD_NOT_ALLOWED = _malformed("method_not_allowed", 405, "not POST")
NOT_FOUND = _malformed("not_found", 404, "a path other than /webhooks/{source}")
UNSUPPORTED_EVENT = _malformed("unsupported_event", 400, "an invocation that is not an API Gateway request")
IN_PROGRESS = Outcome(
    "in_progress",
    "DuplicateInProgress",
    "the delivery, or its phone's owner, is being handled right now",
    409,
    retry_after=10,
)
# Transient: answered 503 with Retry-After, so that the sender tries again.
UPSTREAM_UNAVAILABLE = _transient(
    "upstream_unavailable", "UpstreamFailure", "the gateway answered 429/5xx or was unreachable"
)
UPSTREAM_AMBIGUOUS = _transient(
    "upstream_ambiguous",
    "AmbiguousForward",
    "the gateway may have received the request but did not answer",
    "AmbiguousForward",  # a possible duplicate, also when it is queued or retried
)
UPSTREAM_AUTH = _transient(
    "upstream_auth", "UpstreamFailure", "the gateway refused the key, even fresh", "GatewayKeyRefused"
)
UPSTREAM_MISDIRECTED = _transient(
    "upstream_misdirected",
    "UpstreamFailure",
    "the gateway answered a redirect, 404 or 405: its address or method is wrong; nothing was created",
    "GatewayMisdirected",
)
OUT_OF_TIME = _transient("out_of_time", "OutOfTime", "too little of the invocation's time was left for the next step")
AT_CEILING = _transient(
    "at_ceiling",
    "AtCeiling",
    "every forwarder instance was busy (the gateway's ceiling), or the gateway had asked to wait",
)
SECRET_STORE_UNAVAILABLE = _transient("secret_store_unavailable", "DependencyFailure", "Secrets Manager unreachable")
DEDUPLICATION_UNAVAILABLE = _transient(
    "deduplication_unavailable", "DependencyFailure", "the deduplication table is unavailable"
)
RETRY_QUEUE_UNAVAILABLE = _transient(
    "retry_queue_unavailable", "DependencyFailure", "the retry queue could not take the delivery (QUEUE_EVERY_DELIVERY)"
)
FORWARDER_UNAVAILABLE = _transient(
    "forwarder_unavailable", "DependencyFailure", "the forwarder function could not be invoked"
)
INTERNAL_ERROR = _transient("internal_error", "InternalError", "a bug: the log line names the error's type and place")
# The configuration: 503 so that nothing is lost while it is fixed.
INVALID_SETTING = _transient("invalid_setting", "ConfigurationError", "an environment variable is missing or invalid")
SECRET_NOT_FOUND = _transient("secret_not_found", "ConfigurationError", "the secret cannot be read")
SECRET_MALFORMED = _transient("secret_malformed", "ConfigurationError", "the secret is not the documented JSON")
API_KEY_MISSING = _transient("api_key_missing", "ConfigurationError", "the secret has no api_key")
API_KEY_INVALID = _transient("api_key_invalid", "ConfigurationError", "the api_key cannot be an HTTP header value")
WEBHOOK_SECRET_INVALID = _transient(
    "webhook_secret_invalid", "ConfigurationError", "this source's webhook secret would let anyone in"
)
PHONE_KEY_MALFORMED = _transient("phone_key_malformed", "ConfigurationError", "the phone key is missing or short")
# The forwarder's own (no HTTP answer: a message is drained, retried later, or dropped).
DRAINED = Outcome("drained", "Drained", "the forwarder created a queued delivery's owner", 200)
RETRY_LATER = Outcome("retry_later", "RetryLater", "a forwarder attempt failed; the message comes back later", 503)
DEAD_LETTERED = Outcome("dead_lettered", "DeadLettered", "the last attempt failed: the dead-letter queue", 503)
MALFORMED_MESSAGE = Outcome("malformed_message", "MalformedRequest", "a message this function did not write", 400)
DUPLICATE_REPLAYED = Outcome("duplicate_replayed", "DuplicateReplayed", "a delivery already answered, again", 200)
# A check of a sender's setup: 200 for every sender, so that a test button shows what would happen.
DRY_RUN = Outcome(
    "dry_run",
    "DryRun",
    "`?dry_run=1`: authenticated, read and normalized, answered with what would happen; never forwarded, "
    "queued or remembered",
    200,
    body=MappingProxyType({"success": True, "dry_run": True}),  # `success`: whether the delivery would succeed
)

ALL: dict[str, Outcome] = {o.code: o for o in globals().values() if isinstance(o, Outcome)}


@dataclass(frozen=True)
class Result:
    """What happened to one request or message: its outcome, and what the log line says about it."""

    outcome: Outcome
    message: str | None = None  # a failure's message for the sender (never personal data)
    retry_after: int | None = None  # the gateway's own Retry-After, when it gave one
    replayed: bool = False  # the stored answer to an earlier delivery of the same id
    acknowledges_refusals: bool = False  # the sender gets 200 for a refusal (see Outcome.refusal)
    fields: dict[str, Any] = field(default_factory=dict)  # for the log line: source, delivery id, gateway...
    also: tuple[str, ...] = ()  # metrics counted besides the outcome's: some of ALSO_METRICS
    details: dict[str, Any] = field(default_factory=dict)  # more of the body (a dry run's findings)

    @property
    def code(self) -> str:
        return self.outcome.code

    @property
    def status(self) -> int:
        return self.outcome.status_for(self.acknowledges_refusals)

    @property
    def body(self) -> dict[str, Any]:
        if self.outcome.body is not None:
            return {**self.outcome.body, **self.details}
        return {"success": False, "error": {"code": self.code, "message": self.message or self.outcome.meaning}}

    @property
    def headers(self) -> dict[str, str]:
        seconds = self.retry_after or self.outcome.retry_after
        return {"Retry-After": str(seconds)} if seconds else {}

    def to_lambda(self) -> dict[str, Any]:
        """The proxy-integration response; the same form serves REST API, HTTP API and Function URLs."""
        return {
            "statusCode": self.status,
            "headers": {"Content-Type": "application/json", **self.headers},
            "body": json.dumps(self.body, separators=(",", ":")),
            "isBase64Encoded": False,
        }


# Every metric counted beside an outcome's own: possible duplicates, signups likely lost, a key refused, a
# gateway address that is wrong, a refusal that could not be kept.
ALSO_METRICS = frozenset(
    {"DeliveryIdReused", "AmbiguousForward", "LikelyLost", "GatewayKeyRefused", "GatewayMisdirected", "RefusalNotKept"}
)
