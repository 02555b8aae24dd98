"""A source's entry in `webhook_secrets`: one secret or several (any one verifies), and what else it says."""

from __future__ import annotations

from typing import NamedTuple


class WebhookSecret(NamedTuple):
    # Two while a secret is rotated: the old one until the sender signs with the new one.
    values: tuple[str, ...]
    # The public URL the sender calls, for a recipe whose signature covers it (HubSpot); None: as the
    # request arrived.
    url: str | None = None

    @classmethod
    def of(cls, *values: str, url: str | None = None) -> WebhookSecret:
        return cls(tuple(values), url)
