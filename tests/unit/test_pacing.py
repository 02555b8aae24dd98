"""Each forwarder instance keeps its share of the gateway's ceiling, and pauses when the gateway asks."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from owner_webhook.pacing import DEFAULT_PAUSE_SECONDS, HEADROOM, MAX_PAUSE_SECONDS, Pace, calls_per_window


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


def _busiest_second(starts: list[float]) -> int:
    """The most calls that start within one second: any window (t - 1, t]."""
    starts = sorted(starts)
    first, most = 0, 0
    for last, start in enumerate(starts):
        while starts[first] <= start - 1.0 + 1e-9:
            first += 1
        most = max(most, last - first + 1)
    return most


def _greedy(
    concurrency: int, rate: float, offsets: list[float], seconds: float, late: Callable[[int], float] = lambda _: 0.0
) -> list[float]:
    """Every instance calling as soon as its pace lets it, each on its own clock, from its offset: when each
    request goes out, `late(n)` seconds after its turn (a connection slow to open, or opened on a retry)."""
    sent: list[float] = []
    for offset in offsets[:concurrency]:
        clock = Clock()
        clock.now = offset
        pace = Pace.for_ceiling(concurrency, rate)
        pace._clock, pace._sleep = clock, clock.sleep
        while clock.now < seconds:
            assert pace.take_turn(latest=clock.now + 10)
            clock.now += late(len(sent))
            pace.sent(clock.now)
            sent.append(clock.now)
    return sent


def _connects_on_a_retry(n: int) -> float:
    """Every third request goes out a second late (its connect retried), another a fraction of a spacing late."""
    return (1.0, 0.0, 0.3)[n % 3]


RATES = [2, 3, 4, 5, 7, 9.5, 10, 11, 19, 20, 21, 25, 33.3, 50, 99, 100, 250, 1000]
CONCURRENCIES = [2, 3, 4, 5, 7, 10, 16, 25, 100]


@pytest.mark.parametrize("concurrency", CONCURRENCIES)
@pytest.mark.parametrize("rate", RATES)
def test_all_instances_together_never_start_more_than_the_rate_in_any_second(concurrency: int, rate: float) -> None:
    """docs/guarantees.md, "A burst": whatever the rate and concurrency the settings allow, in every
    one-second window, the instances all starting at once (the worst case) or spread out."""
    if rate < concurrency:  # refused by the settings (test_settings.py): no whole call per instance
        with pytest.raises(ValueError, match="no whole call"):
            Pace.for_ceiling(concurrency, rate)
        return
    seconds = 6.0 if concurrency * rate < 20_000 else 2.0
    at_once = _greedy(concurrency, rate, [0.0] * concurrency, seconds)
    spread = _greedy(concurrency, rate, [n * 0.37 % 1 for n in range(concurrency)], seconds)
    late = _greedy(concurrency, rate, [0.0] * concurrency, seconds, _connects_on_a_retry)
    assert _busiest_second(at_once) <= rate
    assert _busiest_second(spread) <= rate
    assert _busiest_second(late) <= rate  # counted as the gateway counts them: when they arrive
    # and no slower than the headroom asks: each instance its whole calls a second, 10 % under
    share = calls_per_window(concurrency, rate)
    assert Pace.for_ceiling(concurrency, rate).spacing == pytest.approx(HEADROOM / share)


def test_two_instances_at_3_a_second_start_at_most_3_calls_in_any_second() -> None:
    """The adversary's case: spaced 2/3 x 1.1 s apart, two instances put 4 calls in 0.75 s."""
    starts = _greedy(2, 3, [0.0, 0.0], 5.0)
    assert _busiest_second(starts) <= 3
    assert _busiest_second([0.0, 0.0, 0.733, 0.733]) == 4  # what the old spacing allowed


def test_the_defaults_keep_their_throughput() -> None:
    """20/s with 10 instances: 2 calls per instance per second, 0.55 s apart, as before: 18.2/s sustained."""
    assert Pace.for_ceiling(10, 20).spacing == pytest.approx(0.55)
    starts = _greedy(10, 20, [0.0] * 10, 10.0)
    assert len([s for s in starts if s < 10.0]) / 10.0 == pytest.approx(20 / HEADROOM, rel=0.05)
    assert _busiest_second(starts) == 20


def test_the_spacing_runs_from_when_each_request_went_out(clock: Clock) -> None:
    """docs/guarantees.md, "A burst": a request sent a second after its turn (its connection opened on a retry)
    does not let the next one follow at once: the bound holds on arrivals, where the gateway counts."""
    pace = Pace(0.5, clock, clock.sleep)
    sent = []
    for late in (1.0, 0.0, 0.2, 0.0):
        assert pace.take_turn(latest=clock.now + 10)
        clock.now += late
        pace.sent(clock.now)
        sent.append(clock.now)
    # Each at least a spacing after the one before (from its turn alone, the second would follow the first at once).
    assert [round(b - a, 6) for a, b in itertools.pairwise(sent)] == [0.5, 0.7, 0.5]


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


def test_a_call_no_longer_waited_for_counts_in_flight_until_it_is_assumed_over(clock: Clock) -> None:
    """docs/guarantees.md, "A burst": no call starts while an abandoned one may still run at the gateway."""
    pace = Pace(0.5, clock, clock.sleep, abandoned_call_seconds=30)
    assert pace.take_turn(latest=clock.now)
    pace.abandoned()
    assert (pace.in_flight(), pace.paused()) == (30, 30)
    assert not pace.take_turn(latest=clock.now + 29)  # no turn while it runs
    pace.pause(1)  # a shorter pause never shortens it
    assert pace.in_flight() == 30
    clock.now += 30
    assert (pace.in_flight(), pace.paused()) == (0, 0)
    assert pace.take_turn(latest=clock.now)
