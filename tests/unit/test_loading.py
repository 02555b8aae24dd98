"""`loading()`: no cyclic collection while a handler's modules load, and the collector back after."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import owner_webhook
from owner_webhook import loading


@pytest.fixture
def collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_collection_pauses_inside_and_resumes_after(collector_on: None) -> None:
    frozen = gc.get_freeze_count()
    with loading():
        assert not gc.isenabled()
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen


def test_collection_resumes_when_an_import_fails(collector_on: None) -> None:
    with pytest.raises(ImportError), loading():
        raise ImportError("no module named 'missing'")
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off(collector_on: None) -> None:
    gc.disable()
    with loading():
        pass
    assert not gc.isenabled()


@pytest.mark.parametrize("module", ["owner_webhook.handler", "owner_webhook.worker"])
def test_a_fresh_handler_import_leaves_the_collector_on_and_the_modules_frozen(module: str) -> None:
    code = f"import gc, {module}; print(gc.isenabled(), gc.get_freeze_count() > 10_000)"
    package_root = str(Path(owner_webhook.__file__).parent.parent)  # src/, or the built artifact
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": package_root},
        timeout=60,
    )
    assert done.stdout.split() == ["True", "True"]
