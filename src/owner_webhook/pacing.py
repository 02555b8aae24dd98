"""The forwarder instance's share of the gateway's ceiling, kept by the instance alone.

Lambda runs at most `GATEWAY_CONCURRENCY` forwarder instances (the function's reserved concurrency),
so if each starts its calls to the gateway at least GATEWAY_CONCURRENCY / GATEWAY_RATE_PER_SECOND
seconds apart, all of them together start at most GATEWAY_RATE_PER_SECOND calls in any second, with no
counter shared between instances (an instance that takes over a slot may call once early: it does not
know when the previous holder last called). A 429 or 503 pauses this instance for the gateway's
Retry-After: it forwards nothing until then, and the instances that meet the same answer pause too, so
the drain slows down.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# Each instance keeps this far under its share: the gateway counts arrivals, and a call can arrive a few
# milliseconds later or earlier than it was sent, so calls sent exactly a share apart may arrive closer.
HEADROOM = 1.1
# A 429 or 503 without Retry-After pauses the instance this long: enough for a short overload to pass.
DEFAULT_PAUSE_SECONDS = 5.0
# SQS keeps a message invisible for at most 12 hours; a Retry-After beyond this is taken as this.
MAX_PAUSE_SECONDS = 900.0


class Pace:
    """When this instance may next call the gateway."""

    def __init__(
        self,
        spacing: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.spacing = spacing
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0  # the earliest start of the next call
        self._paused_until = 0.0

    @classmethod
    def for_ceiling(cls, concurrency: int, rate_per_second: float) -> Pace:
        """Each of `concurrency` instances' share of `rate_per_second`, with HEADROOM."""
        return cls(concurrency / rate_per_second * HEADROOM)

    def paused(self) -> float:
        """Seconds left in the pause a 429 or 503 asked for (0: not paused)."""
        return max(0.0, self._paused_until - self._clock())

    def pause(self, retry_after: float | None) -> None:
        """The gateway answered 429 or 503: call it again only after `retry_after` seconds."""
        seconds = DEFAULT_PAUSE_SECONDS if retry_after is None else min(max(retry_after, 0.0), MAX_PAUSE_SECONDS)
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def take_turn(self, latest: float) -> bool:
        """Wait for this instance's next turn to call the gateway, if it comes by `latest` (a time.monotonic()
        value), and take it; False at once if it does not (a pause that lasts past it, or a turn too late)."""
        now = self._clock()
        turn = max(now, self._next, self._paused_until)
        if turn > latest:
            return False
        if turn > now:
            self._sleep(turn - now)
        self._next = turn + self.spacing
        return True
