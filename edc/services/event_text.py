"""Security events as a person reads them: labelled text in their language, no codes or ids.

The audit trail keeps machine values (action codes, row ids, JSON details) for the export and
the chain; the page shows what each event means ("Sign-in refused", "Account: a@b.example",
"Role: Nurse"), so an administrator on a tablet reads it without knowing the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from edc.access import ROLE_LABELS, SYSTEM_SCOPE, Role
from edc.i18n import _l
from edc.models.audit import AuditEvent
from edc.models.users import User

ACTIONS = {
    "access.denied": _l("Access refused"),
    "audit.exported": _l("Audit trail exported"),
    "auth.link_approved": _l("Account link approved"),
    "auth.link_handed_over": _l("Account link handed over"),
    "auth.link_refused": _l("Account link refused"),
    "auth.link_requested": _l("Account link requested"),
    "auth.link_sent": _l("Account link sent"),
    "auth.link_used": _l("Account link used"),
    "auth.lockout": _l("Account locked"),
    "auth.login": _l("Signed in"),
    "auth.login_failed": _l("Sign-in refused"),
    "auth.login_refused": _l("Sign-in refused (account not usable)"),
    "auth.password_changed": _l("Password changed"),
    "auth.password_check_failed": _l("Password check failed"),
    "auth.password_reset": _l("Password reset"),
    "auth.recovery_code_used": _l("Recovery code used"),
    "auth.session_ended": _l("Session ended"),
    "auth.sessions_ended": _l("Sessions ended"),
    "auth.throttled": _l("Sign-in slowed down"),
    "auth.totp_accepted": _l("Second-factor code accepted"),
    "auth.totp_enrol_failed": _l("Authenticator set-up failed"),
    "auth.totp_enrolled": _l("Authenticator set up"),
    "auth.totp_failed": _l("Second-factor code refused"),
    "auth.totp_replay": _l("Second-factor code used twice"),
    "auth.totp_revoked": _l("Authenticator reset"),
    "casebook.exported": _l("Casebook downloaded (PDF)"),
    "check.confirmed": _l("Warning confirmed"),
    "consent.blocked": _l("Consent stopped for staff"),
    "consent.copy_downloaded": _l("Consent copy downloaded"),
    "consent.code_accepted": _l("Consent invitation code accepted"),
    "consent.code_failed": _l("Wrong consent invitation code"),
    "consent.copy_sent": _l("Consent copy e-mailed to the signer"),
    "consent.countersigned": _l("Consent countersigned"),
    "consent.identity_checked": _l("Remote signer's link and code proven"),
    "consent.invitation_locked": _l("Consent invitation locked"),
    "consent.invitation_revoked": _l("Consent invitation withdrawn"),
    "consent.invited": _l("Parent invited to consent remotely"),
    "consent.kiosk_left": _l("Tablet taken back by staff"),
    "consent.kiosk_started": _l("Tablet handed to the signer"),
    "consent.language_chosen": _l("Consent language chosen"),
    "consent.link_opened": _l("Consent invitation link opened"),
    "consent.reconsent_closed": _l("Consent again: done"),
    "consent.reconsent_opened": _l("Consent again: asked"),
    "consent.refused": _l("Consent refused"),
    "consent.resumed": _l("Consent resumed"),
    "consent.rules_loaded": _l("Consent rules loaded"),
    "consent.scope_ended": _l("Consent ended"),
    "consent.scope_granted": _l("Consent in force"),
    "consent.scope_limited": _l("Consent valid until a date"),
    "consent.withdrawn": _l("Consent withdrawn"),
    "consent.sealed": _l("Consent copy sealed"),
    "consent.session_prepared": _l("Consent prepared"),
    "consent.signed": _l("Consent signed"),
    "consent.status": _l("Consent status changed"),
    "crf.save_refused": _l("Save refused (reason for change missing)"),
    "event.dated": _l("Visit date set"),
    "event.opened": _l("Visit added"),
    "event.removed": _l("Visit removed"),
    "export.created": _l("Data export created"),
    "export.downloaded": _l("Export downloaded"),
    "export.purged": _l("Old export files removed"),
    "export.requested": _l("Data export requested"),
    "identity.corrected": _l("Identity corrected"),
    "identity.created": _l("Identity recorded"),
    "identity.read": _l("Identity opened"),
    "identity.reencrypted": _l("Identity re-encrypted"),
    "identity.reindexed": _l("Identity search index rebuilt"),
    "identity.revision_kept": _l("Previous identity kept"),
    "identity.searched": _l("Patients searched"),
    "item.changed": _l("Item changed"),
    "item.created": _l("Item entered"),
    "item.deleted": _l("Item deleted"),
    "item.derived": _l("Item recomputed"),
    "lock.lifted": _l("Lock lifted"),
    "lock.placed": _l("Lock placed"),
    "monitoring_visit.ended": _l("Monitoring visit ended"),
    "monitoring_visit.started": _l("Monitoring visit started"),
    "query.answered": _l("Query answered"),
    "query.closed": _l("Query closed"),
    "query.raised": _l("Query raised"),
    "query.reopened": _l("Query re-opened"),
    "record.completed": _l("Form completed"),
    "record.created": _l("Form started"),
    "record.derived": _l("Form recomputed"),
    "record.saved": _l("Form saved"),
    "record.verified": _l("Form verified"),
    "registry.parked": _l("Registry push parked"),
    "registry.pushed": _l("Sent to the registry"),
    "registry.retried": _l("Registry push retried"),
    "role.approved": _l("Role approved"),
    "role.granted": _l("Role granted"),
    "role.refused": _l("Role refused"),
    "role.revoked": _l("Role revoked"),
    "sdv.plan_ended": _l("SDV plan replaced"),
    "sdv.plan_set": _l("SDV plan recorded"),
    "sdv.reset": _l("Verification reset by a change"),
    "sdv.verified": _l("Item verified (SDV)"),
    "security.csrf_failed": _l("Form refused (expired or sent from elsewhere)"),
    "signature.applied": _l("Signed"),
    "signature.certified": _l("E-signature certification given"),
    "signature.invalidated": _l("Signature invalidated by a change"),
    "subject.duplicate_suspected": _l("Possible duplicate subject"),
    "subject.registered": _l("Subject registered"),
    "subject.status_changed": _l("Subject status changed"),
    "subject.status_recorded": _l("Subject status recorded"),
    "user.activated": _l("Account reactivated"),
    "user.created": _l("Account created"),
    "user.deactivated": _l("Account deactivated"),
    "user.end_date": _l("Account end date set"),
    "user.preference": _l("Preference changed"),
}
TARGETS = {
    "user_account": _l("Account"),
    "role_assignment": _l("Role"),
    "account_link": _l("Account link"),
    "endpoint": _l("Page"),
    "unknown_account": _l("Unknown account"),
    "user_session": _l("Session"),
    "export": _l("Export"),
    "audit_trail": _l("Audit trail"),
}
KEYS = {
    "email": _l("E-mail"),
    "user_id": _l("Account"),
    "full_name": _l("Name"),
    "identity_check": _l("Identity checked by"),
    "ends_at": _l("Account ends"),
    "expires_at": _l("Expires"),
    "role": _l("Role"),
    "site": _l("Site"),
    "study": _l("Study"),
    "pending_approval": _l("Waiting for approval"),
    "purpose": _l("Purpose"),
    "path": _l("Page"),
    "method": _l("Request"),
    "failures": _l("Failed attempts"),
    "ip": _l("Address"),
    "account": _l("Account"),
    "kind": _l("Kind"),
    "count": _l("Number"),
    "rows": _l("Rows"),
    "what": _l("Export"),
    "sites": _l("Sites"),
    "reason": _l("Reason"),
    "demo": _l("Demo account"),
    "locale": _l("Language"),
    "timezone": _l("Time zone"),
}
#: Machine details nobody reads: row ids, the TOTP time step, the raw CSRF refusal, the
#: permission code (the page already says what was refused), export filters.
HIDDEN = {"requested_by_id", "step", "why", "permission", "filters", "session_id"}
VALUES = {
    "invitation": _l("invitation"),
    "reset": _l("password reset"),
    "enrol": _l("authenticator set-up"),
    "unknown": _l("unknown"),
    "recovery": _l("recovery code"),
}
YES, NO = _l("Yes"), _l("No")
#: Who acted when nobody signed in did, and where an event is not a site's or a study's.
ACTORS = {
    "operator": _l("the operator (command line)"),
    "anonymous": _l("not signed in"),
    "system": _l("the portal itself"),
}
PORTAL_WIDE = _l("whole portal")


@dataclass(frozen=True)
class Detail:
    """One labelled detail; `at` when the value is a moment (the page formats it)."""

    label: str
    text: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class EventRow:
    seq: int
    at: datetime
    action: str
    actor_email: str
    role: str
    site_code: str
    target: str
    details: list[Detail]
    reason: str
    ip: str


def action_label(action: str) -> str:
    """The event's name in the reader's language (the code itself if none is known yet)."""
    return str(ACTIONS.get(action, action))


def role_labels(roles: str) -> str:
    """The event's roles ("investigator,nurse") by their names; who acted without a role."""
    known = Role._value2member_map_
    return ", ".join(
        str(ROLE_LABELS[Role(r)] if r in known else ACTORS.get(r, r)) for r in roles.split(",") if r
    )


def _actor(e: AuditEvent) -> str:
    """Who acted: their e-mail, or the command line's operator (not the machine's user name)."""
    if (e.actor_email or "").startswith("cli:") or e.role == "operator":
        return str(ACTORS["operator"])
    return e.actor_email or ""


def _moment(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _value(key: str, value: object, emails: Mapping[int, str]) -> Detail | None:
    if key in HIDDEN or value is None or value == "":
        return None
    label = str(KEYS.get(key, key))
    if key == "user_id" and isinstance(value, int):
        return Detail(label, emails.get(value, str(_l("deleted account"))))
    if isinstance(value, bool):
        return Detail(label, str(YES if value else NO))
    if key == "role" and isinstance(value, str) and value in Role._value2member_map_:
        return Detail(label, str(ROLE_LABELS[Role(value)]))
    if isinstance(value, str) and key.endswith("_at") and (moment := _moment(value)):
        return Detail(label, at=moment)
    if isinstance(value, str) and value in VALUES:
        return Detail(label, str(VALUES[value]))
    return Detail(label, str(value))


def details(value: object, emails: Mapping[int, str], old: bool = False) -> list[Detail]:
    """A stored detail as labelled text; a bare value is the new (or old) value."""
    if isinstance(value, dict):
        return [d for k, v in sorted(value.items()) if (d := _value(k, v, emails)) is not None]
    if value is None:
        return []
    label = str(_l("Old value") if old else _l("New value"))
    if isinstance(value, bool):
        return [Detail(label, str(YES if value else NO))]
    if isinstance(value, str) and (moment := _moment(value)):
        return [Detail(label, at=moment)]
    return [Detail(label, str(value))]


def _user_ids(events: Iterable[AuditEvent]) -> set[int]:
    found: set[int] = set()
    for e in events:
        if e.entity_type == "user_account" and str(e.entity_id).isdigit():
            found.add(int(e.entity_id))
        for value in (e.old_value, e.new_value):
            if isinstance(value, dict) and isinstance(value.get("user_id"), int):
                found.add(value["user_id"])
    return found


def _target(e: AuditEvent, emails: Mapping[int, str]) -> str:
    label = str(TARGETS.get(e.entity_type or "", e.entity_type or ""))
    if e.entity_type == "user_account" and str(e.entity_id).isdigit():
        return f"{label}: {emails.get(int(e.entity_id), _l('deleted account'))}"
    return label


def rows(session: Session, events: list[AuditEvent]) -> list[EventRow]:
    """The events as labelled rows (one query for the accounts they name)."""
    ids = _user_ids(events)
    found = session.execute(select(User.id, User.email).where(User.id.in_(ids))).tuples()
    emails = {user_id: email for user_id, email in found}
    return [
        EventRow(
            seq=e.seq,
            at=e.at,
            action=action_label(e.action),
            actor_email=_actor(e),
            role="" if e.role == "operator" else role_labels(e.role),
            site_code=str(PORTAL_WIDE) if e.site_code == SYSTEM_SCOPE else e.site_code or "",
            target=_target(e, emails),
            details=details(e.old_value, emails, old=True) + details(e.new_value, emails),
            reason=e.reason or "",
            ip=e.ip or "",
        )
        for e in events
    ]
