"""Time: every call the function makes fits before its answer is due.

A request's time is cut once, when it starts. At the end, REPLY_SECONDS to log and answer. Before
that, the reservation of what may follow the forward (storing the answer; with the retry queue,
queueing the delivery and releasing the phone's claim): it is kept from the start, so a slow secret
read or a slow table before the forward shortens the forward, never the reservation. The forward ends
by `forward_by`, whatever the gateway does (gateway.py bounds every byte of it). Every other call
starts only if it and the calls that must follow it end before the reservation begins.

docs/guarantees.md ("Every call fits the time") says the same in prose; tests/unit/test_budget.py keeps
the two, and the template's comment on Timeout, in step.
"""

from __future__ import annotations

import time
from typing import NamedTuple

from owner_webhook.aws_clients import CALL_SECONDS

# Kept back from the function's timeout to log and return the answer.
REPLY_SECONDS = 0.3
# Under this, a request to the gateway is not sent: a timeout that short would make an ambiguous
# failure of a healthy call.
MIN_FORWARD_SECONDS = 0.5
# The forward ends this much before the reservation begins: cutting a connection is not instant.
FORWARD_MARGIN_SECONDS = 0.1


class Reservation(NamedTuple):
    """A sequence of AWS calls that must fit together, and its worst case."""

    name: str
    calls: int

    @property
    def seconds(self) -> float:
        return self.calls * CALL_SECONDS


# The named sequences; adding an AWS call to one of them is a change here only.
SECRET = Reservation("secret", 1)  # read the secret (cached while warm; the forwarder reads it per message)
CLAIM = Reservation("claim", 1)  # claim the phone; its final write or release is in the reservation after the forward
NOTE = Reservation("delivery id note", 1)  # which phone a delivery id carried (best effort: skipped when short)
RECORD = Reservation("record", 1)  # after the forward, without the retry queue: store the answer
QUEUE_AND_RELEASE = Reservation("queue and release", 2)  # after the forward: queue the delivery, release the claim
QUEUE = Reservation("queue", 1)  # queue a delivery that made no claim (no time was left to claim)
DELAY = Reservation("delay", 1)  # the forwarder: a failed message's next visibility
# A refusal kept (refusals.py): after the forward, in the time reserved for what follows it, which a
# refusal does not spend on queueing.
KEEP = Reservation("keep a refusal", 1)


NOTHING = Reservation("nothing", 0)  # the webhook with a forwarder function and no retry queue: the forwarder records


def after_forward(queue: bool, *, forwarder: bool = False) -> Reservation:
    """What may follow the forward: with the retry queue, queueing and releasing; else storing the answer.
    When a forwarder function forwards, it claims and records: the webhook only queues what it could not take."""
    if forwarder:
        return QUEUE if queue else NOTHING
    return QUEUE_AND_RELEASE if queue else RECORD


def minimum_timeout(queue: bool) -> float:
    """The shortest function timeout in which a claim, a forward and what follows it all fit."""
    return REPLY_SECONDS + CLAIM.seconds + MIN_FORWARD_SECONDS + FORWARD_MARGIN_SECONDS + after_forward(queue).seconds


class Deadline(NamedTuple):
    """When a request's work must be over (`ends`), when its reservation begins (`reserved_from`) and when
    the gateway's answer is due (`forward_by`). All are time.monotonic() values."""

    ends: float
    reserved_from: float
    forward_by: float

    @classmethod
    def start(cls, remaining_seconds: float, forward_budget: float, reserved: Reservation) -> Deadline:
        now = time.monotonic()
        ends = now + remaining_seconds - REPLY_SECONDS
        reserved_from = ends - reserved.seconds
        forward_by = min(now + forward_budget, reserved_from - FORWARD_MARGIN_SECONDS)
        return cls(ends=ends, reserved_from=reserved_from, forward_by=forward_by)

    def fits(self, reservation: Reservation, *, then: Reservation | None = None) -> bool:
        """Whether `reservation` (and `then`, which must follow it) end before the reservation begins."""
        seconds = reservation.seconds + (then.seconds if then else 0.0)
        return time.monotonic() + seconds <= self.reserved_from

    def fits_in_reserve(self, reservation: Reservation) -> bool:
        """Whether `reservation`, one of the calls reserved for after the forward, still ends in time."""
        return time.monotonic() + reservation.seconds <= self.ends

    def fits_in_forward(self, reservation: Reservation) -> bool:
        """Whether `reservation`, part of the forward itself (reading a rotated key), ends before `forward_by`."""
        return time.monotonic() + reservation.seconds <= self.forward_by

    def wall_clock_end(self) -> float:
        """When the invocation ends, in time.time() seconds: a claim left by it lapses then."""
        return time.time() + (self.ends + REPLY_SECONDS - time.monotonic())
