"""The cheaper save keeps its guarantees: one audit append per save, in order, and every check."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select, update

from edc import audit
from edc.actor import Actor
from edc.context import Context
from edc.extensions import db
from edc.models.audit import AuditEvent, AuditHead
from edc.models.crf import FormRecord
from edc.models.definitions import FormVersion
from edc.services import data_entry, definitions, entries
from edc.services.data_entry import Outcome
from edc.services.definitions import DefinitionError
from tests.factories import site_reader

FIRST = {"visit_date": "2026-03-10", "mycn": "not_amplified", "weight": "12"}
SECOND = {"visit_date": "2026-03-11", "mycn": "not_amplified", "weight": "13"}


def _save(entry, posted, who):
    return data_entry.save(
        Context(db.session(), Actor(user=who)), entry,
        data_entry.SaveRequest(posted, expected_version=entry.row_version),
    )  # fmt: skip


@contextmanager
def _statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def log(_conn, _cursor, statement, *_args) -> None:
        seen.append(" ".join(statement.split()))

    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", log)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", log)


def _head() -> int:
    return db.session.scalar(select(AuditHead.seq).where(AuditHead.id == 1)) or 0


def _actions_after(seq: int) -> list[str]:
    return list(
        db.session.scalars(select(AuditEvent.action).where(AuditEvent.seq > seq).order_by("seq"))
    )


def test_a_save_chains_its_vault_read_and_changes_in_one_append(entry_for):
    nurse = entry_for.nurse
    assert _save(entry_for(), FIRST, nurse).outcome is Outcome.SAVED
    before = _head()
    with _statements() as seen:
        assert _save(entry_for(), SECOND, nurse).outcome is Outcome.SAVED
    locks = [s for s in seen if s.startswith("UPDATE audit_head SET seq=(audit_head.seq")]
    assert len(locks) == 1  # one chain lock for the whole save
    # consent (in force, collection withdrawn), vault, items, bump, items written, 3 for the chain
    assert len(seen) <= 9, seen
    assert _actions_after(before) == [
        "identity.read", "item.changed", "item.changed", "record.saved",
    ]  # fmt: skip
    assert audit.verify(db.session.connection()).ok


def test_a_new_record_keeps_the_order_the_events_were_recorded_in(entry_for):
    before = _head()
    assert _save(entry_for(), FIRST, entry_for.nurse).outcome is Outcome.SAVED
    actions = _actions_after(before)
    assert actions[:3] == ["identity.read", "event.opened", "record.created"]
    assert actions[3:] == ["item.created"] * (len(actions) - 4) + ["record.saved"]
    assert audit.verify(db.session.connection()).ok


def test_a_save_overtaken_after_it_was_opened_writes_nothing(entry_for):
    nurse = entry_for.nurse
    assert _save(entry_for(), FIRST, nurse).outcome is Outcome.SAVED
    entry = entry_for()
    db.session.execute(  # another save bumps the version after this one read it
        update(FormRecord.__table__)
        .where(FormRecord.__table__.c.id == entry.record.id)
        .values(row_version=entry.row_version + 1)
    )
    before = _head()
    result = _save(entry, SECOND, nurse)
    assert result.outcome is Outcome.CONFLICT
    assert result.stored["weight"] == 12
    assert "item.changed" not in _actions_after(before)


def test_events_held_by_a_batch_go_with_a_rollback_unless_written_first(entry_for):
    who, before = Actor(user=entry_for.nurse), _head()
    with audit.batch(db.session):
        audit.record(db.session, who, "bench.kept", entity_type="x", entity_id=1)
        audit.write_batch(db.session)
        with db.session.begin_nested() as savepoint:
            audit.record(db.session, who, "bench.dropped", entity_type="x", entity_id=2)
            savepoint.rollback()
        audit.record(db.session, who, "bench.after", entity_type="x", entity_id=3)
    assert _actions_after(before) == ["bench.kept", "bench.after"]
    assert audit.verify(db.session.connection()).ok


def test_a_stored_text_changed_after_it_was_verified_is_still_noticed(entry_for):
    version = entry_for().form_version
    definitions.form_model(version)  # verified and remembered
    db.session.execute(
        update(FormVersion)
        .where(FormVersion.id == version.id)
        .values(yaml_text=version.yaml_text.replace("Visit", "Visits"))
    )
    db.session.expire_all()
    with pytest.raises(DefinitionError, match="does not match its sha256"):
        definitions.form_model(db.session.get(FormVersion, version.id))


def test_an_error_inside_a_batch_is_raised_as_it_is_and_writes_nothing(entry_for):
    who, before = Actor(user=entry_for.nurse), _head()

    def failing() -> None:
        with audit.batch(db.session):
            audit.record(db.session, who, "bench.lost", entity_type="x", entity_id=1)
            raise LookupError("the original error")

    with pytest.raises(LookupError, match="the original error"):
        failing()
    assert _actions_after(before) == []
    audit.record(db.session, who, "bench.after", entity_type="x", entity_id=2)
    assert _actions_after(before) == ["bench.after"]  # the next event is not held back


def test_a_save_request_reads_everything_it_judges_with_in_one_query(client, entry_for):
    from tests.factories import csrf, login

    login(client, entry_for.nurse)
    url = f"/subjects/{entry_for.subject.study_code}/crf/baseline/1/visit"

    token = csrf(client, url)

    def post(weight: str, version: int) -> int:
        data = {**FIRST, "weight": weight, "csrf_token": token, "row_version": version}
        return client.post(url, data=data).status_code

    assert post("12", 0) == 302
    db.session.remove()  # the request reads as it comes, with nothing cached by the test
    with _statements() as seen:
        assert post("13", 1) == 302
    reads = [s for s in seen if s.startswith("SELECT")]
    # The sign-in, the roles, the entry; the consent (in force, and whether collection was
    # withdrawn) in one statement; then the gate: the subject's row held shared (a review step
    # takes turns with the save), and in a statement after it, lock and review facts.
    assert len(reads) == 6, reads
    assert "consent_withdrawal" in reads[-3]
    assert "FROM subject" in reads[-2]
    assert "data_lock" in reads[-1]
    assert "item_verification" in reads[-1]
    entry_read = reads[-4]
    for joined in ("FROM subject", "study_definition", "event_occurrence", "form_record",
                   "form_version", "item_value", "subject_identity"):  # fmt: skip
        assert joined in entry_read
    assert "subject.site_id IN" in entry_read  # kept to the nurse's sites in the same query
    assert entry_for().stored["weight"] == 13


def test_the_items_read_with_the_entry_are_the_stored_ones(entry_for):
    nurse = entry_for.nurse
    answers = {**FIRST, "mycn": "amplified", "copies": "5.5", "doses-0-dose_mg": "3"}
    assert _save(entry_for(), answers, nurse).outcome is Outcome.SAVED
    again = {**FIRST, "copies": "5.5", "doses-0-dose_mg": "3"}
    assert _save(entry_for(), again, nurse).outcome is Outcome.SAVED  # copies hidden now
    db.session.expire_all()
    entry = entry_for()
    assert entry.stored == entries.stored_items(site_reader(entry.subject.site), entry.record)
    assert entry.stored["copies"] is None  # a hidden answer is kept as blank, not dropped
    assert entry.stored["doses-0-dose_mg"] == 3
    assert entry.stored["visit_date"] == "2026-03-10"


def test_a_statement_built_for_bound_sites_refuses_to_run_without_them(entry_for):
    from sqlalchemy.exc import StatementError

    from edc import access
    from edc.models.studies import Site

    query = access.scoped_statement(select(Site.id), Site.id)
    with pytest.raises(StatementError):
        db.session.execute(query).all()
    assert db.session.execute(query, {access.SCOPE_PARAMETER: []}).all() == []
    site_id = entry_for.subject.site_id
    assert db.session.scalars(query, {access.SCOPE_PARAMETER: [site_id]}).all() == [site_id]


def test_errors_of_statements_sent_together_are_raised_like_any_other(entry_for, db_owner):
    """As the owner: the application role may not insert a second chain head at all."""
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from edc.extensions import pipelined

    conn = db.session.connection()
    with pytest.raises(IntegrityError), pipelined(conn):
        conn.execute(insert(AuditHead.__table__).values(id=1, seq=0, hash="0" * 64))
    db.session.rollback()
