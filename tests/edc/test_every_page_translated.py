"""Every page and htmx fragment reads in the reader's language, as labelled text.

The demo study is seeded (three sites, thirty children in every stage of data entry, status
changes, audit events) and one person of each role signs in; security events, a role request, a
link request and an added visit are made so the pages that list them have rows. Then, in each
shipped language, every GET route of `app.url_map` is requested as every role (a route added
later is walked without touching this file), and every same-site link and `hx-get` found on those
pages is followed too (a few per route), so each CRF form, history fragment and identity
fragment is read. The CRF live redraw (an htmx POST) is requested for each form reached.

On each page the text a person reads (text nodes, and the title, placeholder, aria-label, alt
attributes and button values) is checked:
- in a language other than English, no text is an English message of the catalog whose
  translation differs, and no English word from `ENGLISH` shows (e.g. "31 months");
- in every language, no JSON or Python dict, no internal codes (`user_id`, `auth.login_failed`),
  no UUIDs and no `None`.
Data people typed or that name things (site names, user names, e-mails, the demo's reasons) are
taken out before the checks.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from edc import demo
from edc.access import Role
from edc.actor import Actor
from edc.context import Context
from edc.extensions import db
from edc.models.base import utcnow
from edc.models.studies import Site, Study
from edc.models.subjects import Subject
from edc.models.users import User
from edc.services import casebook, definitions, export_jobs, links, users
from edc.settings import LANGUAGES, ROOT
from tests.conftest import https_client
from tests.factories import DEFAULT_PASSWORD, csrf, login, make_user, next_code
from tests.html_forms import submitted

ROLES = ("anonymous", "nurse", "monitor", "investigator", "data_manager", "admin")

#: Routes that are not pages a person reads, or that need a state of their own.
NOT_PAGES = {
    "static",  # files, not pages
    "health.health",  # a machine's probe: JSON on purpose
    "admin.security_csv",  # downloads, read in a spreadsheet
    "admin.access_review_csv",
    "audit_review.trail_csv",
    "consent.signer_copy",  # the sealed PDF
    "subjects.casebook_download",  # the casebook PDF (its words: tests/edc/test_casebook_pdf.py)
    "exports.export_download",  # the export file (its words: tests/edc/exports)
}
#: The kiosk's pages: a tablet handed over to a signer; read by `_kiosk_pages`.
KIOSK_STEPS = {
    "kiosk.home", "kiosk.language", "kiosk.read", "kiosk.pause", "kiosk.questions", "kiosk.sign",
    "kiosk.leave",
}  # fmt: skip
#: A parent's own browser invited to consent from home; read by `_remote_pages`.
REMOTE_STEPS = {
    "remote.invitation", "remote.code", "remote.home", "remote.language", "remote.read",
    "remote.pause", "remote.questions", "remote.sign",
}  # fmt: skip
#: Sign-in steps: each needs its own state of the browser; read by `_sign_in_pages`.
SIGN_IN_STEPS = {"auth.login_page", "auth.code", "auth.new_password", "auth.enrol"}

#: English words that never belong on a page in another language (whole words, any case where
#: marked (?i)). "No" is Italian and Spanish too, so it is not listed.
ENGLISH = [
    r"(?i)\b(?:months?|weeks?|days?|years?|hours?|minutes?|seconds)\b",
    r"(?i)\b(?:ago|never|today|yesterday)\b",
    r"\b(?:the|and|with|of|for|from|to|your|this|not|or)\b",
    r"\b(?:Yes|Save|Cancel|Search|Show|Hide|Edit|Back|Next|Previous|Download|Sign)\b",
    r"\bLast sign-in\b",
    r"\b(?:Draft|Complete|Locked|Enrolled|Pending|Active|Inactive)\b",
    r"\b(?:anonymous|system|operator)\b|\bcli:\w+",
]
#: Internal things a page must not show, in any language.
INTERNAL = {
    "JSON or a dict": re.compile(r"\{\s*[\"']|[\"']\s*:\s|\[\s*\{"),
    "a UUID": re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"),
    "an internal code": re.compile(
        r"\b[a-z]+(?:_[a-z]+)+\b"  # user_id, role_assignment
        r"|\b(?:auth|user|role|access|export|security|subject|item|record|identity)\.[a-z_]+\b"
        r"|\b[a-z_]+@\d+\b"  # a form version's id (diagnosis@3)
    ),
    "Python's None": re.compile(r"\bNone\b"),
}
#: Per route, how many more URLs found in links are read (different forms, fragments).
FOLLOW = 6


class _Visible(HTMLParser):
    """The text a person reads on a page: text nodes, and the attributes read aloud or shown."""

    SKIP = {"script", "style"}
    ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.links: list[str] = []
        self._skipping = 0
        self._textarea = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in self.SKIP:
            self._skipping += 1
        if tag == "textarea":
            self._textarea += 1
        for name in self.ATTRIBUTES:
            if a.get(name):
                self.texts.append(a[name] or "")
        kind = (a.get("type") or "").lower()
        if tag == "input" and kind in ("submit", "button", "reset") and a.get("value"):
            self.texts.append(a["value"] or "")
        for name in ("href", "hx-get"):
            if a.get(name):
                self.links.append(a[name] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skipping:
            self._skipping -= 1
        if tag == "textarea" and self._textarea:
            self._textarea -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping and not self._textarea and data.strip():
            self.texts.append(data)


def visible(html: str) -> tuple[list[str], list[str]]:
    """The page's visible texts (whitespace collapsed) and the URLs it links to."""
    parser = _Visible()
    parser.feed(html)
    return [" ".join(t.split()) for t in parser.texts], parser.links


def _english_messages(lang: str) -> set[str]:
    """English messages of the catalog that `lang` translates differently."""
    with open(ROOT / "translations" / lang / "LC_MESSAGES" / "messages.po", "rb") as fh:
        catalog = read_po(fh, locale=lang)
    found = set()
    for message in catalog:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in map(str, ids):
            if text and "%(" not in text and text not in strings:
                found.add(" ".join(text.split()))
    return found


def _alike_in(lang: str) -> set[str]:
    """The demo study's texts (form titles, sections, labels, choices) its authors wrote alike
    in English and in `lang`."""
    study = db.session.scalar(select(Study).where(Study.slug == "siopen-nb"))
    assert study is not None
    found: set[str] = set()
    for version in definitions.form_versions(db.session, study.id):
        form = definitions.form_model(version)
        texts = [form.title, *(s.title for s in form.sections), *(f.label for f in form)]
        texts += [c.label for f in form if f.choices for c in f.choices.choices]
        found |= {t.get("en") for t in texts if t.get(lang) == t.get("en")}
    return found


@dataclass
class Walk:
    """Pages read so far and what was wrong on them."""

    lang: str
    data: list[str]
    messages: set[str]
    problems: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    reached: set[str] = field(default_factory=set)
    #: The study's own words that read alike in English and this language (a label "Site" is
    #: French too): shown alone, they are the study's, not an untranslated message of ours.
    authored: set[str] = field(default_factory=set)

    def check(self, where: str, html: str) -> list[str]:
        """Record the leftovers of one page; its links."""
        texts, found = visible(html)
        for raw in texts:
            text = raw
            for datum in self.data:
                text = text.replace(datum, " ")
            text = text.strip()
            if not text:
                continue
            for what, pattern in INTERNAL.items():
                if pattern.search(text):
                    self.problems.append(f"{where}: {what}: {raw!r}")
            if self.lang == "en":
                continue
            if text in self.messages and text not in self.authored:
                self.problems.append(f"{where}: untranslated: {raw!r}")
                continue
            for english in ENGLISH:
                if re.search(english, text):
                    self.problems.append(f"{where}: English: {raw!r}")
                    break
        return found


@dataclass
class Demo:
    """The seeded demo and the people who read it."""

    people: dict[str, User]
    values: dict[str, str]
    data: list[str]


def _seed(app: Flask) -> Demo:
    """The demo study with its thirty children, one person per role, and rows for every list."""
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    study = db.session.scalar(select(Study).where(Study.slug == "siopen-nb"))
    site = db.session.scalar(select(Site).where(Site.code == "FR-01"))
    assert study is not None
    assert site is not None
    people = {
        "nurse": make_user(roles=[(Role.NURSE, site)]),
        "monitor": make_user(roles=[(Role.MONITOR, site)]),
        "investigator": make_user(roles=[(Role.INVESTIGATOR, site)]),
        "data_manager": make_user(roles=[(Role.DATA_MANAGER, study)]),
        "admin": make_user(roles=[(Role.ADMIN, None)]),
    }
    now, session = utcnow(), db.session()
    admin = Actor(user=people["admin"])
    newcomer = make_user()  # a nurse role requested for them, waiting for the investigator
    as_admin = Context(session=session, actor=admin, settings=app.config["EDC_SETTINGS"])
    users.assign_role(as_admin, newcomer, users.RoleScope(Role.NURSE, site.id), now)
    links.issue(as_admin, newcomer, links.RESET, now)
    invited = make_user(must_change_password=True, enrolled=False)
    operator = Context(session=session, actor=Actor.cli(), settings=app.config["EDC_SETTINGS"])
    handed = links.issue(operator, invited, links.INVITATION, now)
    subject = db.session.scalars(
        select(Subject).where(Subject.site_id == site.id).order_by(Subject.id)
    ).first()
    assert subject is not None
    nurse = Actor(user=people["nurse"])
    number = casebook.add_occurrence(
        Context(session, nurse),
        subject,
        "follow_up",
        now,
        visit_date=now.date() - dt.timedelta(days=3),
    )
    signed, handed_over = _consents(app, subject, people["nurse"])
    # An export of the investigator's site, waiting (its page polls; its file is not ready).
    as_investigator = Context(session, Actor(user=people["investigator"]))
    job = export_jobs.request_export(as_investigator, f"site:{site.id}", "csv")
    query_id = _review(app, subject, people, site)
    db.session.commit()
    people["invited"] = invited
    values = {
        "session_id": str(signed),
        "kiosk_session": str(handed_over),
        "code": subject.study_code,
        "site_code": site.code,
        "event_id": "diagnosis",
        "number": "1",
        "form_id": "diagnosis",
        "path": "inrg_stage",
        "user_id": str(people["nurse"].id),
        "token": (handed.url or "").rsplit("/", 1)[-1],
        "visit": f"follow_up/{number}",
        "query_id": str(query_id),
        "job_id": str(job.id),
    }
    data = [
        *db.session.scalars(select(Study.title)),
        *db.session.scalars(select(Site.name)),
        *db.session.scalars(select(User.full_name)),
        *db.session.scalars(select(User.email)),
        *db.session.scalars(select(User.identity_check)),
        demo.CONFIRMED,
        demo.NOT_ELIGIBLE,
        *(reason for _status, reason in demo.LATER_STATUSES.values()),
        *(note for *_what, note in demo.WITHDRAWALS.values()),
        # a status change's reason, stored in the language of whoever recorded the withdrawal
        "Consent to further data collection withdrawn.",
        "Eligibility confirmed and consent signed (demo data).",
        "Carboplatin and etoposide (demo data)",  # answers typed in the demo's forms
        "Rapid COJEC (demo data)",
        "demo seed",
        "demo: check the stage",
        "demo: stage confirmed",
        "demo: monitoring plan",
    ]
    return Demo(people, values, sorted(set(data), key=len, reverse=True))


def _review(app: Flask, subject: Subject, people: dict[str, User], site: Site) -> int:
    """A query on the diagnosis (raised, answered), its items verified, a site's SDV plan drawn
    and another subject's form locked: every review page has rows to show."""
    from edc.services import entries, locks, queries, sdv

    settings = app.config["EDC_SETTINGS"]
    monitor = Context(db.session(), Actor(user=people["monitor"]), settings=settings)
    entry = entries.open_entry(monitor, subject, "diagnosis", 1, "diagnosis")
    assert entry is not None
    assert entry.record is not None
    query = queries.raise_query(monitor, entry, "inrg_stage", "demo: check the stage")
    nurse = Context(db.session(), Actor(user=people["nurse"]), settings=settings)
    queries.step(nurse, entry, query, "answered", "demo: stage confirmed")
    sdv.verify(monitor, entry, None, entry.record.row_version)
    manager = Context(db.session(), Actor(user=people["data_manager"]), settings=settings)
    sdv.set_plan(manager, site, "sample", 25, "demo: monitoring plan")
    other = db.session.scalars(
        select(Subject).where(Subject.site_id == site.id, Subject.id != subject.id)
    ).first()
    assert other is not None
    locks.place(manager, locks.Target(locks.Level.SUBJECT, other.study, subject=other), "demo")
    return query.id


def _consents(app: Flask, subject: Subject, nurse: User) -> tuple[int, int]:
    """Two consent sessions of the subject: one signed by everyone, waiting for the
    investigator's countersignature, and one prepared for the tablet."""
    from econsent.services import sessions, signing
    from tests.econsent.kiosk.conftest import all_yes, right_answers, signed

    ctx = Context(db.session(), Actor(user=nurse), settings=app.config["EDC_SETTINGS"])
    prep = sessions.Preparation(language="fr", identity_document="passport")
    done = sessions.prepare(ctx, subject, prep)
    while (role := sessions.next_signer(done)) is not None:
        answers = right_answers(done, role)
        signing.sign(ctx, done, role, signed("Claire Martin", **all_yes(done, role)), answers)
    waiting = sessions.prepare(ctx, subject, prep)
    return done.id, waiting.id


def _kiosk_pages(app: Flask, walk: Walk, seeded: Demo) -> None:
    """The tablet handed to a parent: language, a section, the pause, the questions (answered
    rightly), the signature page and the staff's exit (after the walk: it keeps its browser)."""
    from econsent.models import ConsentSession
    from econsent.services import sessions

    client = _browser(app, "nurse", seeded.people["nurse"], walk.lang)
    staff = f"/consent/sessions/{seeded.values['kiosk_session']}"
    kiosk = client.post(staff + "/handover", data={"csrf_token": csrf(client, staff)})
    base = kiosk.headers["Location"]
    _step(client, walk, base + "/language")
    choose = {"language": walk.lang, "csrf_token": csrf(client, base + "/language")}
    assert client.post(base + "/language", data=choose).status_code == 302
    for page in ("/read/1", "/pause", "/questions", "/exit"):
        _step(client, walk, base + page)
    cs = db.session.get(ConsentSession, int(seeded.values["kiosk_session"]))
    answers = {f"q-{q}": a for q, a in sessions.correct_answers(cs, "parent_1").items()}
    answers["csrf_token"] = csrf(client, base + "/questions")
    assert client.post(base + "/questions", data=answers).status_code == 302
    _step(client, walk, base + "/sign")
    home = client.get(base, follow_redirects=True)
    walk.check(f"nurse GET {base} (kiosk)", home.get_data(True))
    walk.reached.update(KIOSK_STEPS)


def _remote_invitation(app: Flask, nurse: User, lang: str) -> tuple[str, str, int]:
    """A child at FR-01 whose mother is invited to consent from home (remote consent allowed
    in a copy of the demo's rules): the link's path, the code to read out, the session."""
    import shutil
    import tempfile
    from dataclasses import replace

    from econsent.library import use_folder
    from econsent.services import invitations
    from edc.services import subjects

    folder = Path(tempfile.mkdtemp()) / "siopen-nb"
    shutil.copytree(ROOT / "studies" / "siopen-nb", folder)
    rules = folder / "consent" / "rules.yaml"
    rules.write_text(rules.read_text().replace("remote_consent: false", "remote_consent: true"))
    use_folder("siopen-nb", folder)
    site = db.session.scalar(select(Site).where(Site.code == "FR-01"))
    assert site is not None
    settings = replace(app.config["EDC_SETTINGS"], mail_backend="console")
    ctx = Context(db.session(), Actor(user=nurse), settings=settings)
    mother = subjects.Guardian(name="Ana Remote", relationship="mother", email="ana@home.test")
    child = subjects.Identity("Remote", "Léa", dt.date(utcnow().year - 2, 1, 1), "female",
                              guardians=(mother,))  # fmt: skip
    subject = subjects.register(ctx, site.id, child, utcnow(), confirm_duplicate=True)
    choice = invitations.Invite(0, lang, "not_reasonably_available")
    with app.test_request_context():  # the mail is rendered with the app's templates
        invited = invitations.invite(ctx, subject, choice)
        body = db.session.info.pop("edc_outbox")[0].message.get_body(("plain",)).get_content()
        db.session.commit()
    use_folder("siopen-nb", ROOT / "studies" / "siopen-nb")
    link = "/remote/invitation/" + body.split("/remote/invitation/", 1)[1].split()[0]
    return link, invited.printed_code, invited.session.id


def _remote_pages(app: Flask, walk: Walk, seeded: Demo) -> None:
    """A parent invited to consent from home, in their own browser: the link's page, the code,
    the kiosk's pages (language, a section, the pause, the questions, the signature), the
    closing page, and the used link's page in plain words."""
    from econsent.models import ConsentSession
    from econsent.services import sessions
    from tests.econsent.kiosk.conftest import STROKES, png_data_url

    link, code, session_id = _remote_invitation(app, seeded.people["nurse"], walk.lang)
    client = _browser(app, "anonymous", None, walk.lang)
    _step(client, walk, link)
    assert client.post(link, data={"csrf_token": csrf(client, link)}).status_code == 302
    _step(client, walk, "/remote/code")
    typed = {"code": code, "csrf_token": csrf(client, "/remote/code")}
    entered = client.post("/remote/code", data=typed)
    base = entered.headers["Location"]
    _step(client, walk, base + "/language")
    choose = {"language": walk.lang, "csrf_token": csrf(client, base + "/language")}
    assert client.post(base + "/language", data=choose).status_code == 302
    for page in ("/read/1", "/pause", "/questions"):
        _step(client, walk, base + page)
    cs = db.session.get(ConsentSession, session_id)
    assert cs is not None
    answers = {f"q-{q}": a for q, a in sessions.correct_answers(cs, "parent_1").items()}
    answers["csrf_token"] = csrf(client, base + "/questions")
    assert client.post(base + "/questions", data=answers).status_code == 302
    _step(client, walk, base + "/sign")
    options = {f"option-{o.id}": "yes" for o in sessions.text_for(cs, "parent_1").options}
    signature = {"printed_name": "Ana Remote", "strokes": STROKES, "image": png_data_url(),
                 "csrf_token": csrf(client, base + "/sign"), **options}  # fmt: skip
    assert client.post(base + "/sign", data=signature).status_code == 302
    walk.check(f"anonymous GET {base} (remote, signed)", client.get(base).get_data(True))
    walk.check(f"anonymous GET {link} (used)", client.get(link).get_data(True))
    walk.reached.update(REMOTE_STEPS)


def _url(rule: str, endpoint: str, values: dict[str, str]) -> str:
    """The rule filled with good values (the added follow-up visit where an occurrence is
    changed or removed)."""
    if endpoint in ("subjects.visit_date", "subjects.occurrence_remove"):
        event, number = str(values["visit"]).split("/")
        values = {**values, "event_id": event, "number": number}
    if endpoint == "subjects.occurrence_add":
        values = {**values, "event_id": "follow_up"}

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"{endpoint}: give <{name}> a good value in _seed's `values`"
        return values[name]

    return re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", fill, rule)


def _browser(app: Flask, role: str, person: User | None, lang: str) -> FlaskClient:
    client = https_client(app)
    if person is not None:
        login(client, person)
    with client.session_transaction() as session:
        session["lang"] = lang
    return client


def _get_pages(app: Flask) -> Iterator[tuple[str, str]]:
    for rule in app.url_map.iter_rules():
        if (
            "GET" in (rule.methods or ())
            and rule.endpoint not in NOT_PAGES | SIGN_IN_STEPS | KIOSK_STEPS | REMOTE_STEPS
        ):
            yield rule.endpoint, rule.rule


def _read(
    client: FlaskClient, walk: Walk, role: str, url: str, htmx: bool = False, endpoint: str = ""
) -> list[str]:
    """GET one page (or its htmx fragment) and check it; the links it holds."""
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.get(url, headers=headers)
    if response.status_code != 200 or not str(response.mimetype).startswith("text/html"):
        return []
    walk.seen.add(url)
    if endpoint:
        walk.reached.add(endpoint)
    return walk.check(f"{role} GET {url}{' (htmx)' if htmx else ''}", response.get_data(True))


def _redraw(client: FlaskClient, walk: Walk, role: str, url: str) -> None:
    """The CRF live redraw (htmx), whole and by section, with what the page's form holds."""
    page = client.get(url)
    html = page.get_data(as_text=True)
    if page.status_code != 200 or "/evaluate" not in html:
        return
    form = submitted(html)
    for changed in ({}, {"X-CRF-Changed": "inrg_stage"}):
        response = client.post(
            f"{url}/evaluate", data=form, headers={"HX-Request": "true", **changed}
        )
        assert response.status_code == 200, f"{url}/evaluate: {response.status_code}"
        walk.reached.add("crf.form_evaluate")
        walk.check(f"{role} POST {url}/evaluate (htmx {changed})", response.get_data(True))


def _walk_role(app: Flask, walk: Walk, seeded: Demo, role: str) -> None:
    client = _browser(app, role, seeded.people.get(role), walk.lang)
    for endpoint, rule in sorted(_get_pages(app)):
        url = _url(rule, endpoint, seeded.values)
        found = _read(client, walk, role, url, endpoint=endpoint)
        found += _read(client, walk, role, url, htmx=True)
        followed = 0
        for link in found:
            target = urlsplit(link)
            if target.netloc or not str(target.path).startswith("/") or link in walk.seen:
                continue
            if (
                str(target.path).startswith(("/static", "/logout", "/health"))
                or ".csv" in link
                or ".pdf" in link
            ):
                continue
            if followed >= FOLLOW:
                break
            followed += 1
            _read(client, walk, role, link)
            if "/events/" in link and link.count("/") == 6 and role == "nurse":
                _redraw(client, walk, role, link)
    if role == "nurse":
        _redraw(
            client,
            walk,
            role,
            _url(
                "/subjects/<code>/events/<event_id>/<number>/<form_id>",
                "crf.form_page",
                seeded.values,
            ),
        )


def _sign_in_pages(app: Flask, walk: Walk, seeded: Demo) -> None:
    """The sign-in steps, each in the state that shows it (after the walk: it uses the link)."""
    client = _browser(app, "anonymous", None, walk.lang)
    walk.check("GET /login", client.get("/login").get_data(True))
    client.post("/login", data={"email": "nobody@test.example", "password": "wrong",
                                "csrf_token": csrf(client, "/login")})  # fmt: skip
    walk.check("POST /login (refused)", client.post("/login", data={}).get_data(True))
    nurse = seeded.people["nurse"]
    client.post("/login", data={"email": nurse.email, "password": DEFAULT_PASSWORD,
                                "csrf_token": csrf(client, "/login")})  # fmt: skip
    _step(client, walk, "/login/code")
    renewing = make_user(must_change_password=True)  # a reset password: a new one is chosen
    client = _browser(app, "anonymous", None, walk.lang)
    client.post("/login", data={"email": renewing.email, "password": DEFAULT_PASSWORD,
                                "csrf_token": csrf(client, "/login")})  # fmt: skip
    client.post("/login/code", data={"code": next_code(renewing),
                                     "csrf_token": csrf(client, "/login/code")})  # fmt: skip
    _step(client, walk, "/login/password")
    client = _browser(app, "anonymous", None, walk.lang)  # the invitation: password, then TOTP
    link = f"/account/activate/{seeded.values['token']}"
    password = "a quiet harbour at dawn in spring"
    client.post(link, data={"password": password, "confirm": password,
                            "csrf_token": csrf(client, link)})  # fmt: skip
    _step(client, walk, "/login/enrol")
    walk.reached.update(SIGN_IN_STEPS)


def _step(client: FlaskClient, walk: Walk, url: str) -> None:
    page = client.get(url)
    assert page.status_code == 200, f"{url}: {page.status_code}"
    walk.check(f"anonymous GET {url}", page.get_data(True))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_and_fragment_reads_in_the_language_as_labelled_text(app, lang):
    seeded = _seed(app)
    walk = Walk(lang, seeded.data, _english_messages(lang) if lang != "en" else set())
    walk.authored = _alike_in(lang)
    for role in ROLES:
        _walk_role(app, walk, seeded, role)
    _sign_in_pages(app, walk, seeded)
    _kiosk_pages(app, walk, seeded)
    _remote_pages(app, walk, seeded)
    unreached = {e for e, _r in _get_pages(app)} - walk.reached
    assert not unreached, f"no role could read {sorted(unreached)}: give them data"
    if walk.problems:  # all of them, not cut short like an assertion's message
        pytest.fail(f"{len(walk.problems)} leftovers:\n" + "\n".join(sorted(set(walk.problems))))
