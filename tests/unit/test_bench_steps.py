"""make bench's table of where a warm request's time goes (docs/performance.md): every function it times is
still where a request calls it, so a rename breaks this test, not the benchmark."""

from __future__ import annotations

from bench.steps import step_places


def test_every_timed_function_is_where_the_request_calls_it() -> None:
    for step, places in step_places().items():
        for owner, name in places:
            assert callable(getattr(owner, name, None)), f"{step}: {getattr(owner, '__name__', owner)}.{name}"
