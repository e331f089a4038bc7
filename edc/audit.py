"""THE audit trail: the only writer of audit events, the flush guard, and the chain verifier.

Each event carries an HMAC over its content and its predecessor's hash, keyed with a secret kept
outside the database, so rows changed, removed or inserted behind the application's back show up
in `verify()`. Writers lock the single `audit_head` row, which keeps the chain linear under
concurrency on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, event, insert, inspect, select, update
from sqlalchemy.orm import Session, UOWTransaction

from edc.actor import Actor
from edc.extensions import pipelined
from edc.models.audit import AuditEvent, AuditHead
from edc.models.base import Base, utcnow

GENESIS = "0" * 64
_events = cast(Table, AuditEvent.__table__)  # declared tables: a Table, typed as FromClause
_head = cast(Table, AuditHead.__table__)
# Built once: every audited request runs them, and building costs more than running on SQLite.
_LOCK_HEAD = (  # takes the chain's lock and reads its tip
    update(_head)
    .where(_head.c.id == 1)
    .values(seq=_head.c.seq + bindparam("n"))
    .returning(_head.c.seq, _head.c.hash)
)
_INSERT = insert(_events)
_SET_HEAD = (  # the new tip: the last event written (fewer than reserved if some were dropped)
    update(_head).where(_head.c.id == 1).values(seq=bindparam("last"), hash=bindparam("hash"))
)
_BATCH = "audit_batch"  # session.info key of the events a `batch` block holds
_key: bytes | None = None
_keyed: hmac.HMAC | None = None  # the key's HMAC state, copied for each event (same digests)
_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, sort_keys=True)


class UnauditedChangeError(RuntimeError):
    """A service changed an audited model without recording why: a programming error."""


def configure(key: str) -> None:
    """Set the chain key (from settings); called once by create_app and the CLI."""
    global _key, _keyed
    _key = key.encode()
    _keyed = hmac.new(_key, digestmod=hashlib.sha256)


def jsonable(value: Any) -> Any:
    """Values as they are stored in old_value/new_value: JSON types only."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


@dataclass
class _Pending:
    actor: Actor
    action: str
    target: Base | None
    entity_type: str
    entity_id: str
    item_path: str
    old: Any
    new: Any
    reason: str
    role: str
    site_code: str
    #: Asked under the chain's lock (writers take turns there): False drops the event. For
    #: counted events such as throttled refusals, so that parallel requests cannot overshoot.
    keep_if: Callable[[Connection], bool] | None = None


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    target: Base | None = None,
    entity_type: str = "",
    entity_id: str | int = "",
    item_path: str = "",
    old: Any = None,
    new: Any = None,
    reason: str = "",
    role: str = "",
    site_code: str = "",
    durable: bool = False,
    keep_if: Callable[[Connection], bool] | None = None,
) -> None:
    """Append one event. Passing `target` also declares the change to that object audited.

    A `durable` event (failed logins, refusals) survives the rollback of an error response: the
    commit point writes it again in its own transaction through `replay_durable()`. `role` and
    `site_code` default to the actor's (see `_who`). `keep_if` is asked under the chain's lock,
    each time the event is written: False drops it (a throttle that parallel requests cannot
    overshoot).
    """
    role, site_code = _who(session, actor, role, site_code)
    pending = _Pending(
        actor=actor,
        action=action,
        target=target,
        entity_type=entity_type or (type(target).__tablename__ if target is not None else ""),
        entity_id=str(entity_id),
        item_path=item_path,
        old=jsonable(old),
        new=jsonable(new),
        reason=reason,
        role=role,
        site_code=site_code,
        keep_if=keep_if,
    )
    if durable:
        session.info.setdefault("audit_durable", []).append(pending)
    if target is not None:
        session.info.setdefault("audit_covered", set()).add(id(target))
        if inspect(target).identity is None:  # new object: its id exists only after the flush
            session.info.setdefault("audit_deferred", []).append(pending)
            return
    queued = session.info.get(_BATCH)
    if queued is not None:
        queued.append(pending)
        return
    _append(session.connection(), pending)


def _who(session: Session, actor: Actor, role: str, site_code: str) -> tuple[str, str]:
    """The one place an event gets its role and site: what the writer gave, else the actor's.

    Writers on a hot path (a CRF save) give both, so nothing is looked up there; otherwise the
    actor's grants, read once per session, answer (`access.audit_context`).
    """
    if role and site_code:
        return role, site_code
    from edc import access  # access records its refusals here: imported when first needed

    own_role, own_site = access.audit_context(session, actor, site_code)
    return role or own_role, site_code or own_site


@contextmanager
def batch(session: Session) -> Iterator[None]:
    """Chain every event recorded inside the block with one lock, when the block ends.

    A save audits its vault read, its items and its record: one append (three statements)
    instead of one per call. Events keep the order they were recorded in, also when a flush
    meanwhile writes those of new objects. Code inside must not read the audit trail. A rollback
    drops the events still held, as it would drop written ones: call `write_batch` before a
    savepoint whose rollback must not take the earlier events with it.
    """
    if _BATCH in session.info:  # nested: the outermost block writes
        yield
        return
    session.info[_BATCH] = []
    try:
        yield
    except BaseException:
        # The transaction goes with the error (durable events are kept apart and written again);
        # writing now could only hide the error behind a second one from a failed transaction.
        session.info.pop(_BATCH, None)
        raise
    queued: list[_Pending] = session.info.pop(_BATCH, [])
    if queued:
        _append_many(session.connection(), queued)


def write_batch(session: Session, along: Callable[[], object] | None = None) -> None:
    """Write the events held by the current `batch` now; the block goes on holding later ones.

    `along` writes what the events describe (e.g. a save's items): it runs after the chain's
    lock, and its statements travel with the events (one round trip on PostgreSQL).
    """
    queued: list[_Pending] | None = session.info.get(_BATCH)
    if queued:
        _append_many(session.connection(), list(queued), along)
        queued.clear()
    elif along is not None:
        along()


def _canonical(row: dict[str, Any]) -> bytes:
    fields = [
        row["seq"],
        row["at"].isoformat(),
        row["action"],
        row["actor_id"],
        row["actor_email"],
        row["role"],
        row["site_code"],
        row["entity_type"],
        row["entity_id"],
        row["item_path"],
        row["old_value"],
        row["new_value"],
        row["reason"],
        row["ip"],
        row["user_agent"],
        row["prev_hash"],
    ]
    return _encoder.encode(fields).encode()  # json.dumps with these options, minus its set-up


def _digest(row: dict[str, Any]) -> str:
    if _keyed is None:
        raise RuntimeError("audit.configure() was not called")
    mac = _keyed.copy()
    mac.update(_canonical(row))
    return mac.hexdigest()


def _seal(row: dict[str, Any]) -> str:
    """The new row's hash, once NUL characters are out of what it stores: PostgreSQL stores
    none, and a value a client sent (a path, a header) must never make the trail refuse an
    event (a refused sign-in would go uncounted). Found in the encoding made for the hash
    anyway, so rows without one cost nothing more."""
    encoded = _canonical(row)
    if _NUL_ESCAPED in encoded:
        for key, value in row.items():
            row[key] = _without_nul(value)
        encoded = _canonical(row)
    if _keyed is None:
        raise RuntimeError("audit.configure() was not called")
    mac = _keyed.copy()
    mac.update(encoded)
    return mac.hexdigest()


_NUL_ESCAPED = b"\\u0000"  # how the JSON of `_canonical` writes a NUL


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def _append(conn: Connection, p: _Pending) -> None:
    _append_many(conn, [p])


def _append_many(
    conn: Connection, pendings: list[_Pending], along: Callable[[], object] | None = None
) -> None:
    """Chain `pendings` after the head under one lock: three statements, however many events.

    Only the lock waits for its reply; `along` and the events are sent together after it.
    """
    if not pendings:
        return
    last, prev = conn.execute(_LOCK_HEAD, {"n": len(pendings)}).one()
    first = last - len(pendings) + 1
    if any(p.keep_if is not None for p in pendings):  # asked now that writers take turns
        pendings = [p for p in pendings if p.keep_if is None or p.keep_if(conn)]
    rows: list[dict[str, Any]] = []
    for seq, p in enumerate(pendings, start=first):
        entity_id = p.entity_id
        if p.target is not None and not entity_id:
            state = inspect(p.target)
            key = state.mapper.primary_key_from_instance(p.target)
            entity_id = "/".join(str(v) for v in key if v is not None)
            p.entity_id = entity_id
        row: dict[str, Any] = {
            "seq": seq,
            "at": utcnow(),
            "action": p.action,
            "actor_id": p.actor.user_id,
            "actor_email": p.actor.email,
            "role": p.role,
            "site_code": p.site_code,
            "entity_type": p.entity_type,
            "entity_id": entity_id,
            "item_path": p.item_path,
            "old_value": p.old,
            "new_value": p.new,
            "reason": p.reason,
            "ip": p.actor.ip[:64],
            "user_agent": p.actor.user_agent[:300],
            "prev_hash": prev,
        }
        row["hash"] = prev = _seal(row)
        rows.append(row)
    with pipelined(conn):  # the events and the new tip in one round trip
        if along is not None:
            along()
        if rows:
            conn.execute(_INSERT, rows)
        conn.execute(_SET_HEAD, {"hash": prev, "last": first + len(rows) - 1})


def record_many(session: Session, actor: Actor, events: list[dict[str, Any]]) -> None:
    """Several events in one go (e.g. every item of a save); each dict holds record()'s keywords.

    Every event must name its entity (`entity_type`, `entity_id`) when its target is new.
    """
    pendings = []
    covered = session.info.setdefault("audit_covered", set())
    for spec in events:
        target = spec.get("target")
        if target is not None:
            covered.add(id(target))
        role, site_code = _who(session, actor, spec.get("role", ""), spec.get("site_code", ""))
        pendings.append(
            _Pending(
                actor=actor,
                action=spec["action"],
                target=target,
                entity_type=spec.get("entity_type")
                or (type(target).__tablename__ if target is not None else ""),
                entity_id=str(spec.get("entity_id", "")),
                item_path=spec.get("item_path", ""),
                old=jsonable(spec.get("old")),
                new=jsonable(spec.get("new")),
                reason=spec.get("reason", ""),
                role=role,
                site_code=site_code,
            )
        )
    queued = session.info.get(_BATCH)
    if queued is not None:
        queued.extend(pendings)
        return
    _append_many(session.connection(), pendings)


def latest_seq(session: Session, action: str, entity_type: str, entity_id: str | int) -> int:
    """The seq of the newest `action` event on an entity, written first if still held: how a
    change names the event that caused it (a recomputed age names the birth-date correction)."""
    write_batch(session)
    session.flush()  # events of new objects are written with their flush
    seq = session.scalar(
        select(_events.c.seq)
        .where(
            _events.c.action == action,
            _events.c.entity_type == entity_type,
            _events.c.entity_id == str(entity_id),
        )
        .order_by(_events.c.seq.desc())
        .limit(1)
    )
    if seq is None:
        raise LookupError(f"no {action} event on {entity_type} {entity_id}")
    return int(seq)


@event.listens_for(Session, "before_flush")
def _guard(session: Session, _ctx: UOWTransaction, _instances: object) -> None:
    covered: set[int] = session.info.get("audit_covered", set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        if not getattr(type(obj), "__audited__", False) or id(obj) in covered:
            continue
        if obj in session.dirty and not session.is_modified(obj, include_collections=False):
            continue
        raise UnauditedChangeError(
            f"{type(obj).__name__} changed without an audit event: call audit.record(target=...)"
        )


@event.listens_for(Session, "after_flush")
def _write_deferred(session: Session, _ctx: UOWTransaction) -> None:
    deferred: list[_Pending] = session.info.pop("audit_deferred", [])
    if deferred:
        queued: list[_Pending] | None = session.info.get(_BATCH)
        if queued:  # recorded earlier in a batch: chained first, in the same append
            deferred = [*queued, *deferred]
            queued.clear()
        _append_many(session.connection(), deferred)


@event.listens_for(Session, "after_flush_postexec")
def _reset_cover(session: Session, _ctx: UOWTransaction) -> None:
    session.info.pop("audit_covered", None)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop("audit_covered", None)
    session.info.pop("audit_deferred", None)
    session.info.get(_BATCH, []).clear()  # rolled back with the rest


def replay_durable(session: Session) -> bool:
    """After a rollback, write the durable events of the request again; True if any were."""
    durable: list[_Pending] = session.info.pop("audit_durable", [])
    if not durable:
        return False  # no transaction at all (on SQLite it would take the write lock)
    for pending in durable:
        pending.target = None
    _append_many(session.connection(), durable)
    return True


def forget_durable(session: Session) -> None:
    """The request committed: its durable events are stored with everything else."""
    session.info.pop("audit_durable", None)


@dataclass(frozen=True)
class Verification:
    ok: bool
    checked: int
    bad_seq: int | None = None
    problem: str = ""


def verify(conn: Connection, batch: int = 5000) -> Verification:
    """Walk the chain in order; the first changed, missing or inserted event is reported.

    A chain cut short with its head rewritten is consistent in itself: `audit_anchor.check`
    holds it against the last checkpoint kept outside the database (`flask audit verify` runs
    both).
    """
    rows = _stream(conn, batch)
    try:
        found = _walk(rows)
    finally:
        rows.close()  # releases the server-side cursor when the walk stops early
    if found is not None:
        return found
    return _check_head(conn)


def _walk(rows: Iterator[dict[str, Any]]) -> Verification | None:
    expected_seq, prev = 1, GENESIS
    for row in rows:
        checked = expected_seq - 1
        if row["seq"] != expected_seq:
            return Verification(
                False,
                checked,
                expected_seq,
                f"event {expected_seq} is missing (next is {row['seq']})",
            )
        if row["prev_hash"] != prev:
            return Verification(False, checked, row["seq"], "does not follow the previous event")
        if not hmac.compare_digest(_digest(row), row["hash"]):
            return Verification(False, checked, row["seq"], "content does not match its hash")
        prev, expected_seq = row["hash"], expected_seq + 1
    return None


def _check_head(conn: Connection) -> Verification:
    """The head row must name the last event: removing the newest events is noticed too."""
    last = conn.execute(
        select(_events.c.seq, _events.c.hash).order_by(_events.c.seq.desc()).limit(1)
    ).first()
    checked, prev = (last.seq, last.hash) if last is not None else (0, GENESIS)
    head = conn.execute(select(_head.c.seq, _head.c.hash).where(_head.c.id == 1)).one()
    if head.seq != checked or head.hash != prev:
        return Verification(
            False, checked, checked + 1, f"chain ends at {checked} but {head.seq} were written"
        )
    return Verification(True, checked)


def _stream(conn: Connection, batch: int) -> Generator[dict[str, Any], None, None]:
    result = conn.execute(
        select(_events).order_by(_events.c.seq), execution_options={"yield_per": batch}
    )
    try:
        for row in result.mappings():
            yield dict(row)
    finally:
        result.close()
