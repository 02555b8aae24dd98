"""The forwarder instance's share of the gateway's ceiling, kept by the instance alone.

Lambda runs at most `GATEWAY_CONCURRENCY` (N) forwarder invocations at once (the function's reserved
concurrency). Each instance may start k = floor(GATEWAY_RATE_PER_SECOND / N) calls in any one-second
window, so all of them together start at most N * k <= GATEWAY_RATE_PER_SECOND, with no counter shared
between instances. Calls spaced s apart put ceil(1 / s) of them in a one-second window, so an instance
spaces its calls HEADROOM / k seconds apart: never more than k in a window, whatever the rate and the
concurrency (a rate below the concurrency leaves no whole call per instance: settings.py refuses it).
The gateway counts calls as they arrive, so the spacing runs from when each request went out, not from
when its call began: a call whose connection was slow to open, or opened on a second try, is sent late,
and the next one still waits its whole spacing after it.
An instance that takes over a slot may call once early: it does not know when the previous holder
last called.

A 429 or 503 pauses this instance for the gateway's Retry-After: it forwards nothing until then, and
the instances that meet the same answer pause too, so the drain slows down. A call whose answer the
instance stopped waiting for (a read timeout, the forward's deadline) is still in flight at the gateway:
the instance calls nothing more until it is assumed over (GATEWAY_ABANDONED_CALL_SECONDS later), and
the forwarder holds its invocation, and so its place in the reserved concurrency, until then.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

# Each instance keeps this far under its share: the gateway counts arrivals, and a call can arrive a few
# milliseconds later or earlier than it was sent, so calls sent exactly a share apart may arrive closer.
HEADROOM = 1.1
# A 429 or 503 without Retry-After, or a call dropped without an answer, pauses the instance this long:
# enough for a short overload to pass.
DEFAULT_PAUSE_SECONDS = 5.0
# SQS keeps a message invisible for at most 12 hours; a Retry-After beyond this is taken as this.
MAX_PAUSE_SECONDS = 900.0


def calls_per_window(concurrency: int, rate_per_second: float) -> int:
    """The calls each of `concurrency` instances may start in any one second (0: the rate is below the concurrency)."""
    return math.floor(rate_per_second / concurrency)


class Pace:
    """When this instance may next call the gateway."""

    def __init__(
        self,
        spacing: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        *,
        abandoned_call_seconds: float = 0.0,
    ) -> None:
        self.spacing = spacing
        self.abandoned_call_seconds = abandoned_call_seconds
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0  # the earliest start of the next call
        self._paused_until = 0.0
        self._in_flight_until = 0.0  # when a call we stopped waiting for is assumed over at the gateway

    @classmethod
    def for_ceiling(cls, concurrency: int, rate_per_second: float, abandoned_call_seconds: float = 0.0) -> Pace:
        """Each of `concurrency` instances' share of `rate_per_second`, with HEADROOM; raises ValueError for a
        rate below the concurrency (settings.py refuses it first)."""
        share = calls_per_window(concurrency, rate_per_second)
        if share < 1:
            raise ValueError(f"a rate of {rate_per_second:g}/s leaves {concurrency} instances no whole call a second")
        return cls(HEADROOM / share, abandoned_call_seconds=abandoned_call_seconds)

    def in_flight(self) -> float:
        """Seconds until the call this instance stopped waiting for is assumed over at the gateway (0: none)."""
        return max(0.0, self._in_flight_until - self._clock())

    def abandoned(self) -> None:
        """A call's answer was not waited for: it counts as in flight, and no call starts, until it is assumed over."""
        self._in_flight_until = max(self._in_flight_until, self._clock() + self.abandoned_call_seconds)
        self._paused_until = max(self._paused_until, self._in_flight_until)

    def paused(self) -> float:
        """Seconds left in the pause a 429 or 503 asked for, or an abandoned call makes (0: not paused)."""
        return max(0.0, self._paused_until - self._clock())

    def pause(self, retry_after: float | None) -> None:
        """The gateway answered 429 or 503: call it again only after `retry_after` seconds."""
        seconds = DEFAULT_PAUSE_SECONDS if retry_after is None else min(max(retry_after, 0.0), MAX_PAUSE_SECONDS)
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def sent(self, at: float) -> None:
        """A call's request went out at `at` (a clock value): the next call starts no sooner than a spacing after it."""
        self._next = max(self._next, at + self.spacing)

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
