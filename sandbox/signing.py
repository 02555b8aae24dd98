"""Signing requests as each sender does, for the demo, `make events` and the tests.

Each sender's recipe is in its module in sandbox/senders/, written from the sender's documentation,
independently of the function's own verification code.
"""

from __future__ import annotations

from sandbox.senders import is_timed, sign

__all__ = ["is_timed", "sign"]
