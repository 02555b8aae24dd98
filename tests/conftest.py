"""Shared by every tier: which code is under test, and clean caches between tests."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# Every run draws the same examples, with no deadline (Hypothesis's own CI profile, whether or not the
# machine says it is CI): a failure in CI is the one a clone reproduces, and a slow machine fails nothing.
settings.load_profile("ci")

# `make artifact-test` runs the integration tests against the `sam build` output instead of src/, with
# the dependencies bundled there, so a runtime dependency missing from src/requirements.txt fails here.
ARTIFACT = os.environ.get("OWNER_WEBHOOK_ARTIFACT")
if ARTIFACT:
    if not (Path(ARTIFACT) / "owner_webhook" / "handler.py").is_file():
        raise SystemExit(f"OWNER_WEBHOOK_ARTIFACT={ARTIFACT} holds no built function: run `make build`")
    sys.path.insert(0, ARTIFACT)

import owner_webhook  # noqa: E402 - after the artifact switch above

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"


def first(found: Iterable[Any]) -> str | None:
    """The text of the first value a source's phone places hold (what a delivery tries first), or None."""
    return next((one.text for one in found), None)


def pytest_report_header() -> str:
    return f"owner_webhook under test: {Path(owner_webhook.__file__).parent}"


@pytest.fixture(autouse=True)
def _fresh_function() -> Iterator[None]:
    """Every test starts as a cold function: settings, secret cache and connection pool built anew."""
    from owner_webhook import sources, wiring

    wiring.parts.cache_clear()
    sources.load.cache_clear()
    yield
    wiring.parts.cache_clear()
    sources.load.cache_clear()
