"""The registry of webhook sources, by the name in the route /webhooks/{source}."""

from __future__ import annotations

from owner_webhook.errors import UnknownSourceError
from owner_webhook.sources.base import Source
from owner_webhook.sources.generic import Generic
from owner_webhook.sources.zapier import Zapier

__all__ = ["SOURCES", "Source", "get_source"]

SOURCES: dict[str, Source] = {source.name: source for source in (Zapier(), Generic())}


def get_source(name: str) -> Source:
    """The source registered under `name`; raises UnknownSourceError."""
    try:
        return SOURCES[name]
    except KeyError:
        raise UnknownSourceError(
            f"no webhook source is named {name[:40]!r}; known: {', '.join(sorted(SOURCES))}"
        ) from None
