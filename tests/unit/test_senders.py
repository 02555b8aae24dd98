"""Adding a source to the registry is all the sandbox needs: each source's sender is found by its name."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import pytest

from owner_webhook.sources import NAMES
from sandbox import senders
from sandbox.aws import LOCAL_SECRET
from sandbox.events import HttpRequest


def test_the_senders_are_the_registrys_sources_in_its_order() -> None:
    assert senders.SOURCES == NAMES
    modules = {m.name for m in pkgutil.iter_modules([str(Path(senders.__file__).parent)]) if m.name[0] != "_"}
    assert modules == set(NAMES), "one sandbox/senders/<source>.py per source of the registry, no other"


def test_the_local_secret_has_every_sources_secret() -> None:
    assert LOCAL_SECRET["webhook_secrets"] == {name: senders.sender(name).SECRET for name in NAMES}
    assert len(set(LOCAL_SECRET["webhook_secrets"].values())) == len(NAMES)  # none shared


@pytest.mark.parametrize("source", NAMES)
def test_each_sender_builds_signs_and_retries(source: str) -> None:
    sender = senders.sender(source)
    assert isinstance(sender.SECRET, str) and sender.SECRET.startswith("local-")
    assert isinstance(sender.TIMED, bool)
    body, headers = sender.payload("0555 123 45 67", "delivery-1")
    assert body and headers["content-type"]
    assert b"0555 123 45 67" in body or b"0555+123+45+67" in body
    unsigned = HttpRequest("POST", f"/webhooks/{source}", body, headers)
    signed = senders.sign(source, unsigned, sender.SECRET, now=1_700_000_000)
    assert (signed.headers, signed.query) != (unsigned.headers, unsigned.query)  # it authenticates somehow
    assert signed.body == body
    assert senders.is_timed(source, signed) is (sender.TIMED or "webhook-timestamp" in signed.headers)
    assert all(sender.attempts(status) >= 1 for status in (409, 429, 500, 503))


@pytest.mark.parametrize("name", ["attacker", "_common", "__init__", "../aws", ""])
def test_a_name_without_a_sender_is_refused(name: str) -> None:
    with pytest.raises(LookupError):
        senders.sender(name)
