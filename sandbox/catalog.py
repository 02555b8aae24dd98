"""The events in events/ with what each should get, signed afresh where the signature has a timestamp."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.aws import SECRETS
from sandbox.events import ROUTE_PREFIX, HttpRequest, http_api_event, request_of
from sandbox.senders import is_timed, sign

EVENTS = Path(__file__).resolve().parent.parent / "events"


@dataclass(frozen=True)
class Case:
    name: str
    event: dict[str, Any]  # as in the file, or signed again when its timestamp would be stale
    request: HttpRequest
    status: int
    code: str
    owner: str | None  # the E.164 phone the gateway should receive and accept, if any
    secret: str  # which local secret (sandbox.aws.SECRETS) the function must be reading
    after: str | None  # the event that must have been sent first (a repeated phone's first delivery)


def answer_code(body: dict[str, Any]) -> str:
    """The outcome an answer tells: its error code, or which success it is."""
    if "error" in body:
        return str(body["error"]["code"])
    if body.get("dry_run"):
        return "dry_run"
    if body.get("existing"):
        return "phone_existing"
    return "queued" if body.get("queued") else "ignored" if body.get("ignored") else "owner_created"


def files() -> list[Path]:
    """Every event in events/, without env.json and expected.json."""
    return sorted(p for p in EVENTS.glob("*.json") if p.name not in ("env.json", "expected.json"))


def expectations() -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = json.loads((EVENTS / "expected.json").read_text())
    return result


def cases(now: float | None = None) -> list[Case]:
    expected = expectations()
    return [_case(path, expected[path.name], now) for path in files()]


def _case(path: Path, want: dict[str, Any], now: float | None) -> Case:
    event = json.loads(path.read_text())
    request = request_of(event)
    secret = want.get("secret", "default")
    source = request.path.removeprefix(ROUTE_PREFIX)
    if is_timed(source, request) and want["code"] != "unauthenticated":
        request = sign(source, request, SECRETS[secret]["webhook_secrets"][source], now)
        resigned = http_api_event(request)
        resigned["requestContext"]["requestId"] = event["requestContext"]["requestId"]
        event = resigned
    return Case(path.name, event, request, want["status"], want["code"], want.get("owner"), secret, want.get("after"))
