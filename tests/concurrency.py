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


#: Everything a race test's own study holds, children before parents: its subjects' data, its
#: staff's roles, its site and its definition.
_SUBJECTS = "SELECT id FROM subject WHERE study_id = :study"
_RECORDS = f"SELECT id FROM form_record WHERE subject_id IN ({_SUBJECTS})"
_QUERIES = f"SELECT id FROM data_query WHERE subject_id IN ({_SUBJECTS})"
_ONE_STUDY = (
    "DELETE FROM registry_outbox WHERE study_id = :study",
    f"DELETE FROM query_message WHERE query_id IN ({_QUERIES})",
    f"DELETE FROM data_query WHERE subject_id IN ({_SUBJECTS})",
    f"DELETE FROM item_verification WHERE record_id IN ({_RECORDS})",
    "DELETE FROM data_lock WHERE study_id = :study",
    f"DELETE FROM item_value WHERE record_id IN ({_RECORDS})",
    f"DELETE FROM form_record WHERE subject_id IN ({_SUBJECTS})",
    f"DELETE FROM event_occurrence WHERE subject_id IN ({_SUBJECTS})",
    f"DELETE FROM consent_withdrawal WHERE subject_id IN ({_SUBJECTS})",
    f"DELETE FROM consent_scope WHERE subject_id IN ({_SUBJECTS})",
    f"DELETE FROM subject_status_change WHERE subject_id IN ({_SUBJECTS})",
    f"DELETE FROM subject_identity WHERE subject_id IN ({_SUBJECTS})",
    "DELETE FROM subject WHERE study_id = :study",
    "DELETE FROM site_counter WHERE site_id = :site",
)
_STUDY_ITSELF = (
    "DELETE FROM site WHERE id = :site",
    "DELETE FROM form_version WHERE study_id = :study",
    "DELETE FROM study_definition WHERE study_id = :study",
    "DELETE FROM study WHERE id = :study",
)


def remove_committed_study(study: int, site: int, users: list[int]) -> None:
    """Delete what a race test committed in a study of its own (one site): the subjects and all
    their data, the study's and site's staff (and `users`), then the site and the study. The
    audit events stay (append-only)."""
    from sqlalchemy import text

    from edc.extensions import db

    ids = {"study": study, "site": site}
    staff = "SELECT user_id FROM role_assignment WHERE site_id = :site OR study_id = :study"
    with db.engine.begin() as conn:
        for statement in _ONE_STUDY:
            conn.execute(text(statement), ids)
        found = {row[0] for row in conn.execute(text(staff), ids)}
        conn.execute(
            text("DELETE FROM role_assignment WHERE site_id = :site OR study_id = :study"), ids
        )
        for user_id in sorted({*found, *users}):
            conn.execute(text("DELETE FROM user_session WHERE user_id = :u"), {"u": user_id})
            conn.execute(text("DELETE FROM user_account WHERE id = :u"), {"u": user_id})
        for statement in _STUDY_ITSELF:
            conn.execute(text(statement), ids)
