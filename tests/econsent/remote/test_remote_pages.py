"""Remote consent through HTTP and real mail: staff invite a parent, the e-mailed link and the
code each work once, three wrong codes lock the invitation, the parent signs on the kiosk's
pages from their own browser, the investigator countersigns, and the copy is e-mailed."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

from sqlalchemy import func, select

from econsent.models import ConsentInvitation, ConsentSession
from econsent.services import sessions
from edc.extensions import db
from edc.models.audit import AuditEvent
from tests.econsent.kiosk.conftest import STROKES, png_data_url
from tests.econsent.remote.conftest import PARENT, link_path, mailed_code
from tests.factories import another_browser, csrf, login, next_code


def _invite(client, h, language="es", exception="", status=200) -> str:
    login(client, h.nurse)
    page = f"/consent/subjects/{h.subject.study_code}/remote"
    data = {"csrf_token": csrf(client, page), "guardian": "0", "language": language,
            "parent_exception": exception}  # fmt: skip
    response = client.post(page, data=data)
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def _session(h) -> ConsentSession:
    db.session.expire_all()
    return db.session.scalars(
        select(ConsentSession).where(ConsentSession.subject_id == h.subject.id)
    ).one()


def _invitation(h) -> ConsentInvitation:
    cs = _session(h)
    return db.session.scalars(
        select(ConsentInvitation).where(ConsentInvitation.session_id == cs.id)
    ).one()


def _open(signer, link: str) -> None:
    start = signer.get(link)
    assert start.status_code == 200, start.get_data(as_text=True)
    opened = signer.post(link, data={"csrf_token": csrf(signer, link)})
    assert opened.status_code == 302
    assert opened.headers["Location"].endswith("/remote/code")


def _code(signer, code: str):
    return signer.post(
        "/remote/code", data={"csrf_token": csrf(signer, "/remote/code"), "code": code}
    )


def _sign(signer, h, home_path: str) -> None:
    """Language, questions and signature on the kiosk's pages, from the parent's browser."""
    language = home_path + "/language"
    chosen = signer.post(language, data={"csrf_token": csrf(signer, language), "language": "es"})
    assert chosen.headers["Location"].endswith("/read/1")
    read = signer.get(home_path + "/read/1").get_data(as_text=True)
    assert "<progress" in read
    assert "For staff" not in read
    cs = _session(h)
    answers = {f"q-{q}": a for q, a in sessions.correct_answers(cs, "parent_1").items()}
    questions = home_path + "/questions"
    passed = signer.post(questions, data={"csrf_token": csrf(signer, questions), **answers})
    assert passed.headers["Location"].endswith("/sign")
    sign = home_path + "/sign"
    options = {f"option-{o.id}": "yes" for o in sessions.text_for(cs, "parent_1").options}
    data = {"csrf_token": csrf(signer, sign), "printed_name": "Ana García",
            "relationship": "madre", "strokes": STROKES, "image": png_data_url(),
            **options}  # fmt: skip
    signed = signer.post(sign, data=data)
    assert signed.status_code == 302, signed.get_data(as_text=True)


def _countersign(client, h) -> None:
    investigator = another_browser(client)
    login(investigator, h.investigator)
    page = f"/consent/sessions/{_session(h).id}/countersign"
    data = {"csrf_token": csrf(investigator, page), "printed_name": "Dr Luis Pérez",
            "strokes": STROKES, "image": png_data_url(3),
            "password": h.investigator.password, "code": next_code(h.investigator)}  # fmt: skip
    done = investigator.post(page, data=data)
    assert done.status_code == 302, done.get_data(as_text=True)


def _last_seq() -> int:
    """Where the trail ends now: ids of rows rolled back by earlier tests come again, and their
    events stay (append-only), so a test reads only the events after its start."""
    return db.session.scalar(select(func.max(AuditEvent.seq))) or 0


def _actions(h, since: int = 0) -> list[str]:
    cs = _session(h)
    invitation = _invitation(h)
    rows = db.session.scalars(
        select(AuditEvent.action)
        .where(
            ((AuditEvent.entity_type == "consent_session") & (AuditEvent.entity_id == str(cs.id)))
            | (
                (AuditEvent.entity_type == "consent_invitation")
                & (AuditEvent.entity_id == str(invitation.id))
            )
        )
        .where(AuditEvent.seq > since)
        .order_by(AuditEvent.seq)
    )
    return list(rows)


def test_a_parent_consents_from_home_and_receives_the_sealed_copy(client, home, mail):
    h = home("ES")
    start = _last_seq()
    sent = _invite(client, h)
    assert "second e-mail address" in sent
    assert 'id="printed-code"' not in sent
    link, code = link_path(mail), mailed_code(mail)
    assert mail.to(PARENT)[-1]["Subject"]
    assert code not in mail.body(mail.to(PARENT)[-1])
    assert "Hola, Ana García:" in mail.body(mail.to(PARENT)[-1])  # the consent's language
    signer = another_browser(client)  # the parent's own browser: no staff session
    _open(signer, link)
    again = signer.get(link)
    assert again.status_code == 410
    assert "already used" in again.get_data(as_text=True)
    assert _code(signer, "00000000").status_code in (410, 422)  # a wrong code is counted
    right = _code(signer, code)
    assert right.status_code == 302
    home_path = right.headers["Location"]
    assert re.search(r"/remote/s/[^/]+$", home_path)
    assert signer.get("/remote/code").status_code == 404  # the code works once: none pending
    stranger = another_browser(client)
    assert stranger.get(home_path).status_code == 404  # the token is bound to that browser
    assert signer.get(home_path).headers["Location"].endswith("/language")
    _sign(signer, h, home_path)
    done = signer.get(home_path).get_data(as_text=True)
    assert 'id="remote-done"' in done
    assert _session(h).status == "signed"
    staff_page = client.get(f"/consent/sessions/{_session(h).id}").get_data(as_text=True)
    assert 'data-state="code_used"' in staff_page
    assert "second e-mail" in staff_page
    _countersign(client, h)
    assert _session(h).status == "active"
    copy = mail.to(PARENT)[-1]
    attached = [p for p in copy.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert len(attached) == 1
    assert attached[0].get_content().startswith(b"%PDF")
    assert _invitation(h).copy_sent_at is not None
    assert [a for a in _actions(h, start) if a != "consent.status"] == [
        "consent.session_prepared", "consent.invited", "consent.link_opened",
        "consent.code_failed", "consent.code_accepted", "consent.identity_checked",
        "consent.copy_sent",
    ]  # fmt: skip
    evidence = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "consent.identity_checked")
    ).all()[-1]
    assert evidence.new_value["code_channel"] == "email"
    assert "second e-mail" in evidence.new_value["evidence"]


def test_three_wrong_codes_lock_the_invitation(client, home, mail):
    h = home("ES")
    start = _last_seq()
    _invite(client, h)
    link, code = link_path(mail), mailed_code(mail)
    signer = another_browser(client)
    _open(signer, link)
    first = _code(signer, "11112222")
    assert _code(signer, "1" * 5000).status_code == 422  # too long: refused before any work
    second = _code(signer, "1111 3333")
    assert (first.status_code, second.status_code) == (422, 422)
    assert "Tries left: 1" in second.get_data(as_text=True)
    third = _code(signer, "abc")
    assert third.status_code == 410
    assert "locked" in third.get_data(as_text=True)
    assert _code(signer, code).status_code == 410  # even the right code, now
    invitation = _invitation(h)
    assert invitation.failed_codes == 3
    assert invitation.locked_at is not None
    page = client.get(f"/consent/sessions/{_session(h).id}").get_data(as_text=True)
    assert 'data-state="locked"' in page
    assert _actions(h, start).count("consent.code_failed") == 3
    assert "consent.invitation_locked" in _actions(h, start)


def test_without_a_second_address_the_code_is_shown_once_for_the_phone(client, home, mail):
    h = home("ES", second_email=False)
    sent = _invite(client, h)
    printed = re.search(r'id="printed-code">(\d{4}) (\d{4})<', sent)
    assert printed, sent
    assert [str(m["To"]) for m in mail.messages] == [f"Ana García <{PARENT}>"]
    assert "call you" in mail.body(mail.messages[0])
    signer = another_browser(client)
    _open(signer, link_path(mail))
    assert _code(signer, printed.group(1) + printed.group(2)).status_code == 302
    assert _invitation(h).code_channel == "printed"
    page = client.get(f"/consent/sessions/{_session(h).id}").get_data(as_text=True)
    assert "read out on the phone" in page
    assert printed.group(1) + " " + printed.group(2) not in page  # shown once only


def test_remote_consent_only_where_the_country_rule_allows_it(client, home, mail):
    italy = home("IT")
    refused = _invite(client, italy, language="it", status=422)
    assert "not allowed in this country" in refused
    france = home("FR")
    browser = another_browser(client)
    assert "Two parents must sign" in _invite(browser, france, language="fr", status=422)
    _invite(another_browser(client), france, language="fr", exception="not_reasonably_available")
    assert mail.to(PARENT)  # one parent, with the reason staff gave, may consent from home


def test_staff_withdraw_an_invitation_and_the_link_and_signer_page_stop(client, home, mail):
    h = home("ES")
    _invite(client, h)
    link, code = link_path(mail), mailed_code(mail)
    signer = another_browser(client)
    _open(signer, link)
    home_path = _code(signer, code).headers["Location"]
    assert signer.get(home_path).status_code == 302
    page = f"/consent/sessions/{_session(h).id}"
    revoked = client.post(page + "/invitation/revoke", data={"csrf_token": csrf(client, page)})
    assert revoked.status_code == 302
    assert signer.get(home_path).status_code == 404
    assert signer.get(link).status_code == 410
    assert "withdrawn" in signer.get(link).get_data(as_text=True)
    assert "consent.invitation_revoked" in _actions(h)


def test_an_expired_link_says_so_in_plain_words(app, client, home, mail):
    h = home("ES")
    settings = app.config["EDC_SETTINGS"]  # links that expire at once
    app.config["EDC_SETTINGS"] = replace(settings, consent_invitation_lifetime=-dt.timedelta(1))
    _invite(client, h)
    app.config["EDC_SETTINGS"] = settings
    response = another_browser(client).get(link_path(mail))
    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)
    assert another_browser(client).get("/remote/invitation/not-a-link").status_code == 404


def test_only_hashes_of_the_link_and_code_are_stored(client, home, mail):
    h = home("ES")
    _invite(client, h)
    link, code = link_path(mail), mailed_code(mail)
    token = link.rsplit("/", 1)[1]
    invitation = _invitation(h)
    stored = " ".join(str(v) for v in vars(invitation).values())
    assert token not in stored
    assert code not in stored
    events = db.session.scalars(select(AuditEvent.new_value)).all()
    assert not any(token in str(e) or code in str(e) for e in events)


def test_a_remote_session_is_never_handed_over_on_a_tablet(client, home, mail):
    h = home("ES")
    _invite(client, h)
    page = f"/consent/sessions/{_session(h).id}"
    assert "/handover" not in client.get(page).get_data(as_text=True)
    refused = client.post(page + "/handover", data={"csrf_token": csrf(client, page)})
    assert refused.status_code == 409


def test_a_wrong_answer_waits_for_a_call_and_the_parent_goes_on_from_home(client, home, mail):
    h = home("ES", second_email=False)
    start = _last_seq()
    printed = re.search(r'id="printed-code">(\d{4}) (\d{4})<', _invite(client, h))
    assert printed
    signer = another_browser(client)
    _open(signer, link_path(mail))
    home_path = _code(signer, printed.group(1) + printed.group(2)).headers["Location"]
    language = home_path + "/language"
    signer.post(language, data={"csrf_token": csrf(signer, language), "language": "es"})
    cs = _session(h)
    wrong = {f"q-{q}": "wrong" for q in sessions.correct_answers(cs, "parent_1")}
    questions = home_path + "/questions"
    signer.post(questions, data={"csrf_token": csrf(signer, questions), **wrong})
    waiting = signer.get(home_path).get_data(as_text=True)
    assert 'id="remote-wait"' in waiting
    assert _session(h).status == "blocked"
    page = f"/consent/sessions/{cs.id}"
    resumed = client.post(page + "/resume", data={"csrf_token": csrf(client, page)})
    assert resumed.status_code == 302  # staff called and explained again
    assert "from their own device" in client.get(page).get_data(as_text=True)
    assert signer.get(home_path).headers["Location"].endswith("/read/1")  # reads again
    _sign(signer, h, home_path)
    assert _session(h).status == "signed"
    evidence = [
        e.new_value
        for e in db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "consent.identity_checked", AuditEvent.seq > start
            )
        )
    ]
    assert len(evidence) == 1
    assert evidence[0]["code_channel"] == "printed"
    assert "phone call" in evidence[0]["evidence"]
