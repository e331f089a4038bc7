"""Extension objects, created once and bound to the app in create_app()."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from flask_babel import Babel
from flask_htmx import HTMX
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf import CSRFProtect
from sqlalchemy import Connection, Engine, MetaData, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import scoped_session, sessionmaker

from edc.models.base import Base


class Database:
    """Engine plus a request-scoped session; Flask-Migrate reads `metadata` from here."""

    Model = Base
    metadata: MetaData = Base.metadata

    def __init__(self) -> None:
        self.session = scoped_session(sessionmaker(expire_on_commit=False))
        self.engine: Engine | None = None

    def init_app(self, app: Flask, url: str) -> None:
        self.engine = make_engine(url)
        self.session.configure(bind=self.engine)
        app.teardown_appcontext(self._remove)

    def _remove(self, _exc: BaseException | None) -> None:
        self.session.remove()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the SQLite settings the app relies on (foreign keys, WAL, write lock)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let SQLAlchemy emit BEGIN itself
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Take the write lock up front: the audit chain and session updates read then write.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


@contextmanager
def pipelined(conn: Connection) -> Iterator[None]:
    """Send the block's statements without waiting for each reply (PostgreSQL with psycopg):
    the server answers them all when the block ends, one round trip instead of one each.
    Elsewhere, and inside another such block, it changes nothing.

    Only for statements whose result nobody reads (INSERT, UPDATE without RETURNING): SQLAlchemy
    looks at a statement's columns as soon as it runs, before any reply has come. A statement's
    error is raised when the block ends, as the SQLAlchemy error it would have raised at once.
    """
    if conn.dialect.driver != "psycopg" or conn.info.get(_PIPELINED):
        yield
        return
    dbapi_error = conn.dialect.loaded_dbapi.Error
    conn.info[_PIPELINED] = True
    try:
        # psycopg's connection has pipeline(); the DBAPI connection type does not say so.
        with conn.connection.driver_connection.pipeline():  # type: ignore[union-attr]
            yield
    except dbapi_error as error:  # a reply read at the end: raised as SQLAlchemy raises it
        raise DBAPIError.instance(
            "(statements sent in one round trip)", None, error, dbapi_error, dialect=conn.dialect
        ) from error
    finally:
        conn.info.pop(_PIPELINED, None)


_PIPELINED = "edc_pipelined"


db = Database()
migrate = Migrate(render_as_batch=True, compare_type=True)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
htmx = HTMX()
