"""What every webhook source implements. Most are a recipe (recipe.py); a sender is one recipe in presets.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from owner_webhook.request import WebhookRequest
from owner_webhook.sources.fields import Found
from owner_webhook.sources.secret import WebhookSecret


class Source(Protocol):
    name: str
    # Form tools count every non-2xx toward disabling the webhook, so a submission that can never
    # succeed is acknowledged (200, success false) instead of refused with 422.
    acknowledges_refusals: bool
    # Whether the sender retries a delivery answered 5xx: one that never does (Jotform, Zapier without
    # Autoreplay) is queued where a retrying one may wait, and its 5xx is counted as likely lost.
    retries: bool

    def verify(self, request: WebhookRequest, secret: WebhookSecret) -> None:
        """Check the signature or token with any one of the secret's values; raises UnauthenticatedError."""

    def read(self, request: WebhookRequest) -> Mapping[str, Any]:
        """The payload's fields; raises MalformedBodyError or UnsupportedMediaTypeError."""

    def accepts(self, request: WebhookRequest, payload: Callable[[], Mapping[str, Any]]) -> bool:
        """Whether this is an event the source takes; False (a test ping, an event its filter leaves out): ignored.
        `payload` reads the fields when the filter needs them (a header names the event: the body is not read)."""

    def phones(self, payload: Mapping[str, Any]) -> Iterator[Found]:
        """Each value that may be the phone, as the sender wrote it, in order: the first valid number is used."""

    def phone_region(self, payload: Mapping[str, Any]) -> str | None:
        """The region the payload states for the phone (an address's country), or None: the default region."""

    def delivery_id(self, request: WebhookRequest, payload: Mapping[str, Any]) -> str:
        """The sender's id for this delivery, the same on every retry of it."""
