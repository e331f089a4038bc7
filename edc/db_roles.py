"""Two database roles on PostgreSQL: an owner that migrates, an application role that may only
append to the audit trail.

Triggers alone do not make the trail append-only: whoever owns a table may disable its triggers,
truncate it or drop it. So the application connects as a role that owns nothing and holds, on
`audit_event`, SELECT and INSERT only; migrations connect as the owner (`DATABASE_OWNER_URL`) and
hand the application its privileges after every upgrade. SQLite has no roles and keeps its
triggers.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from edc.extensions import make_engine
from edc.settings import Settings

log = logging.getLogger(__name__)

#: Tables on which the application role gets less than SELECT, INSERT, UPDATE, DELETE.
LIMITED: dict[str, str] = {
    "audit_event": "SELECT, INSERT",  # append-only: no UPDATE, DELETE, TRUNCATE
    "audit_head": "SELECT, UPDATE",  # the chain's lock and tip: one row, moved, never removed
    "alembic_version": "SELECT",  # the schema's version is the owner's business
    "account_link": "SELECT, INSERT, UPDATE",  # links are used or replaced, never removed
}


class RoleSetupError(RuntimeError):
    """The application role could defeat the append-only trail; the operator must fix the roles."""


def owner_url(settings: Settings) -> str:
    """The URL migrations connect with: DATABASE_OWNER_URL, else the application's own."""
    return settings.database_owner_url or settings.database_url


def warn_if_shared(settings: Settings) -> None:
    """On PostgreSQL in production the application should not connect as the tables' owner."""
    if settings.testing or make_url(settings.database_url).get_backend_name() != "postgresql":
        return
    if owner_url(settings) == settings.database_url:
        log.warning(
            "DATABASE_OWNER_URL is not set: migrations and the application share one database"
            " role, which owns the tables and so may disable the audit trail's triggers. Give"
            " migrations an owner role of their own (see docs/security.md)."
        )


def app_role_name(app_url: str) -> str:
    """The role the application really connects as (the URL may leave it to the driver)."""
    if make_url(app_url).get_backend_name() != "postgresql":
        return ""  # no roles
    engine = make_engine(app_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return str(conn.scalar(text("SELECT current_user")))
    finally:
        engine.dispose()


def grant_app_role(conn: Connection, app_role: str) -> None:
    """Give `app_role` what the application needs and no more; idempotent.

    Run by the owner after every upgrade, in the migration's transaction, so tables added by a
    migration are usable at once and a refusal leaves the schema as it was.
    """
    if conn.dialect.name != "postgresql":
        return
    owner = str(conn.scalar(text("SELECT current_user")))
    if app_role == owner:
        return
    _refuse_unsafe(conn, app_role, owner)
    quote = conn.dialect.identifier_preparer.quote
    role = quote(app_role)
    schema = quote(str(conn.scalar(text("SELECT current_schema()"))))
    statements = [
        f"GRANT USAGE ON SCHEMA {schema} TO {role}",
        f"REVOKE CREATE ON SCHEMA {schema} FROM {role}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
    ]
    present = set(
        conn.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ).all()
    )
    for table, privileges in LIMITED.items():
        if table in present:
            statements.append(f"REVOKE ALL ON {schema}.{quote(table)} FROM {role}")
            statements.append(f"GRANT {privileges} ON {schema}.{quote(table)} TO {role}")
    for statement in statements:
        conn.execute(text(statement))
    log.info("database privileges of role %s set by %s", app_role, owner)


def _refuse_unsafe(conn: Connection, app_role: str, owner: str) -> None:
    """A superuser, a member of the owner role or an owner of tables can undo any privilege."""
    row = conn.execute(
        text(
            "SELECT rolsuper, pg_has_role(:app, :owner, 'MEMBER') AS member"
            " FROM pg_roles WHERE rolname = :app"
        ),
        {"app": app_role, "owner": owner},
    ).one()
    if row.rolsuper:
        raise RoleSetupError(f"the application role {app_role} is a superuser: use a plain role")
    if row.member:
        raise RoleSetupError(
            f"the application role {app_role} is a member of the owner role {owner}:"
            f" REVOKE {owner} FROM {app_role}"
        )
    owned = conn.scalars(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND pg_get_userbyid(c.relowner) = :app"
            " ORDER BY c.relname"
        ),
        {"app": app_role},
    ).all()
    if owned:
        raise RoleSetupError(
            f"the application role {app_role} owns {', '.join(owned[:5])}"
            + (f" and {len(owned) - 5} more" if len(owned) > 5 else "")
            + f": as a superuser run REASSIGN OWNED BY {app_role} TO {owner}, then migrate again"
        )
