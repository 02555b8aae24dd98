"""owner-webhook: turns signup webhooks into card-owner registrations at the payment gateway."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def loading() -> Iterator[None]:
    """Around a handler's imports: no cyclic garbage collection while the modules load, then freeze them.

    Loading Powertools, boto3 and the rest creates some 70,000 tracked objects and no garbage; the
    collections those allocations trigger cost about 13 ms of every cold start (`make bench`). Frozen,
    the loaded modules also stay out of every later collection of the warm function. Only for what
    lives as long as the process: a frozen object is never freed.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
