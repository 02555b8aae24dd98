"""No make target runs what its values contain, and no tool puts a whole phone on a command line
(docs/development.md, "Values given to make"): every target that takes a value (PHONE, STACK, ID, EVENT,
FUNCTION, REGION_CODE, ENDPOINT, ARCH, PYTHON, SERVE_ARGS, SOURCE, BODY, HEADERS, SECRET, URL, NAME, RECIPES, ...)
is run with values that would run commands if a shell or make read them; the programs the targets call are
recording stand-ins, so nothing else runs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

MAKE = shutil.which("make")
PHONE = "0555 123 45 67"
DIGITS = ("5551234567", "555 123 45 67", "+905551234567")


def hostile(marks: Path, name: str) -> str:
    """A value that creates a file in `marks` if make, or a shell, ever runs what it says."""
    ways = [
        f"`touch {marks}/{name}-backtick`",
        f"$(touch {marks}/{name}-dollar)",
        f"$$(touch {marks}/{name}-double-dollar)",
        f"$(shell touch {marks}/{name}-make-shell)",
        f"; touch {marks}/{name}-semicolon",
        f"| touch {marks}/{name}-pipe",
        f'" ; touch {marks}/{name}-double-quote ; "',
        f"' ; touch {marks}/{name}-single-quote ; '",
        f"\ntouch {marks}/{name}-newline",
    ]
    return f"{PHONE if name == 'PHONE' else 'x'} " + " ".join(ways)


# What each target takes; `-o build -o runtime`: invoke's prerequisites are not made again.
TARGETS = {
    "lookup": ["PHONE", "STACK", "REGION_CODE", "ENDPOINT"],
    "dead-letters": ["STACK", "ENDPOINT"],
    "redrive": ["STACK", "ID", "ENDPOINT"],
    "invoke": ["EVENT", "FUNCTION"],
    "build": ["ARCH", "PYTHON"],
    "serve": ["SERVE_ARGS", "RECIPES"],
    "send": ["SOURCE", "BODY", "HEADERS", "DRY_RUN", "SECRET", "URL", "RECIPES"],
    "check-recipe": ["NAME", "BODY", "HEADERS", "REGION_CODE", "RECIPES"],
    "local-secret": ["SOURCE", "SECRET", "KEEP_OLD", "API_KEY", "ENDPOINT"],
    "refused": ["STACK", "SOURCE", "SINCE", "ENDPOINT", "LAMBDA_ENDPOINT"],
    "preflight": ["STACK", "PARAMETERS", "CONFIG_ENV"],
    "replay-refused": ["STACK", "ID", "SOURCE", "SINCE", "DRY_RUN", "ENDPOINT", "LAMBDA_ENDPOINT"],
    ".venv/.installed": ["PYTHON"],
}
RECORDER = """#!{python}
import json, os, sys
names = {names!r}
with open({log!r}, "a") as log:
    log.write(json.dumps({{"argv": sys.argv, "env": {{n: os.environ.get(n) for n in names}}}}) + "\\n")
"""


@pytest.fixture
def stand_ins(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A BIN of recording stand-ins for python and sam: each writes its argv and the values' variables."""
    bin_dir, log = tmp_path / "bin", tmp_path / "calls.jsonl"
    bin_dir.mkdir()
    names = sorted({name for values in TARGETS.values() for name in values})
    for program in ("python", "sam"):
        path = bin_dir / program
        path.write_text(RECORDER.format(python=sys.executable, names=names, log=str(log)))
        path.chmod(0o755)
    yield bin_dir, log


def calls(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.parametrize(("target", "values"), TARGETS.items(), ids=list(TARGETS))
@pytest.mark.parametrize("given", ["command-line", "environment"])
def test_no_target_runs_what_its_values_contain(
    tmp_path: Path, stand_ins: tuple[Path, Path], target: str, values: list[str], given: str
) -> None:
    assert MAKE is not None
    bin_dir, log = stand_ins
    marks = tmp_path / "marks"
    marks.mkdir()
    given_values = {name: hostile(marks, name) for name in values}
    environment = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    arguments = [MAKE, "--no-print-directory", "-o", "build", "-o", "runtime", f"BIN={bin_dir}"]
    if target == ".venv/.installed":
        arguments += ["-W", "requirements-dev.lock"]  # as if the lock changed: the recipe that runs PYTHON
    if given == "command-line":
        arguments += [f"{name}={value}" for name, value in given_values.items()]
    else:
        environment |= given_values
    subprocess.run(
        [*arguments, target], cwd=ROOT, env=environment, stdin=subprocess.DEVNULL, capture_output=True, timeout=60
    )
    assert sorted(path.name for path in marks.iterdir()) == []  # nothing ran
    for call in calls(log):  # each value reached the program whole, as one word or one variable
        argv, env = call["argv"], call["env"]
        assert isinstance(argv, list) and isinstance(env, dict)
        for name, value in given_values.items():
            if name in env and env[name] is not None and name != "PYTHON":
                assert env[name] == value, name
        assert not any(digits in " ".join(argv) for digits in DIGITS)  # no phone on a command line
    if target in ("lookup", "dead-letters", "redrive", "serve", "send", "check-recipe", "local-secret"):
        assert calls(log), "the target called its program"
    if target == "build":  # sam build hands ARCH and PYTHON to src/Makefile, which would run them: refused first
        assert calls(log) == []


def test_make_build_hands_plain_values_to_sam_build(tmp_path: Path, stand_ins: tuple[Path, Path]) -> None:
    """A plain ARCH and PYTHON (a path) reach sam build in its environment, as src/Makefile reads them."""
    assert MAKE is not None
    bin_dir, log = stand_ins
    python = "/usr/local/bin/python3.13"
    environment = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    done = subprocess.run(
        [MAKE, "--no-print-directory", f"BIN={bin_dir}", "build", "ARCH=x86_64", f"PYTHON={python}"],
        cwd=ROOT,
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    [call] = calls(log)
    assert call["env"]["ARCH"] == "x86_64" and call["env"]["PYTHON"] == python  # type: ignore[index]


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A local port that takes connections and never answers: the tool waits there, for as long as we look."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def _command_lines(session: int) -> dict[int, str]:
    """The command line of every process of `session`: make and whatever it started (other processes on the
    machine are not this test's)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[3]) != session:  # after the name: state, ppid, pgrp, session
                continue
            found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue  # ended meanwhile
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads command lines from /proc (Linux)")
@pytest.mark.parametrize("given", ["environment", "asked"])
def test_make_lookup_puts_the_phone_on_no_command_line(silent_endpoint: str, given: str) -> None:
    """While `make lookup` runs (held by an endpoint that never answers), no process's command line holds
    the phone, given as PHONE=... in make's environment or typed at its question."""
    assert MAKE is not None
    environment = {**os.environ, **({"PHONE": PHONE} if given == "environment" else {})}
    environment.pop("PHONE", None) if given == "asked" else None
    process = subprocess.Popen(
        [MAKE, "--no-print-directory", "lookup", f"ENDPOINT={silent_endpoint}"],
        cwd=ROOT,
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: ended below by its id
    )
    try:
        if given == "asked":
            assert process.stdin is not None
            process.stdin.write(f"{PHONE}\n".encode())
            process.stdin.flush()
        waited = time.monotonic() + 30
        tool = {}
        while not tool and time.monotonic() < waited:  # until the tool runs (and waits on the endpoint)
            time.sleep(0.2)
            tool = {pid: line for pid, line in _command_lines(process.pid).items() if "tools.lookup" in line}
        assert tool, "make lookup started the tool"
        time.sleep(1.0)  # it has read the phone and is waiting on the endpoint
        assert process.poll() is None
        lines = _command_lines(process.pid)
        assert len(lines) >= 2  # make, and the tool (through a shell or not)
        holding = [line for line in lines.values() if any(d in line for d in DIGITS)]
        assert holding == []
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ARCH", "x86_64 $(shell touch {marks}/arch-word)"),  # a real architecture beside the command
        ("ARCH", "arm64;touch {marks}/arch-semicolon"),
        ("PLATFORM", "$(shell touch {marks}/platform)"),  # read by src/Makefile from the environment
        ("PLATFORM", "x;touch {marks}/platform-semicolon"),
    ],
)
@pytest.mark.parametrize("given", ["command-line", "environment"])
def test_make_build_runs_nothing_a_value_holds_beside_a_real_one(
    tmp_path: Path, name: str, value: str, given: str
) -> None:
    """sam build hands ARCH (as ARCHITECTURE), PYTHON and the environment to src/Makefile, which writes them
    into its commands: each is refused there too, before anything runs (the real sam build, not a stand-in)."""
    assert MAKE is not None
    marks = tmp_path / "marks"
    marks.mkdir()
    hostile_value = value.format(marks=marks)
    # A copy of what sam build reads: it empties its build folder first, which the other tests' artifact is.
    project = tmp_path / "project"
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for file_name in ("Makefile", "template.yaml", "samconfig.toml"):
        shutil.copy(ROOT / file_name, project / file_name)
    environment = {**os.environ}
    arguments = [MAKE, "--no-print-directory", "-o", ".venv/.installed", f"BIN={ROOT / '.venv' / 'bin'}", "build"]
    if given == "command-line" and name == "ARCH":
        arguments.append(f"{name}={hostile_value}")
    else:
        environment[name] = hostile_value
    done = subprocess.run(
        arguments, cwd=project, env=environment, stdin=subprocess.DEVNULL, capture_output=True, timeout=300
    )
    assert done.returncode != 0
    assert sorted(path.name for path in marks.iterdir()) == []
    said = done.stdout.decode() + done.stderr.decode()
    assert "must be" in said  # refused, saying why
