"""Run one action in several threads at the same moment (PostgreSQL runs their transactions in
parallel; SQLite makes them take turns): for the tests of counted and single-use things."""

from __future__ import annotations

import threading
from collections.abc import Callable


def at_once(count: int, action: Callable[[], object]) -> list[object]:
    """What `action` returned (or raised) in each of `count` threads released together."""
    barrier = threading.Barrier(count, timeout=30)
    outcomes: list[object] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            barrier.wait()
            outcome = action()
        except BaseException as exc:  # the test looks at it
            outcome = exc
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
