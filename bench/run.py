"""`make bench`: measure the adapter against the floor and a hand-written peer, in one run, and say
which targets are met; and where a warm request's and a cold start's time goes, step by step (bench/steps.py).
Prints the tables and one JSON line.

The targets' measure: the handler, a Zapier token delivery, no deduplication, against a bare urllib3 POST
to the same gateway (the floor) and a hand-written 20-line Lambda (the peer, bench/peer_handler.py); beside them
the library floor (bench/library_floor.py): the same delivery through the function's libraries and nothing else.

Everything runs on this machine: the stand-ins (moto server, sandbox gateway) in their own process,
each measurement in a fresh interpreter. Medians and ratios from the same run, since shared machines
are noisy.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import platform
import py_compile
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import urllib3

from bench.table import print_table, print_targets
from sandbox import senders
from sandbox.events import http_api_event
from sandbox.runtime import RUNTIME_PYTHON, LambdaRuntime

ROOT = Path(__file__).resolve().parent.parent
ARTIFACT = ROOT / ".aws-sam" / "build" / "WebhookFunction"
COLD_RUNS = 11
WARM_REQUESTS = 1000
WARM_ROUNDS = 5
WARM_UP = 50
STEP_COLD_RUNS = 5
WARM_TARGET = 1.6  # the adapter's warm p50 over the floor's
COLD_TARGET = 1.3  # the adapter's cold start over the peer's, in-process and in the runtime


@contextmanager
def standins() -> Iterator[dict[str, str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.standins"], cwd=ROOT, stdout=subprocess.PIPE, text=True, env=_env({})
    )
    assert process.stdout is not None
    try:
        yield json.loads(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(10)


def runtime_python() -> Path:
    """The runtime-like interpreter of `make runtime` (awslambdaric and boto3, as Lambda's python3.13
    runtime has them). The development environment also has awscrt and pyOpenSSL (from aws-sam-cli),
    which botocore imports when present: 50 ms more on every cold start, the peer's as well as ours."""
    if not RUNTIME_PYTHON.exists():
        raise SystemExit("no runtime-like interpreter: run `make runtime` (make bench does)")
    return RUNTIME_PYTHON


def _env(extra: dict[str, str], *, artifact: bool = False) -> dict[str, str]:
    path = [str(ARTIFACT)] if artifact else [str(ROOT / "src")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join([*path, str(ROOT)]), "PYTHONDONTWRITEBYTECODE": "1", **extra}


def _probe(mode: str, kind: str, data: Any, env: dict[str, str], artifact: bool) -> dict[str, Any]:
    return _fresh("bench.probe", [mode, kind], data, env, artifact)


def _fresh(module: str, args: list[str], data: Any, env: dict[str, str], artifact: bool) -> dict[str, Any]:
    """`module` run in a fresh runtime-like interpreter with `args` and a file holding `data`; its JSON line."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(data, file)
    try:
        done = subprocess.run(
            [str(runtime_python()), "-m", module, *args, file.name],
            cwd=ROOT,
            env=_env(env, artifact=artifact),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        Path(file.name).unlink()
    if done.returncode != 0:
        raise SystemExit(f"{module} {' '.join(args)} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


_counter = iter(range(10_000_000))


def _again(event: dict[str, Any]) -> dict[str, Any]:
    """The same request as another delivery (a new Idempotency-Key): the same person signing up twice."""
    return {**event, "headers": {**event["headers"], "idempotency-key": f"bench-again-{time.time_ns()}"}}


def _event() -> dict[str, Any]:
    n = next(_counter)
    request = senders.request("zapier", f"0555 {1_000_000 + n % 9_000_000}", delivery_id=f"bench-{time.time_ns()}-{n}")
    return http_api_event(request)


Case = tuple[str, str, dict[str, str], bool]  # name, probe kind, environment, run the artifact


def cold(cases: list[Case]) -> dict[str, dict[str, Any]]:
    """COLD_RUNS fresh interpreters per case, the cases interleaved so that noise falls on all alike."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, *_ in cases}
    for _ in range(COLD_RUNS):
        for name, kind, env, artifact in cases:
            runs[name].append(_probe("cold", kind, _event(), env, artifact))
    assert all(run["status"] == 200 for case in runs.values() for run in case), runs
    return {
        name: {
            "median_ms": statistics.median(run["ms"] for run in case),
            "init_median_ms": statistics.median(run["init_ms"] for run in case),
            "pydantic": any(run["pydantic"] for run in case),
            "xray": any(run["xray"] for run in case),
        }
        for name, case in runs.items()
    }


def runtime_cold(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Cold start as Lambda's runtime reports it: a new instance in the runtime interface emulator per run,
    its INIT duration plus its first invocation's, COLD_RUNS times, the cases interleaved: the adapter without
    deduplication (the target's measure), as deployed (deduplication and the retry queue), the peer and the library
    floor."""
    with tempfile.TemporaryDirectory() as library_floor:
        cases = {
            "adapter_runtime_cold": (
                ARTIFACT,
                "owner_webhook.handler.lambda_handler",
                {**env, "IDEMPOTENCY_TABLE": ""},
            ),
            "adapter_runtime_cold_deployed": (ARTIFACT, "owner_webhook.handler.lambda_handler", env),
            "peer_runtime_cold": (ROOT, "bench.peer_handler.lambda_handler", env),
            "library_floor_runtime_cold": (
                _library_floor_task(Path(library_floor)),
                "library_floor.lambda_handler",
                env,
            ),
        }
        runs: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for _ in range(COLD_RUNS):
            for name, (code, handler, variables) in cases.items():
                with LambdaRuntime(code, handler, variables) as runtime:
                    first = runtime.invoke(_event())
                assert first.payload["statusCode"] == 200 and first.init_ms is not None, first
                runs[name].append((first.init_ms, first.duration_ms))
    return {
        name: {
            "median_ms": statistics.median(init + invoke for init, invoke in case),
            "init_median_ms": statistics.median(init for init, _ in case),
            "invoke_median_ms": statistics.median(invoke for _, invoke in case),
        }
        for name, case in runs.items()
    }


def _library_floor_task(task: Path) -> Path:
    """A task root for the library floor in the runtime: the artifact's libraries, and bench/library_floor.py
    compiled as the build compiles the function (unchecked-hash byte code)."""
    for entry in ARTIFACT.iterdir():
        if entry.name != "owner_webhook":
            (task / entry.name).symlink_to(entry)
    module = task / "library_floor.py"
    module.write_bytes((ROOT / "bench" / "library_floor.py").read_bytes())
    py_compile.compile(str(module), invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH, doraise=True)
    return task


def warm(cases: list[Case], rounds: int = 1) -> dict[str, dict[str, Any]]:
    """WARM_REQUESTS in one process per case and round, the cases interleaved; the median round's figures,
    and every round's p50 (`round_p50_ms`, in order) for ratios paired round by round."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, *_ in cases}
    for _ in range(rounds):
        for name, kind, env, artifact in cases:
            result = _probe("warm", kind, [_event() for _ in range(WARM_REQUESTS + WARM_UP)], env, artifact)
            assert set(result["statuses"]) == {"200"}, result["statuses"]
            times = sorted(result["times_ms"])
            runs[name].append(
                {
                    "p50_ms": statistics.median(times),
                    "p99_ms": times[int(len(times) * 0.99) - 1],
                    "requests": len(times),
                    "cpu_ms": result["cpu_ms"],
                    "peak_mb": result["peak_mb"],
                }
            )
    return {
        name: {
            **sorted(case, key=lambda run: run["p50_ms"])[len(case) // 2],
            "round_p50_ms": [r["p50_ms"] for r in case],
        }
        for name, case in runs.items()
    }


def paired_ratio(figures: dict[str, Any], case: str, baseline: str) -> dict[str, float]:
    """The ratio of two cases' p50 round by round (each pair measured back to back, so that a machine
    that speeds up or slows down between rounds moves both), and its median over the rounds."""
    ratios = sorted(
        a / b for a, b in zip(figures[case]["round_p50_ms"], figures[baseline]["round_p50_ms"], strict=True)
    )
    return {"median": statistics.median(ratios), "low": ratios[0], "high": ratios[-1]}


def round_trips(env: dict[str, str]) -> dict[str, int]:
    """DynamoDB calls for one new delivery, its repeat, and another delivery of its phone (the phone
    memory on, as deployed), counted by the moto server."""
    sys.path[:0] = [str(ARTIFACT)]
    os.environ.update(env)
    from sandbox.events import LocalContext

    http = urllib3.PoolManager()

    def calls() -> int:
        counts = http.request("GET", env["AWS_ENDPOINT_URL"] + "/_sandbox/calls").json()
        return sum(n for target, n in counts.items() if target.startswith("DynamoDB_"))

    with contextlib.redirect_stdout(io.StringIO()):  # the function's log lines: imported in here
        from owner_webhook.handler import lambda_handler

        lambda_handler(_event(), LocalContext())  # warm: clients built
        event = _event()
        counts = [calls()]
        lambda_handler(event, LocalContext())  # a new delivery of a new phone
        counts.append(calls())
        lambda_handler(event, LocalContext())  # the same delivery again
        counts.append(calls())
        lambda_handler(_again(event), LocalContext())  # another delivery of the same phone
        counts.append(calls())
    new, repeat, existing = (after - before for before, after in itertools.pairwise(counts))
    return {"new": new, "repeat": repeat, "existing": existing}


def import_breakdown(env: dict[str, str]) -> dict[str, list[tuple[str, float]]]:
    """The ten heaviest imports of the handler (python -X importtime): modules, and packages (self time).

    Without API_KEY_SECRET_ID, so that the import builds no AWS clients: the figures are imports only.
    """
    done = subprocess.run(
        [str(runtime_python()), "-X", "importtime", "-c", "import owner_webhook.handler"],
        cwd=ROOT,
        env=_env({**env, "API_KEY_SECRET_ID": ""}, artifact=True),
        capture_output=True,
        text=True,
        check=True,
    )
    modules: dict[str, float] = {}
    by_package: dict[str, float] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        modules[name] = int(own) / 1000
        by_package[name.split(".")[0]] = by_package.get(name.split(".")[0], 0) + int(own) / 1000

    def heaviest(times: dict[str, float]) -> list[tuple[str, float]]:
        return sorted(times.items(), key=lambda item: -item[1])[:10]

    return {"modules": heaviest(modules), "packages": heaviest(by_package)}


def steps(env: dict[str, str]) -> dict[str, dict[str, float]]:
    """Where a warm request's CPU and a cold start's time go (bench/steps.py), without deduplication; the cold
    steps the median of STEP_COLD_RUNS fresh interpreters."""
    variables = {**env, "IDEMPOTENCY_TABLE": ""}
    warm_steps = _probe_steps("warm", [_event() for _ in range(400)], variables)
    colds = [_probe_steps("cold", _event(), variables) for _ in range(STEP_COLD_RUNS)]
    return {"warm": warm_steps, "cold": {name: statistics.median(run[name] for run in colds) for name in colds[0]}}


def _probe_steps(mode: str, data: Any, env: dict[str, str]) -> dict[str, float]:
    return _fresh("bench.steps", [mode], data, env, artifact=True)


def artifact_size() -> dict[str, float]:
    files = [p for p in ARTIFACT.rglob("*") if p.is_file()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(ARTIFACT))
    return {"unzipped_mb": sum(p.stat().st_size for p in files) / 1e6, "zipped_mb": buffer.tell() / 1e6}


def main() -> None:
    if not (ARTIFACT / "owner_webhook" / "handler.py").is_file():
        raise SystemExit("no sam build artifact: run `make build` (make bench does)")
    started = time.monotonic()
    with standins() as env:
        without_dedup = {**env, "IDEMPOTENCY_TABLE": ""}
        figures: dict[str, Any] = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            # The floor and the adapter alternate over WARM_ROUNDS rounds; the ratio is paired by round.
            **warm(
                [
                    ("floor_warm", "floor", env, False),
                    ("floor_lean_warm", "floor-lean", env, False),
                    ("library_floor_warm", "library-floor", env, True),
                    ("adapter_warm", "adapter", without_dedup, True),
                ],
                rounds=WARM_ROUNDS,
            ),
            **warm([("peer_warm", "peer", env, False), ("adapter_warm_dedup", "adapter", env, True)]),
            **runtime_cold(env),
            **cold(
                [
                    ("peer_cold", "peer", env, False),
                    ("library_floor_cold", "library-floor", env, True),
                    ("adapter_cold", "adapter", env, True),
                    ("adapter_cold_no_dedup", "adapter", without_dedup, True),
                ]
            ),
            "dynamodb_round_trips": round_trips(env),
            "steps": steps(env),
            "imports": import_breakdown(env),
            "artifact": artifact_size(),
        }
    figures["warm_ratio"] = paired_ratio(figures, "adapter_warm", "floor_warm")
    figures["warm_ratio_lean"] = paired_ratio(figures, "adapter_warm", "floor_lean_warm")
    figures["library_floor_ratio"] = paired_ratio(figures, "library_floor_warm", "floor_warm")
    figures["warm_ratio_library"] = paired_ratio(figures, "adapter_warm", "library_floor_warm")
    figures["seconds"] = round(time.monotonic() - started, 1)
    report(figures)


def report(f: dict[str, Any]) -> None:
    floor, peer_w, warm_, dedup = f["floor_warm"], f["peer_warm"], f["adapter_warm"], f["adapter_warm_dedup"]
    lean = f["floor_lean_warm"]
    peer_c, cold_, cold_nd = f["peer_cold"], f["adapter_cold"], f["adapter_cold_no_dedup"]
    peer_r, adapter_r = f["peer_runtime_cold"], f["adapter_runtime_cold"]
    deployed_r = f["adapter_runtime_cold_deployed"]
    trips = f["dynamodb_round_trips"]
    warm_ratio, ratio_low, ratio_high = (f["warm_ratio"][k] for k in ("median", "low", "high"))
    cold_ratio = adapter_r["median_ms"] / peer_r["median_ms"]
    cold_ratio_in = cold_nd["median_ms"] / peer_c["median_ms"]
    peak = max(warm_["peak_mb"], dedup["peak_mb"])
    library, library_c, library_r = f["library_floor_warm"], f["library_floor_cold"], f["library_floor_runtime_cold"]
    library_ratio = f["library_floor_ratio"]["median"]
    targets = [
        ("warm p50, no dedup, vs the floor (median round)", f"{warm_ratio:.2f}x", f"<= {WARM_TARGET}x",
         warm_ratio <= WARM_TARGET),
        ("cold, no dedup, in-process, vs the peer's", f"{cold_ratio_in:.2f}x", f"<= {COLD_TARGET}x",
         cold_ratio_in <= COLD_TARGET),
        ("cold, no dedup, in the runtime, vs the peer's", f"{cold_ratio:.2f}x", f"<= {COLD_TARGET}x",
         cold_ratio <= COLD_TARGET),
        ("DynamoDB round trips: new / repeat / known phone", f"{trips['new']} / {trips['repeat']} / {trips['existing']}",
         "<= 3 / 1 / 1", trips["new"] <= 3 and trips["repeat"] <= 1 and trips["existing"] <= 1),
        ("peak memory after the warm run", f"{peak:.0f} MB", "<= 100 MB", peak <= 100),
        ("artifact, unzipped", f"{f['artifact']['unzipped_mb']:.1f} MB", "<= 16 MB", f["artifact"]["unzipped_mb"] <= 16),
        ("pydantic on the import path", "yes" if cold_["pydantic"] else "no", "no", not cold_["pydantic"]),
        ("X-Ray SDK imported", "yes" if cold_["xray"] else "no", "no", not cold_["xray"]),
    ]  # fmt: skip
    print(f"owner-webhook benchmark ({f['machine']}; {f['seconds']} s)\n")
    rows = [
        ("measure", "p50 / median", "p99", "note"),
        ("floor: bare urllib3 POST, warm", f"{floor['p50_ms']:.2f} ms", f"{floor['p99_ms']:.2f} ms",
         f"{floor['requests']} requests; CPU {floor['cpu_ms'] * 1000:.0f} us"),
        ("floor, lean: the adapter's own call", f"{lean['p50_ms']:.2f} ms", f"{lean['p99_ms']:.2f} ms",
         f"HTTPConnectionPool.urlopen; adapter {f['warm_ratio_lean']['median']:.2f}x this"),
        ("library floor: the libraries alone, warm", f"{library['p50_ms']:.2f} ms", f"{library['p99_ms']:.2f} ms",
         f"{library_ratio:.2f}x the floor; the adapter {f['warm_ratio_library']['median']:.2f}x this; "
         f"CPU {library['cpu_ms'] * 1000:.0f} us"),
        ("peer: hand-written Lambda, warm", f"{peer_w['p50_ms']:.2f} ms", f"{peer_w['p99_ms']:.2f} ms", "get_secret_value each call"),
        ("adapter, warm, no dedup", f"{warm_['p50_ms']:.2f} ms", f"{warm_['p99_ms']:.2f} ms",
         f"{warm_ratio:.2f}x the floor ({ratio_low:.2f}-{ratio_high:.2f}x by round); "
         f"CPU +{(warm_['cpu_ms'] - floor['cpu_ms']) * 1000:.0f} us"),
        ("adapter, warm, dedup (moto DynamoDB)", f"{dedup['p50_ms']:.2f} ms", f"{dedup['p99_ms']:.2f} ms",
         f"{dedup['p50_ms'] / floor['p50_ms']:.2f}x the floor"),
        ("peer, cold in the runtime", f"{peer_r['median_ms']:.0f} ms", "",
         f"INIT {peer_r['init_median_ms']:.0f} ms + first invoke {peer_r['invoke_median_ms']:.0f} ms, median of {COLD_RUNS}"),
        ("library floor, cold in the runtime", f"{library_r['median_ms']:.0f} ms", "",
         f"INIT {library_r['init_median_ms']:.0f} ms + first invoke {library_r['invoke_median_ms']:.0f} ms, "
         f"{library_r['median_ms'] / peer_r['median_ms']:.2f}x the peer"),
        ("adapter, cold in the runtime, no dedup", f"{adapter_r['median_ms']:.0f} ms", "",
         f"INIT {adapter_r['init_median_ms']:.0f} ms + first invoke {adapter_r['invoke_median_ms']:.0f} ms, "
         f"{cold_ratio:.2f}x the peer"),
        ("adapter, cold in the runtime, as deployed", f"{deployed_r['median_ms']:.0f} ms", "",
         f"INIT {deployed_r['init_median_ms']:.0f} ms + first invoke {deployed_r['invoke_median_ms']:.0f} ms, "
         f"{deployed_r['median_ms'] / peer_r['median_ms']:.2f}x the peer"),
        ("peer, cold, in-process", f"{peer_c['median_ms']:.0f} ms", "", f"init {peer_c['init_median_ms']:.0f} ms, median of {COLD_RUNS}"),
        ("library floor, cold, in-process", f"{library_c['median_ms']:.0f} ms", "",
         f"init {library_c['init_median_ms']:.0f} ms, {library_c['median_ms'] / peer_c['median_ms']:.2f}x the peer"),
        ("adapter, cold, no dedup, in-process", f"{cold_nd['median_ms']:.0f} ms", "",
         f"init {cold_nd['init_median_ms']:.0f} ms, {cold_ratio_in:.2f}x the peer"),
        ("adapter, cold, dedup, in-process", f"{cold_['median_ms']:.0f} ms", "",
         f"init {cold_['init_median_ms']:.0f} ms, {cold_['median_ms'] / peer_c['median_ms']:.2f}x the peer"),
        ("artifact", f"{f['artifact']['unzipped_mb']:.1f} MB", "", f"{f['artifact']['zipped_mb']:.1f} MB zipped"),
    ]  # fmt: skip
    print_table(rows)
    print(
        "\nin the runtime: the runtime interface emulator's INIT REPORT and first invoke (awslambdaric, runtime start"
    )
    print("included); in-process: a fresh interpreter's import of the handler (init) and its first request (the AWS")
    print("clients are built then)")
    print("heaviest imports of the handler, self time (python -X importtime):")
    print("  modules:  " + ", ".join(f"{name} {ms:.1f} ms" for name, ms in f["imports"]["modules"]))
    print("  packages: " + ", ".join(f"{name} {ms:.0f} ms" for name, ms in f["imports"]["packages"]))
    print()
    print_steps(f["steps"])
    print()
    print_library_floor(f)
    print()
    print_targets(f, targets)


def print_library_floor(f: dict[str, Any]) -> None:
    """The targets' measures taken of the library floor (bench/library_floor.py) as of the adapter: how much of each
    ratio the libraries alone make, and how much the adapter's own work adds."""
    peer_c, peer_r = f["peer_cold"]["median_ms"], f["peer_runtime_cold"]["median_ms"]
    library_c, library_r = f["library_floor_cold"]["median_ms"], f["library_floor_runtime_cold"]["median_ms"]
    adapter_c, adapter_r = f["adapter_cold_no_dedup"]["median_ms"], f["adapter_runtime_cold"]["median_ms"]
    rows = [
        ("the targets' measures", "library floor", "adapter", "target"),
        ("warm p50 vs the floor (median round)", f"{f['library_floor_ratio']['median']:.2f}x",
         f"{f['warm_ratio']['median']:.2f}x", f"<= {WARM_TARGET}x"),
        ("cold, in-process, vs the peer's", f"{library_c / peer_c:.2f}x", f"{adapter_c / peer_c:.2f}x",
         f"<= {COLD_TARGET}x"),
        ("cold, in the runtime, vs the peer's", f"{library_r / peer_r:.2f}x", f"{adapter_r / peer_r:.2f}x",
         f"<= {COLD_TARGET}x"),
    ]  # fmt: skip
    print_table(rows)
    print("library floor: the same delivery through the function's libraries and nothing else (bench/library_floor.py)")


def print_steps(steps: dict[str, dict[str, float]]) -> None:
    """The per-step tables of docs/performance.md."""
    warm = dict(steps["warm"])
    whole, bare = warm.pop("whole request"), warm.pop("the same POST, bare")
    rest = warm.pop("the rest")
    rows = [("warm request, step", "CPU per request", "note")]
    for name, us in warm.items():
        note = f"the same POST made bare: {bare:.0f} us (+{us - bare:.0f} us)" if name == "gateway call" else ""
        rows.append((name, f"{us:.0f} us", note))
    rows += [("the rest", f"{rest:.0f} us", "the Powertools decorators, the answer, the glue: the timed whole less the steps"),
             ("whole request", f"{whole:.0f} us", f"+{whole - bare:.0f} us over the bare POST; timed without the "
              "steps' timers")]  # fmt: skip
    print_table(rows)
    print()
    cold = steps["cold"]
    rows = [("cold start, step", "time", "")]
    rows += [(name, f"{ms:.1f} ms", "") for name, ms in cold.items()]
    rows.append(("total", f"{sum(cold.values()):.0f} ms", f"median of {STEP_COLD_RUNS} fresh interpreters, each step"))
    print_table(rows)


if __name__ == "__main__":
    main()
