"""Each forwarder instance keeps its share of the gateway's ceiling, and pauses when the gateway asks."""

from __future__ import annotations

import itertools

import pytest

from owner_webhook.pacing import DEFAULT_PAUSE_SECONDS, HEADROOM, MAX_PAUSE_SECONDS, Pace


class Clock:
    """A clock that moves only when the pace sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_the_share_of_each_instance_is_the_ceiling_in_flight_over_the_rate_with_headroom() -> None:
    assert Pace.for_ceiling(10, 20).spacing == pytest.approx(0.55)
    assert Pace.for_ceiling(5, 10).spacing == pytest.approx(0.55)
    assert Pace.for_ceiling(1, 4).spacing == pytest.approx(0.275)
    assert HEADROOM == 1.1  # 10 % under the ceiling: what the gateway counts is arrivals, not sends


def test_calls_start_at_least_a_share_apart(clock: Clock) -> None:
    pace = Pace(0.5, clock, clock.sleep)
    starts = []
    for _ in range(4):
        assert pace.take_turn(latest=clock.now + 10)
        starts.append(clock.now)
    assert [round(b - a, 6) for a, b in itertools.pairwise(starts)] == [0.5, 0.5, 0.5]
    assert clock.slept == [0.5, 0.5, 0.5]  # the first turn is at once


def test_an_instance_idle_for_longer_than_its_share_calls_at_once(clock: Clock) -> None:
    pace = Pace(0.5, clock, clock.sleep)
    assert pace.take_turn(latest=clock.now)
    clock.now += 2
    assert pace.take_turn(latest=clock.now)
    assert clock.slept == []


def test_a_turn_that_comes_too_late_is_not_waited_for(clock: Clock) -> None:
    pace = Pace(0.5, clock, clock.sleep)
    assert pace.take_turn(latest=clock.now)
    assert not pace.take_turn(latest=clock.now + 0.4)
    assert clock.slept == []
    assert pace.take_turn(latest=clock.now + 0.5)  # the refused turn was not taken


@pytest.mark.parametrize(
    ("retry_after", "paused"),
    [(30, 30.0), (None, DEFAULT_PAUSE_SECONDS), (0, 0.0), (-5, 0.0), (86_400, MAX_PAUSE_SECONDS)],
)
def test_a_429_or_503_pauses_the_instance_for_its_retry_after(
    clock: Clock, retry_after: float | None, paused: float
) -> None:
    pace = Pace(0.5, clock, clock.sleep)
    pace.pause(retry_after)
    assert pace.paused() == paused
    assert pace.take_turn(latest=clock.now + paused)
    assert clock.slept == ([paused] if paused else [])


def test_no_call_during_a_pause_that_outlasts_the_time_left(clock: Clock) -> None:
    pace = Pace(0.5, clock, clock.sleep)
    pace.pause(30)
    assert not pace.take_turn(latest=clock.now + 29)
    clock.now += 30
    assert pace.paused() == 0
    assert pace.take_turn(latest=clock.now)


def test_a_shorter_pause_never_shortens_a_longer_one(clock: Clock) -> None:
    pace = Pace(0.5, clock, clock.sleep)
    pace.pause(30)
    pace.pause(1)
    assert pace.paused() == 30
