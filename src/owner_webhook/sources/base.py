"""What every webhook source implements. Adding a sender is one module and one line in the registry."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from owner_webhook.request import WebhookRequest


class Source(Protocol):
    name: str
    # Form tools count every non-2xx toward disabling the webhook, so a submission that can never
    # succeed is acknowledged (200, success false) instead of refused with 422.
    acknowledges_refusals: bool
    # Whether the sender retries a delivery answered 5xx: one that never does (Jotform, Zapier without
    # Autoreplay) is queued where a retrying one may wait, and its 5xx is counted as likely lost.
    retries: bool

    def verify(self, request: WebhookRequest, secret: str) -> None:
        """Check the signature or token; raises UnauthenticatedError."""

    def read(self, request: WebhookRequest) -> Mapping[str, Any]:
        """The payload's fields; raises MalformedBodyError or UnsupportedMediaTypeError."""

    def find_phone(self, payload: Mapping[str, Any]) -> str | None:
        """The phone as the sender wrote it, or None when the payload has none."""

    def delivery_id(self, request: WebhookRequest, payload: Mapping[str, Any]) -> str:
        """The sender's id for this delivery, the same on every retry of it."""
