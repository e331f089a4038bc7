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


#: What a race test's one subject, site, user and study leave behind, in the order their keys
#: allow; `ids` names them (subject, site, user, study).
_ONE_SUBJECT = (
    "DELETE FROM subject_identity WHERE subject_id = :subject",
    "DELETE FROM subject WHERE id = :subject",
    "DELETE FROM site_counter WHERE site_id = :site",
    "DELETE FROM role_assignment WHERE user_id = :user",
    "DELETE FROM user_account WHERE id = :user",
    "DELETE FROM site WHERE id = :site",
    "DELETE FROM study WHERE id = :study",
)


def remove_committed(ids: dict[str, int], *first: str) -> None:
    """Delete what a race test committed: `first` (its own rows), then its subject, site, user
    and study. The audit events stay (append-only); the rows go, so other tests count as before."""
    from sqlalchemy import text

    from edc.extensions import db

    with db.engine.begin() as conn:
        for statement in (*first, *_ONE_SUBJECT):
            conn.execute(text(statement), ids)
