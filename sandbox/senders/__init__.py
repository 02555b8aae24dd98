"""Requests as each sender builds and signs them, for any phone: the demo, the tests, the soaks, the benchmark
and `make send`.

Each route of the function's registry has its sender here: a module of the same name in this package (the
first six senders, written independently of the function's code), a preset's sample in samples/<source>.json,
or, for a recipe of your own, a sample built from its recipe; the last two are signed from the recipe
(_recipe.py, sandbox/signer.py). Each has `SECRET` (its local-only secret or token, sandbox/local_secrets.py),
`TIMED` (whether its signature covers a timestamp and so goes stale), `payload(phone, delivery_id)` (the body
and headers of one submission), `sign(request, secret, now)` (the request with the authentication it sends)
and `attempts(status)` (how many times in all it sends a delivery that keeps getting that status).
"""

from __future__ import annotations

import functools
import importlib
import time
import uuid
from typing import Any, Protocol, cast

from sandbox import local_secrets
from sandbox.events import HttpRequest


class Sender(Protocol):
    @property
    def SECRET(self) -> str: ...  # noqa: N802 - a module's constant, or a sample's property

    @property
    def TIMED(self) -> bool: ...  # noqa: N802

    def payload(self, phone: Any, delivery_id: str) -> tuple[bytes, dict[str, str]]: ...

    def sign(self, request: HttpRequest, secret: str, now: float) -> HttpRequest: ...

    def attempts(self, status: int) -> int: ...


def __getattr__(name: str) -> Any:
    # SOURCES, the registry's names in its order, read on first use: a process that hosts the built
    # artifact (make bench) imports this module before it imports the function from there.
    if name == "SOURCES":
        from owner_webhook.sources import NAMES

        return NAMES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def sender(source: str) -> Sender:
    """The sender of `source`: sandbox/senders/<source>.py, a preset's sample, or a recipe of your own's;
    raises LookupError."""
    from sandbox.senders import _recipe

    if source.isidentifier() and not source.startswith("_"):
        try:
            return _known(source)
        except LookupError:
            pass
    return _recipe.of_recipe(source)  # a route such as cal-com is no module's name


@functools.cache
def _known(source: str) -> Sender:
    from sandbox.senders import _recipe

    from_sample = _recipe.load(source)
    if from_sample is not None:
        return from_sample
    try:
        return cast(Sender, importlib.import_module(f"{__name__}.{source}"))
    except ModuleNotFoundError:
        raise LookupError(f"no sender is named {source!r}") from None


def local_secret(source: str) -> str:
    """The local-only secret of `source` (sandbox/local_secrets.py)."""
    from owner_webhook import sources

    return local_secrets.webhook_secret(source, sources.load(sources.RECIPES).get(source))


def payload(source: str, phone: Any, delivery_id: str) -> tuple[bytes, dict[str, str]]:
    """The body and headers `source` sends for one submission with this phone (None: no phone)."""
    return sender(source).payload(phone, delivery_id)


def sign(source: str, request: HttpRequest, secret: str, now: float | None = None) -> HttpRequest:
    """The request with the authentication `source` sends, made with `secret`."""
    headers = {name.lower(): value for name, value in request.headers.items()}
    plain = HttpRequest(request.method, request.path, request.body, headers, request.query)
    return sender(source).sign(plain, secret, time.time() if now is None else now)


def is_timed(source: str, request: HttpRequest) -> bool:
    """Whether the request's signature covers a timestamp (and so goes stale)."""
    try:
        timed = sender(source).TIMED
    except LookupError:
        timed = False
    return timed or "webhook-timestamp" in {name.lower() for name in request.headers}


def attempts(source: str, status: int) -> int:
    """How many times in all the real sender sends one delivery that keeps getting `status`."""
    return sender(source).attempts(status)


def request(
    source: str, phone: Any = "0555 123 45 67", delivery_id: str | None = None, secret: str | None = None
) -> HttpRequest:
    """A signed (or token-carrying) POST /webhooks/{source}, as the real sender would send it now."""
    body, headers = payload(source, phone, delivery_id or uuid.uuid4().hex)
    unsigned = HttpRequest("POST", f"/webhooks/{source}", body, headers)
    return sign(source, unsigned, secret if secret is not None else sender(source).SECRET)
