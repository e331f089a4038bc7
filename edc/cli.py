"""Command-line tools: `flask users …`, `flask sites …`, `flask studies …`, `flask audit verify`,
`flask audit checkpoint`, `flask demo …`."""

from __future__ import annotations

import json
import secrets
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import NoReturn
from zoneinfo import available_timezones

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

import forms_dsl
from edc import audit, audit_anchor, crypto, demo, passwords, study_checks, totp
from edc.access import APPROVERS, Role
from edc.actor import Actor
from edc.cli_export import export_cli
from edc.extensions import db
from edc.models.base import utcnow
from edc.models.studies import Site, Study, timezone_for
from edc.models.users import User
from edc.registry.cli import registry_cli
from edc.services import definitions, role_approval, users
from edc.settings import ROOT
from edc.web import app_context

users_cli = AppGroup("users", help="Manage staff accounts and their roles.")
sites_cli = AppGroup("sites", help="Manage studies and sites.")
studies_cli = AppGroup("studies", help="Store study definitions and their form versions.")
audit_cli = AppGroup("audit", help="Check the audit trail and anchor it outside the database.")
demo_cli = AppGroup("demo", help="The demo study and its accounts (not for production).")
forms_cli = AppGroup("forms", help="Check study form definitions and try their decision tables.")
vault_cli = AppGroup("vault", help="The encrypted identity vault.")


def _settings():
    return current_app.config["EDC_SETTINGS"]


def _user(email: str) -> User:
    user = db.session.scalar(select(User).where(User.email == users.normalise_email(email)))
    if user is None:
        raise click.ClickException(f"no account with e-mail {email}")
    return user


def _scope(role: str, site: str | None, study: str | None) -> users.RoleScope:
    site_id = study_id = None
    if site:
        found = db.session.scalar(select(Site).where(Site.code == site))
        if found is None:
            raise click.ClickException(f"no site with code {site}")
        site_id = found.id
    if study:
        found_study = db.session.scalar(select(Study).where(Study.slug == study))
        if found_study is None:
            raise click.ClickException(f"no study {study}")
        study_id = found_study.id
    return users.RoleScope(Role(role), site_id=site_id, study_id=study_id)


def _done() -> None:
    db.session.commit()


ROLE_CHOICE = click.Choice([r.value for r in Role])


@users_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", "full_name", required=True)
@click.option("--identity-check", required=True, help="How identity was checked before issuing.")
@click.option("--role", type=ROLE_CHOICE)
@click.option("--site", help="Site code, for nurse, investigator and monitor roles.")
@click.option("--study", help="Study slug, for the data_manager role.")
@click.option(
    "--ends",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Last day of the account; it works until that day ends in EDC_ACCOUNT_TIMEZONE.",
)
def users_create(email, full_name, identity_check, role, site, study, ends) -> None:
    """Create an account and mail its owner an invitation link (without mail: print the link)."""
    actor, now = Actor.cli(), utcnow()
    try:
        user, issued = users.create_user(
            app_context(actor),
            email=email,
            full_name=full_name,
            identity_check=identity_check,
            ends_at=users.end_of_day(ends.date(), _settings()) if ends else None,
            now=now,
        )
        if role:
            users.assign_role(app_context(actor), user, _scope(role, site, study), now)
    except users.UserAdminError as refused:
        raise click.ClickException(refused.message) from refused
    _done()
    if issued.url:  # no mail: the operator at the server hands the link over themselves
        click.echo(f"created {user.email}; invitation link (works once, 72 h): {issued.url}")
    else:
        click.echo(f"created {user.email}; invitation e-mailed to {user.email}")
    if role:
        _tell_pending(role)


@users_cli.command("list")
def users_list() -> None:
    """Every account with its live roles and last sign-in."""
    for user in db.session.scalars(select(User).order_by(User.email)):
        roles = ", ".join(
            f"{r.role}@{r.site.code if r.site else (r.study.slug if r.study else '*')}"
            + (" (pending approval)" if r.pending else "")
            for r in user.roles
        )
        state = "active" if user.is_active else "inactive"
        last = user.last_login_at.isoformat(timespec="minutes") if user.last_login_at else "never"
        click.echo(f"{user.id:5d}  {user.email:40s} {state:8s} last={last:16s} {roles}")


@users_cli.command("assign")
@click.argument("email")
@click.argument("role", type=ROLE_CHOICE)
@click.option("--site")
@click.option("--study")
def users_assign(email, role, site, study) -> None:
    """Grant ROLE to the account, at a site, for a study, or system-wide."""
    try:
        users.assign_role(
            app_context(Actor.cli()), _user(email), _scope(role, site, study), utcnow()
        )
    except users.UserAdminError as refused:
        raise click.ClickException(refused.message) from refused
    _done()
    click.echo(f"granted {role} to {email}")
    _tell_pending(role)


def _tell_pending(role: str) -> None:
    if role_approval.needs_approval(role):
        approvers = " or ".join(sorted(a.value for a in APPROVERS[Role(role)]))
        click.echo(  # on stderr: what scripts read from stdout stays as it was
            f"pending: {role} takes effect once approved in the portal by a {approvers} of its"
            " site or study (or here: flask users approve)",
            err=True,
        )


@users_cli.command("approve")
@click.argument("email")
@click.argument("role", type=ROLE_CHOICE)
@click.option("--site")
@click.option("--study")
@click.option("--reason", required=True, help="e.g. first data manager of the study, per ...")
def users_approve(email, role, site, study, reason) -> None:
    """Approve a pending role request as the operator: for a study's first data manager, whom
    nobody in the portal can approve yet. Audited (role.approved) with your OS account."""
    user, scope = _user(email), _scope(role, site, study)
    pending = [
        a
        for a in user.roles
        if a.pending
        and a.role == role
        and a.site_id == scope.site_id
        and a.study_id == scope.study_id
    ]
    if not pending:
        raise click.ClickException("no such role request waiting for approval")
    try:
        role_approval.approve_as_operator(app_context(Actor.cli()), pending[0], reason, utcnow())
    except role_approval.ApprovalError as refused:
        raise click.ClickException(refused.message) from refused
    _done()
    click.echo(f"approved {role} for {email}")


@users_cli.command("revoke")
@click.argument("email")
@click.argument("role", type=ROLE_CHOICE)
@click.option("--site")
@click.option("--study")
@click.option("--reason", required=True)
def users_revoke(email, role, site, study, reason) -> None:
    """Revoke a live role assignment."""
    user, scope = _user(email), _scope(role, site, study)
    live = [
        a
        for a in user.roles
        if a.role == role and a.site_id == scope.site_id and a.study_id == scope.study_id
    ]
    if not live:
        raise click.ClickException("no such live role assignment")
    users.revoke_role(app_context(Actor.cli()), live[0], reason, utcnow())
    _done()
    click.echo(f"revoked {role} from {email}")


@users_cli.command("deactivate")
@click.argument("email")
@click.option("--reason", required=True)
def users_deactivate(email, reason) -> None:
    """Deactivate an account; its sessions end at once."""
    users.set_active(app_context(Actor.cli()), _user(email), False, reason, utcnow())
    _done()
    click.echo(f"deactivated {email}")


@users_cli.command("reset-2fa")
@click.argument("email")
@click.option("--reason", required=True)
def users_reset_factor(email, reason) -> None:
    """Revoke the authenticator; the user sets up a new one from a link (mailed, or printed)."""
    issued = users.reset_second_factor(app_context(Actor.cli()), _user(email), reason, utcnow())
    _done()
    click.echo(f"two-step sign-in reset for {email}")
    if issued.url:
        click.echo(f"link for a new authenticator (works once, 72 h): {issued.url}")


@sites_cli.command("add-study")
@click.argument("slug")
@click.argument("title")
def sites_add_study(slug: str, title: str) -> None:
    """Register a study."""
    study = Study(slug=slug, title=title)
    db.session.add(study)
    audit.record(
        db.session(), Actor.cli(), "study.created", target=study, new={"slug": slug, "title": title}
    )
    _done()
    click.echo(f"study {slug} added")


@sites_cli.command("add")
@click.argument("study_slug")
@click.argument("code")
@click.argument("name")
@click.argument("country")
@click.option("--timezone", default=None, help="IANA name; default: the country's usual zone")
def sites_add(study_slug: str, code: str, name: str, country: str, timezone: str | None) -> None:
    """Add a site (code, name, ISO country) to a study."""
    study = db.session.scalar(select(Study).where(Study.slug == study_slug))
    if study is None:
        raise click.ClickException(f"no study {study_slug}")
    if timezone is not None and timezone not in available_timezones():
        raise click.ClickException(f"unknown time zone {timezone} (e.g. Europe/Paris)")
    _add_site(study, code, name, country, timezone)
    _done()
    click.echo(f"site {code} added to {study_slug}")


@sites_cli.command("monitor-identity")
@click.argument("study_slug")
@click.argument("code")
@click.argument("setting", type=click.Choice(["on", "off"]))
@click.option("--reason", required=True, help="e.g. the national rule or consent-form clause")
def sites_monitor_identity(study_slug: str, code: str, setting: str, reason: str) -> None:
    """Let the site's monitors open identities (on), or not (off, the default)."""
    site = _site(study_slug, code)
    allowed = setting == "on"
    audit.record(
        db.session(), Actor.cli(), "site.monitor_identity", target=site, site_code=code,
        old={"monitors_see_identity": site.monitors_see_identity},
        new={"monitors_see_identity": allowed}, reason=reason,
    )  # fmt: skip
    site.monitors_see_identity = allowed
    _done()
    click.echo(f"monitors of {code} {'may' if allowed else 'may not'} open identities")


@sites_cli.command("timezone")
@click.argument("study_slug")
@click.argument("code")
@click.argument("zone")
@click.option("--reason", required=True)
def sites_timezone(study_slug: str, code: str, zone: str, reason: str) -> None:
    """Set the site's time zone (IANA name): today() and now() in its forms follow it."""
    site = _site(study_slug, code)
    if zone not in available_timezones():
        raise click.ClickException(f"unknown time zone {zone} (e.g. Europe/Paris)")
    audit.record(
        db.session(), Actor.cli(), "site.timezone", target=site, site_code=code,
        old={"timezone": site.timezone}, new={"timezone": zone}, reason=reason,
    )  # fmt: skip
    site.timezone = zone
    _done()
    click.echo(f"{code} keeps time in {zone}")


@sites_cli.command("list")
@click.argument("study_slug")
def sites_list(study_slug: str) -> None:
    """The study's sites: code, country, time zone, whether monitors may open identities, name."""
    study = db.session.scalar(select(Study).where(Study.slug == study_slug))
    if study is None:
        raise click.ClickException(f"no study {study_slug}")
    for site in study.sites:
        monitors = "monitors-see-identity" if site.monitors_see_identity else "-"
        click.echo(
            f"{site.code:<10} {site.country}  {site.timezone:<20} {monitors:<22} {site.name}"
        )


def _site(study_slug: str, code: str) -> Site:
    site = db.session.scalar(
        select(Site).join(Study).where(Study.slug == study_slug, Site.code == code)
    )
    if site is None:
        raise click.ClickException(f"no site {code} in {study_slug}")
    return site


def _add_site(
    study: Study, code: str, name: str, country: str, timezone: str | None = None
) -> Site:
    country = country.upper()[:2]
    zone = timezone or timezone_for(country)
    site = Site(study=study, code=code, name=name, country=country, timezone=zone)
    db.session.add(site)
    audit.record(
        db.session(),
        Actor.cli(),
        "site.created",
        target=site,
        site_code=code,
        new={
            "study": study.slug,
            "code": code,
            "name": name,
            "country": country,
            "timezone": zone,
        },
    )
    return site


def _refused(refused: definitions.DefinitionError) -> NoReturn:
    """Every located problem on stderr, then exit 1: nothing of the load is stored."""
    db.session.rollback()
    for message in refused.messages:
        click.echo(message, err=True)
    click.echo("nothing stored", err=True)
    sys.exit(1)


@studies_cli.command("load")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def studies_load(folder: Path) -> None:
    """Store a study folder's study.yaml and new form versions (the study is added if new).

    A form changed without a higher `version:` refuses the whole load.
    """
    actor = Actor.cli()
    try:
        checked = definitions.read_folder(folder)
        study, created = definitions.find_or_create_study(app_context(actor), checked)
        outcome = definitions.store_definition(app_context(actor), study, checked, utcnow())
    except definitions.DefinitionError as refused:
        _refused(refused)
    _done()
    if created:
        click.echo(f"added study {study.slug}: {study.title}")
    for warning in outcome.warnings:
        click.echo(warning)
    state = "stored" if outcome.study_stored else "unchanged"
    click.echo(f"{state} {study.slug} study.yaml (sha256 {outcome.definition.sha256})")
    for result in outcome.forms:
        version = result.form_version
        state = "stored" if result.stored else "unchanged"
        click.echo(f"{state} {version.form_id} v{version.version} (sha256 {version.sha256})")


@studies_cli.command("versions")
@click.argument("slug")
def studies_versions(slug: str) -> None:
    """Every stored form version of a study; the highest of each form is the current one."""
    study = db.session.scalar(select(Study).where(Study.slug == slug))
    if study is None:
        raise click.ClickException(f"no study {slug}")
    versions = definitions.form_versions(db.session(), study.id)
    if not versions:
        click.echo(f"no form versions stored for {slug}: run `flask studies load studies/{slug}`")
        return
    current = {v.form_id: v.version for v in versions}  # ordered by version: the last wins
    for version in versions:
        who = db.session.get(User, version.loaded_by_id) if version.loaded_by_id else None
        click.echo(
            f"{version.form_id:24s} v{version.version:<4d} "
            f"{version.loaded_at:%Y-%m-%d %H:%M} UTC  "
            f"{who.email if who else 'command line':30s} sha256 {version.sha256}"
            + ("  current" if current[version.form_id] == version.version else "")
        )


@audit_cli.command("verify")
def audit_verify() -> None:
    """Exit 0 when the whole chain is intact and still holds the last checkpoint; otherwise name
    the first bad event, or the truncation."""
    anchors = audit_anchor.read(_settings())  # first: a checkpoint never names a newer chain
    conn = db.session.connection()
    result = audit.verify(conn)
    anchored = audit_anchor.check(conn, anchors)
    if result.ok and not anchored.problems:
        click.echo(f"audit trail intact: {result.checked} events verified")
        click.echo(anchored.note)
        return
    if result.ok:
        click.echo(f"audit chain consistent: {result.checked} events verified", err=True)
    else:
        click.echo(f"audit trail BROKEN at event {result.bad_seq}: {result.problem}", err=True)
        click.echo(f"({result.checked} events before it verified)", err=True)
    for problem in anchored.problems:
        click.echo(problem, err=True)
    if anchored.note:
        click.echo(anchored.note, err=True)
    sys.exit(1)


@audit_cli.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign the chain's head and append it to the checkpoint file (and the log); print it."""
    point = audit_anchor.checkpoint(db.session.connection(), _settings())
    click.echo(point.line())


DEMO_STUDY = ("siopen-nb", "SIOPEN neuroblastoma registry (demo)")
DEMO_FOLDER = ROOT / "studies" / "siopen-nb"
DEMO_SITES = [
    ("FR-01", "Centre de démonstration, Paris", "FR"),
    ("IT-01", "Centro dimostrativo, Genova", "IT"),
    ("ES-01", "Centro de demostración, Valencia", "ES"),
]
# Personal demo accounts (no shared logins): e-mail, name, role, site or study.
DEMO_USERS = [
    ("claire.martin@demo.siopen.test", "Claire Martin", Role.NURSE, "FR-01"),
    ("giulia.rossi@demo.siopen.test", "Giulia Rossi", Role.INVESTIGATOR, "IT-01"),
    ("lucia.garcia@demo.siopen.test", "Lucía García", Role.MONITOR, "ES-01"),
    ("jonas.weber@demo.siopen.test", "Jonas Weber", Role.DATA_MANAGER, "siopen-nb"),
    ("pablo.ruiz@demo.siopen.test", "Pablo Ruiz", Role.NURSE, "ES-01"),
    ("emma.hughes@demo.siopen.test", "Emma Hughes", Role.ADMIN, None),
]


def _logins_file() -> Path:
    return Path(current_app.instance_path) / "demo-logins.txt"


@demo_cli.command("seed")
def demo_seed() -> None:
    """Create the demo study, three sites and one enrolled account per role; print the logins."""
    study = db.session.scalar(select(Study).where(Study.slug == DEMO_STUDY[0]))
    if study is not None:
        click.echo("demo study already seeded")
        _print_logins()
        return
    actor, now = Actor.cli(), utcnow()
    study = Study(slug=DEMO_STUDY[0], title=DEMO_STUDY[1])
    db.session.add(study)
    audit.record(db.session(), actor, "study.created", target=study, new={"slug": study.slug})
    sites = {code: _add_site(study, code, name, country) for code, name, country in DEMO_SITES}
    db.session.flush()
    try:
        definitions.load_definition(app_context(actor), study, DEMO_FOLDER, now)
    except definitions.DefinitionError as refused:
        _refused(refused)
    lines = []
    data_staff: dict[int, User] = {}
    for email, name, role, where in DEMO_USERS:
        password = secrets.token_urlsafe(12)
        user = User(
            email=email,
            full_name=name,
            password_hash=passwords.hash_password(password),
            must_change_password=False,
            identity_check="demo account: no real person",
            totp_secret=crypto.encrypt(totp.new_secret()),
            created_at=now,
        )
        db.session.add(user)
        audit.record(
            db.session(), actor, "user.created", target=user, new={"email": email, "demo": True}
        )
        db.session.flush()
        scope = users.RoleScope(
            role,
            site_id=sites[where].id if where in sites else None,
            study_id=study.id if where == study.slug else None,
        )
        assignment = users.assign_role(app_context(actor), user, scope, now)
        if assignment.pending:  # nobody is there to approve the demo's staff: the operator does
            role_approval.approve_as_operator(app_context(actor), assignment, "demo seed", now)
        lines.append(f"{role.value:13s} {email:36s} {password}")
        if role in (Role.NURSE, Role.INVESTIGATOR) and where in sites:
            data_staff[sites[where].id] = user
    demo.seed_subjects(db.session(), data_staff, now)
    _done()
    path = _logins_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    _print_logins()


def _print_logins() -> None:
    path = _logins_file()
    if not path.exists():
        click.echo("no demo logins recorded on this machine")
        return
    click.echo("Demo logins (role, e-mail, password):")
    click.echo(path.read_text().rstrip())
    click.echo("Second step: run `flask demo totp <e-mail>` for the current 6-digit code.")


@demo_cli.command("logins")
def demo_logins() -> None:
    """Print the demo logins again."""
    _print_logins()


@demo_cli.command("totp")
@click.argument("email")
def demo_totp(email: str) -> None:
    """Print the current TOTP code of a demo account (what its authenticator app would show)."""
    user = _user(email)
    if user.totp_secret is None or not user.email.endswith("@demo.siopen.test"):
        raise click.ClickException("only enrolled demo accounts have codes shown here")
    click.echo(totp.current_code(crypto.decrypt(user.totp_secret), datetime.now(UTC)))


@forms_cli.command("check")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
def forms_check(folder: str) -> None:
    """Lint a study folder: every problem as file:line:column: code: message (fix). Besides the
    forms, the checks registered in `edc.study_checks` run (e.g. the consent documents)."""
    study: forms_dsl.Study | None = None
    problems: list[forms_dsl.DslError] = []
    try:
        result = forms_dsl.load_study(folder)
    except forms_dsl.FormsDslError as err:
        problems.extend(err.errors)
    else:
        assert isinstance(result.value, forms_dsl.Study)
        study = result.value
        problems.extend(result.warnings)
    problems.extend(study_checks.run(current_app, Path(folder)))
    errors = sum(not p.is_warning for p in problems)
    if study is None or errors:
        for problem in problems:
            click.echo(str(problem), err=not problem.is_warning)
        click.echo(f"{errors} error(s) in {folder}", err=True)
        sys.exit(1)
    for warning in problems:
        click.echo(f"{warning} [warning]")
    fields = sum(len(form.fields) for form in study.forms.values())
    tables = sum(len(form.decision_tables) for form in study.forms.values())
    click.echo(
        f"{study.slug}: {len(study.forms)} form(s), {fields} field(s), {tables} decision "
        f"table(s), {len(problems)} warning(s), no errors"
    )


@forms_cli.command("decide")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.argument("target", metavar="FORM.TABLE")
@click.option("--input", "raw_input", required=True, help="Input values as a JSON object.")
@click.option("--lang", default="en", show_default=True, help="Language of the explanation.")
def forms_decide(folder: str, target: str, raw_input: str, lang: str) -> None:
    """Run one decision table on the given inputs and print the decision as JSON."""
    form_id, _dot, table_id = target.partition(".")
    try:
        study = forms_dsl.load_study(folder).value
    except forms_dsl.FormsDslError as err:
        raise click.ClickException(
            f"the study has errors; run `flask forms check`:\n{err}"
        ) from err
    assert isinstance(study, forms_dsl.Study)
    form = study.forms.get(form_id)
    if form is None or table_id not in form.decision_tables:
        raise click.ClickException(f"no decision table {target} in {folder}")
    try:
        values = json.loads(raw_input, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"--input is not valid JSON: {exc}") from exc
    if not isinstance(values, dict):
        raise click.ClickException("--input must be a JSON object of input values")
    decision = forms_dsl.decide(form.decision_tables[table_id], values, lang)
    click.echo(
        json.dumps(
            {
                "table": target,
                "classifiable": decision.classifiable,
                "outputs": decision.outputs,
                "row": decision.row,
                "flags": list(decision.flags),
                "missing": list(decision.missing),
                "explanation": list(decision.explanation),
            },
            ensure_ascii=False,
            indent=2,
        )
    )


@vault_cli.command("rotate")
def vault_rotate() -> None:
    """Re-encrypt every identity with the current key (EDC_VAULT_KEY; old ones in
    EDC_VAULT_OLD_KEYS). Afterwards the old keys can be removed."""
    from edc.services import subjects

    count = subjects.rotate_vault(app_context(Actor.cli()))
    _done()
    click.echo(f"{count} identities re-encrypted with the current key")


@vault_cli.command("reindex")
def vault_reindex() -> None:
    """Recompute the blind indexes that find duplicate registrations (after an upgrade that
    could not compute them, or a restore). Safe to run again."""
    from edc.services import subjects

    count = subjects.reindex_vault(app_context(Actor.cli()))
    _done()
    click.echo(f"{count} identities reindexed")


def register_cli(app: Flask) -> None:
    groups = (users_cli, sites_cli, studies_cli, audit_cli, demo_cli, forms_cli, vault_cli)
    for group in (*groups, registry_cli, export_cli):
        app.cli.add_command(group)
