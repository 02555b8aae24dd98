"""Each requirements list is installed from its lock, which pins it with hashes: the two stay in step.

A list edited without `make lock` fails here, before an install quietly leaves the new package out.

The promise: docs/development.md, "Dependencies".
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)")


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def listed(path: Path) -> dict[str, str]:
    """The pins a person wrote, following `-r` includes."""
    pins: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#")[0].strip()
        if line.startswith("-r "):
            pins |= listed(path.parent / line[3:].strip())
        elif match := PIN.match(line):
            pins[normal(match[1])] = match[2]
        else:
            assert not line, f"{path.name}: not an exact pin: {line!r}"
    return pins


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """Each package of a lock: its version and how many hashes it carries."""
    entries: dict[str, tuple[str, int]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", path.read_text()):
        if match := PIN.match(block):
            entries[normal(match[1])] = (match[2].rstrip("\\").split(";")[0], block.count("--hash=sha256:"))
    return entries


@pytest.mark.parametrize(
    ("human", "lock", "exact"),
    [
        ("src/requirements.txt", "src/requirements.lock", True),  # the bundle: installed --no-deps
        ("requirements-runtime.txt", "requirements-runtime.lock", True),  # the runtime: installed --no-deps
        ("requirements-dev.txt", "requirements-dev.lock", False),  # the tools, with their dependencies
        ("requirements-scan.txt", "requirements-scan.lock", False),  # make scan's checkov, in its own environment
        ("requirements-deploy.txt", "requirements-deploy.lock", False),  # make deploy-check's emulator, likewise
    ],
)
def test_every_list_is_locked_with_hashes(human: str, lock: str, exact: bool) -> None:
    wanted = listed(ROOT / human)
    pinned = locked(ROOT / lock)
    stale = {name: version for name, version in wanted.items() if pinned.get(name, ("",))[0] != version}
    assert not stale, f"{human} and {lock} differ on {stale}: run `make lock`"
    if exact:
        assert set(pinned) == set(wanted), f"{lock} has more than {human}: run `make lock`"
    assert all(hashes for _, hashes in pinned.values()), f"{lock}: a package without its hashes"


def test_bare_make_lists_the_targets_and_changes_nothing() -> None:
    # As a person types it: not as a sub-make of `make test`, which would print the directories it enters.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    run = functools.partial(subprocess.run, cwd=ROOT, capture_output=True, text=True, check=True, env=env)
    dry = run(["make", "-n"]).stdout
    assert "sandbox" not in dry and "pip" not in dry  # only the help's own awk
    shown = run(["make"]).stdout
    lines = shown.splitlines()
    assert lines[0].startswith("make demo ") and lines[1].startswith("make test ")
    for target in ("build", "lock", "help", "events", "bench", "lint"):
        assert any(line.startswith(f"make {target} ") for line in lines), target
