"""A recipe of your own, exactly as docs/senders.md shows it: the file, the local secret, the curl."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import urllib3

from sandbox.endpoint import LocalEndpoint
from sandbox.local_secrets import GATEWAY_KEY
from sandbox.stack import Sandbox
from tests.conftest import ROOT

DOC = (ROOT / "docs" / "senders.md").read_text()
SECTION = DOC[DOC.index("### A recipe of your own, end to end") :]


def _recipe() -> tuple[str, str]:
    name = re.search(r"`src/owner_webhook/recipes/([a-z0-9_-]+)\.json`", SECTION)
    body = re.search(r"```json\n(.*?)```", SECTION, re.DOTALL)
    assert name and body
    return name[1], body[1]


def _curl() -> tuple[str, dict[str, str], bytes]:
    command = re.search(r"```sh\n(.*?)```", SECTION, re.DOTALL)
    assert command
    words = shlex.split(command[1].replace("\\\n", " "))
    headers = dict(words[i + 1].split(": ", 1) for i, w in enumerate(words) if w == "-H")
    return next(w for w in words if w.startswith("http")), headers, words[words.index("-d") + 1].encode()


def test_the_docs_recipe_works_as_the_docs_say(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from owner_webhook import sources
    from owner_webhook.handler import lambda_handler
    from sandbox.senders import local_secret

    name, recipe = _recipe()
    (tmp_path / f"{name}.json").write_text(recipe)
    monkeypatch.setattr(sources, "RECIPES", tmp_path)  # as if bundled in src/owner_webhook/recipes/
    secret = json.loads(json.dumps({"api_key": GATEWAY_KEY, "webhook_secrets": {name: local_secret(name)}}))
    sandbox.aws.put_secret(secret)
    url, headers, body = _curl()
    assert headers["X-Crm-Token"] == local_secret(name)  # the token make serve seeds for it
    updated = body.replace(b'"contact.created"', b'"contact.updated"')
    endpoint = LocalEndpoint(lambda_handler).start()
    try:
        url = url.replace("http://127.0.0.1:3000", endpoint.url)
        response = urllib3.request("POST", url, body=body, headers=headers)
        other = urllib3.request("POST", url, body=updated, headers={**headers, "X-Crm-Delivery": "evt-2"})
    finally:
        endpoint.stop()
    assert (response.status, json.loads(response.data)) == (200, {"success": True})
    assert [json.loads(r.body) for r in sandbox.gateway.received] == [{"phone": "+447911123456"}]
    assert updated != body
    assert (other.status, json.loads(other.data)) == (200, {"success": True, "ignored": True})  # as the docs say
    assert len(sandbox.gateway.received) == 1
