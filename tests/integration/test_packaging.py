"""The code under test is the code that deploys: src/, or the `sam build` artifact with its bundle.

The promise: docs/development.md (`make artifact-test`).
"""

from __future__ import annotations

import importlib
from pathlib import Path

from tests.conftest import ARTIFACT, ROOT

BUNDLED = ["aws_lambda_powertools", "phonenumbers", "urllib3", "python_multipart"]


def test_the_function_comes_from_where_this_run_says() -> None:
    import owner_webhook

    where = Path(ARTIFACT) if ARTIFACT else ROOT / "src"
    assert Path(owner_webhook.__file__).is_relative_to(where)
    if ARTIFACT:
        # Every runtime dependency is imported from the bundle, as on Lambda.
        for name in BUNDLED:
            module = importlib.import_module(name)
            assert Path(str(module.__file__)).is_relative_to(where), name
        for runtime_provided in ("boto3", "botocore"):  # the Lambda runtime provides them
            assert not (Path(ARTIFACT) / runtime_provided).exists(), runtime_provided
        # No X-Ray SDK (tracing is Lambda's own), and nothing compiled: one bundle serves both architectures.
        assert not list(Path(ARTIFACT).glob("aws_xray_sdk*")) and not list(Path(ARTIFACT).glob("wrapt*"))
        assert not list(Path(ARTIFACT).rglob("*.so")), "a compiled package: lock its wheel for arm64 and x86_64"
        # Built from src/ as it is now: `make test` runs the integration tests on the artifact only.
        built, source = Path(ARTIFACT) / "owner_webhook", ROOT / "src" / "owner_webhook"
        modules = sorted(path.relative_to(source) for path in source.rglob("*.py"))
        assert modules == sorted(path.relative_to(built) for path in built.rglob("*.py"))
        for module in modules:
            assert (built / module).read_bytes() == (source / module).read_bytes(), module
        # Byte code compiled ahead, for the read-only file system of Lambda.
        assert list((Path(ARTIFACT) / "owner_webhook" / "__pycache__").glob("handler.cpython-313.pyc"))


def test_runtime_requirements_are_pinned_and_leave_boto3_to_the_runtime() -> None:
    lines = [line.split("#")[0].strip() for line in (ROOT / "src" / "requirements.txt").read_text().splitlines()]
    pins = {name.split("[")[0]: version for name, version in (line.split("==") for line in lines if line)}
    assert {"aws-lambda-powertools", "phonenumberslite", "urllib3", "python-multipart"} <= set(pins)
    assert not {"boto3", "botocore", "pydantic", "aws-xray-sdk"} & set(pins)
    assert all(version[0].isdigit() for version in pins.values())
