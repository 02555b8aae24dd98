"""The registry of webhook sources, by the name in the route /webhooks/{source}."""

from __future__ import annotations

from collections.abc import Mapping

from owner_webhook.errors import UnknownSourceError
from owner_webhook.sources.base import Source
from owner_webhook.sources.generic import Generic
from owner_webhook.sources.jotform import Jotform
from owner_webhook.sources.tally import Tally
from owner_webhook.sources.typeform import Typeform
from owner_webhook.sources.webflow import Webflow
from owner_webhook.sources.zapier import Zapier

__all__ = ["NAMES", "Source", "get_source", "registry"]


def registry(typeform_phone_ref: str | None = None) -> dict[str, Source]:
    """Every source by its name in the route; a sender is one module and one line here."""
    sources: list[Source] = [Typeform(typeform_phone_ref), Tally(), Webflow(), Jotform(), Zapier(), Generic()]
    return {source.name: source for source in sources}


NAMES = tuple(registry())


def get_source(sources: Mapping[str, Source], name: str) -> Source:
    """The source registered under `name`; raises UnknownSourceError."""
    try:
        return sources[name]
    except KeyError:
        known = ", ".join(sorted(sources))
        raise UnknownSourceError(f"no webhook source by that name; known: {known}") from None
