"""What several senders share: JSON bodies and the sample signup's name."""

from __future__ import annotations

import json
from typing import Any

JSON_TYPE = {"content-type": "application/json"}
NAME = "Ayşe"


def json_body(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def fields(phone: Any) -> dict[str, Any]:
    """A flat signup, as a tool that posts form fields sends it."""
    return {"name": NAME} | ({"phone": phone} if phone is not None else {})
