"""A preset's sender, from its sample (sandbox/senders/samples/<source>.json) and its recipe's data.

The sample is a real payload (its `origin` says where it came from and what was edited), with where its
phone, its region and its delivery id are, the headers the sender sends and how many times it sends a
failing delivery. The request is signed here from the recipe's fields as docs/senders.md describes
them, with this module's own code: not the function's, which the tests check against it.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sandbox.events import HttpRequest

SAMPLES = Path(__file__).resolve().parent / "samples"
FORM_TYPE = "application/x-www-form-urlencoded"
Path_ = list[str | int]


@dataclass(frozen=True)
class RecipeSender:
    source: str
    sample: dict[str, Any]
    recipe: dict[str, Any]

    @property
    def SECRET(self) -> str:  # noqa: N802 - the attribute every sender module has
        return str(self.sample.get("secret", f"local-{self.source}-secret"))

    @property
    def TIMED(self) -> bool:  # noqa: N802
        return any("timestamp" in credential for credential in _credentials(self.recipe))

    def payload(self, phone: Any, delivery_id: str) -> tuple[bytes, dict[str, str]]:
        document = copy.deepcopy(self.sample["payload"])
        headers = {k.lower(): v for k, v in self.sample.get("headers", {}).items()}
        form = headers.get("content-type", "").startswith(FORM_TYPE)
        _put(document, self.sample["phone"], phone, remove=form)
        for region in self.sample.get("region", []):
            _put(document, region, "TR" if phone is not None else None, remove=form)
        where = self.sample.get("delivery_id")
        if isinstance(where, str):
            headers[where.removeprefix("header:").lower()] = delivery_id
        elif where is not None:
            _put(document, where, delivery_id)
        if form:
            return urlencode({k: v for k, v in document.items() if v is not None}).encode(), headers
        return json.dumps(document, ensure_ascii=False).encode(), headers

    def sign(self, request: HttpRequest, secret: str, now: float) -> HttpRequest:
        choices = _credentials(self.recipe)
        # Signing with a secret of another kind (a wrong one, in the tests) signs as the first kind does.
        credential = next((c for c in choices if secret.startswith(c.get("secret_prefix", ""))), choices[0])
        if "token" in credential:
            return _with_token(request, credential["token"], secret)
        return _with_signature(request, credential, secret, now)

    def attempts(self, status: int) -> int:
        return int(self.sample.get("attempts", 1))


def load(source: str) -> RecipeSender | None:
    """The sender of a preset with a sample, or None."""
    path = SAMPLES / f"{source}.json"
    if not path.is_file():
        return None
    from owner_webhook.sources.presets import PRESETS

    return RecipeSender(source, json.loads(path.read_text()), PRESETS[source])


def _credentials(recipe: dict[str, Any]) -> list[dict[str, Any]]:
    found = recipe["credential"]
    return found if isinstance(found, list) else [found]


def _put(document: Any, path: Path_, value: Any, *, remove: bool = False) -> None:
    *parents, last = path
    for key in parents:
        document = document[key]
    if value is None and remove:
        document.pop(last, None)
    else:
        document[last] = value


def _with_token(request: HttpRequest, places: Any, secret: str) -> HttpRequest:
    place = places[0] if isinstance(places, list) else places
    headers = dict(request.headers)
    if place == "bearer":
        headers["authorization"] = f"Bearer {secret}"
    elif place == "basic":
        headers["authorization"] = "Basic " + base64.b64encode(secret.encode()).decode()
    elif place.startswith("header:"):
        headers[place[7:].lower()] = secret
    elif place.startswith("query:"):
        name = place[6:]
        kept = [(k, v) for k, v in parse_qsl(request.query, keep_blank_values=True) if k != name]
        return replace(request, query=urlencode([*kept, (name, secret)]))
    else:  # body:<field> of a form
        name = place[5:]
        kept = [
            (k, v) for k, v in parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True) if k != name
        ]
        return replace(request, body=urlencode([*kept, (name, secret)]).encode())
    return replace(request, headers=headers)


def _with_signature(request: HttpRequest, spec: dict[str, Any], secret: str, now: float) -> HttpRequest:
    headers = dict(request.headers)
    if "{header:webhook-id}" in spec.get("signed", "") and "webhook-id" not in headers:
        headers["webhook-id"] = f"msg_{hashlib.sha256(request.body).hexdigest()[:24]}"
    stamp = str(int(now * 1000) if spec.get("timestamp_unit") == "ms" else int(now))
    url = f"https://{headers.get('host', 'localhost')}{request.path}" + (f"?{request.query}" if request.query else "")
    pieces = {"body": request.body, "timestamp": stamp.encode(), "method": b"POST", "url": url.encode()}
    content = b""
    for literal, name in re.findall(r"([^{]*)(?:\{([^}]*)\})?", spec.get("signed", "{body}")):
        content += literal.encode()
        if name.startswith("header:"):
            content += headers.get(name[7:].lower(), "").encode()  # a request made without it fails, as it should
        elif name:
            content += pieces[name]
    if spec.get("key") == "whsec" and secret.startswith("whsec_"):
        key = base64.b64decode(secret.removeprefix("whsec_"))
    elif spec.get("key") == "html_entities":
        key = secret.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").encode()
    else:
        key = secret.encode()
    digest = hmac.new(key, content, getattr(hashlib, spec.get("hmac", "sha256"))).digest()
    signature = spec.get("prefix", "") + (
        base64.b64encode(digest).decode() if spec.get("encoding") == "base64" else digest.hex()
    )
    if "pairs" in spec:
        signature = f"{spec['timestamp'].removeprefix('pair:')}={stamp},{spec['pairs']}={signature}"
    elif "timestamp" in spec:
        headers[spec["timestamp"].removeprefix("header:").lower()] = stamp
    headers[spec["signature"].removeprefix("header:").lower()] = signature
    return replace(request, headers=headers)
