"""Consent sessions through the services: who must sign under each country's rules, which text a
child reads, what stops a consent, the countersignature and what it puts in force."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from econsent.models import Blocked, ConsentSession, Status
from econsent.services import countersign, sealing, sessions, signing
from econsent.services.sessions import Preparation
from edc import totp
from edc.access import Role
from edc.errors import Conflict, Denied, Invalid
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.models.consent import ConsentScope
from edc.services import consent_scope
from tests.econsent.kiosk.conftest import all_yes, right_answers, signed
from tests.factories import make_user, next_code

pytestmark = pytest.mark.usefixtures("in_request")
PREP = Preparation(language="fr", identity_document="national_id")


def _sign_all(clinic, cs, **overrides) -> None:
    """Every signer on the tablet signs, saying yes to every item unless told otherwise."""
    while (role := sessions.next_signer(cs)) is not None:
        options = {**all_yes(cs, role), **overrides.get(role, {})}
        assert signing.check_answers(clinic.ctx(), cs, role, right_answers(cs, role))
        signing.sign(
            clinic.ctx(), cs, role, signed(f"Signer {role}", **options), right_answers(cs, role)
        )


def _countersign(clinic, cs, code=None, **kw):
    user = clinic.investigator
    return countersign.countersign(
        clinic.ctx(user), cs, password=user.password, code=code or next_code(user),
        signature=signed("Dr Anne Martin"), **kw,
    )  # fmt: skip


def _actions(cs) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.entity_type == "consent_session", AuditEvent.entity_id == str(cs.id))
            .order_by(AuditEvent.seq)
        )
    )


def test_a_two_parent_country_needs_both_parents_before_the_investigator(clinic):
    c = clinic("FR", age=2)
    cs = sessions.prepare(c.ctx(), c.subject, PREP)
    assert sessions.required_roles(cs) == ["parent_1", "parent_2"]
    role = sessions.next_signer(cs)
    signing.sign(c.ctx(), cs, role, signed("Marie Durand", **all_yes(cs, role)), {})
    assert cs.status == Status.IN_PROGRESS
    with pytest.raises(Conflict):
        _countersign(c, cs)  # one parent is not enough in France
    assert sessions.next_signer(cs) == "parent_2"
    signing.sign(c.ctx(), cs, "parent_2", signed("Paul Durand", **all_yes(cs, "parent_2")), {})
    assert cs.status == Status.SIGNED


def test_a_session_records_the_rules_it_runs_under_once(clinic):
    c = clinic("FR", age=2)
    sessions.prepare(c.ctx(), c.subject, PREP)
    sessions.prepare(c.ctx(), c.subject, PREP)
    loaded = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "consent.rules_loaded",
            AuditEvent.entity_id == c.subject.study.slug,
        )
    ).all()
    assert len(loaded) == 1  # the same files: said once
    assert "parent_consent" in loaded[0].new_value["documents"]


def test_a_one_parent_country_completes_with_one_parent(clinic):
    c = clinic("ES", age=2)
    cs = sessions.prepare(c.ctx(), c.subject, PREP)
    assert sessions.required_roles(cs) == ["parent_1"]
    _sign_all(c, cs)
    assert cs.status == Status.SIGNED
    _countersign(c, cs)
    assert cs.status == Status.ACTIVE


def test_one_parent_where_two_are_needed_takes_a_reason_the_investigator_confirms(clinic):
    c = clinic("FR", age=2)
    prep = Preparation(language="fr", identity_document="passport", parent_exception="deceased")
    cs = sessions.prepare(c.ctx(), c.subject, prep)
    assert sessions.required_roles(cs) == ["parent_1"]
    _sign_all(c, cs)
    with pytest.raises(Invalid):
        _countersign(c, cs)
    _countersign(c, cs, confirm_exception=True)
    assert cs.status == Status.ACTIVE
    with pytest.raises(Invalid):  # a reason the rules do not list
        sessions.prepare(c.ctx(), c.subject, Preparation("fr", "passport", "on_holiday"))


def test_a_nine_year_old_reads_the_child_version_and_assents(clinic):
    c = clinic("FR", age=9)
    cs = sessions.prepare(c.ctx(), c.subject, PREP)
    assert (cs.child_band, cs.child_mode, cs.child_age) == ("younger", "verbal", 9)
    assert sessions.required_roles(cs) == ["parent_1", "parent_2", "child_assent"]
    child = sessions.text_for(cs, "child_assent")
    parent = sessions.text_for(cs, "parent_1")
    assert (child.audience, child.band) == ("child", "younger")
    assert child.hash != parent.hash
    assert child.options == ()
    _sign_all(c, cs)
    assent = next(s for s in cs.signatures if s.role == "child_assent")
    assert (assent.decision, assent.text_hash) == ("assent", child.hash)


def test_a_child_under_six_is_not_asked_and_a_fourteen_year_old_reads_the_older_text(clinic):
    young = clinic("FR", age=3)
    cs = sessions.prepare(young.ctx(), young.subject, PREP)
    assert cs.child_band == ""
    assert "child_assent" not in sessions.required_roles(cs)
    c = clinic("IT", age=14)
    cs = sessions.prepare(c.ctx(), c.subject, PREP)
    assert cs.child_band == "older"


def test_a_childs_refusal_blocks_with_no_parental_override(clinic):
    c = clinic("FR", age=9)
    cs = sessions.prepare(c.ctx(), c.subject, PREP)
    for role in ("parent_1", "parent_2"):
        signing.sign(c.ctx(), cs, role, signed(role, **all_yes(cs, role)), {})
    signing.sign(c.ctx(), cs, "child_assent", signing.Signing(refuse=True), {})
    assert (cs.status, cs.blocked_reason) == (Status.BLOCKED, Blocked.CHILD_REFUSED)
    with pytest.raises(Conflict):
        sessions.resume(c.ctx(), cs)  # staff cannot lift it
    with pytest.raises(Conflict):
        _countersign(c, cs)
    with pytest.raises(Conflict):
        sessions.hand_over(c.ctx(), cs)
    assert consent_scope.in_force(c.ctx(), c.subject) is None
    assert "consent.refused" in db.session.scalars(select(AuditEvent.action)).all()


def test_a_parent_cannot_refuse_for_the_child(clinic):
    c = clinic("FR", age=9)
    cs = sessions.prepare(c.ctx(), c.subject, PREP)
    with pytest.raises(Invalid):
        signing.sign(c.ctx(), cs, "parent_1", signing.Signing(refuse=True), {})


def test_a_wrong_answer_sends_the_signer_back_to_staff(clinic):
    c = clinic("FR", age=2)
    cs = sessions.prepare(c.ctx(), c.subject, PREP)
    answers = right_answers(cs, "parent_1")
    assert answers, "the demo text asks comprehension questions"
    first = next(iter(answers))
    wrong = {**answers, first: "not-" + answers[first]}
    assert signing.check_answers(c.ctx(), cs, "parent_1", wrong) is False
    assert (cs.status, cs.blocked_reason) == (Status.BLOCKED, Blocked.WRONG_ANSWER)
    with pytest.raises(Conflict):  # nobody signs while it waits for staff
        signing.sign(c.ctx(), cs, "parent_1", signed(**all_yes(cs, "parent_1")), answers)
    sessions.resume(c.ctx(), cs)
    assert cs.status == Status.PREPARED
    assert signing.check_answers(c.ctx(), cs, "parent_1", answers)
    assert "consent.blocked" in _actions(cs)
    assert "consent.resumed" in _actions(cs)


def test_options_are_granted_only_when_every_parent_grants_them(clinic):
    c = clinic("FR", age=2)
    cs = sessions.prepare(c.ctx(), c.subject, PREP)
    items = list(all_yes(cs, "parent_1"))
    assert len(items) >= 2
    _sign_all(c, cs, parent_2={items[0]: "no"})
    granted = signing.granted_options(cs)
    assert granted[items[0]] is False
    assert granted[items[1]] is True
    _countersign(c, cs)
    scope = consent_scope.in_force(c.ctx(), c.subject)
    assert scope is not None
    assert scope.reference == f"econsent:{cs.id}"
    assert (scope.document, scope.version, scope.language) == ("parent_consent", "1", "fr")
    assert scope.options == granted


def test_countersigning_seals_a_valid_copy_stored_encrypted(clinic):
    c = clinic("ES", age=2)
    cs = sessions.prepare(c.ctx(), c.subject, PREP)
    _sign_all(c, cs)
    copy = _countersign(c, cs)
    assert copy.validation["valid"] is True
    assert b"%PDF" not in copy.ciphertext[:64]
    name, pdf = sealing.signer_copy(c.ctx(), cs)
    assert pdf.startswith(b"%PDF")
    assert name.endswith(".pdf")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Dr Anne Martin" in text
    assert c.subject.study_code in text
    for step in ("consent.session_prepared", "consent.status"):
        assert step in _actions(cs)


def test_a_replayed_totp_code_is_refused_at_countersign(clinic):
    c = clinic("ES", age=2)
    cs = sessions.prepare(c.ctx(), c.subject, PREP)
    _sign_all(c, cs)
    user = c.investigator
    code = next_code(user)
    sessions.reauthenticate(c.ctx(user), user.password, code)  # the code is used once here
    with pytest.raises(sessions.CredentialsRefused, match="already been used"):
        _countersign(c, cs, code=code)
    assert cs.status == Status.SIGNED
    with pytest.raises(sessions.CredentialsRefused):
        _countersign(c, cs, code=totp.current_code(user.totp_plain, utcnow())[::-1])
    _countersign(c, cs)
    assert cs.status == Status.ACTIVE


def test_a_nurse_cannot_countersign(clinic):
    c = clinic("ES", age=2)
    cs = sessions.prepare(c.ctx(), c.subject, PREP)
    _sign_all(c, cs)
    with pytest.raises(Denied):
        countersign.countersign(
            c.ctx(c.nurse), cs, password=c.nurse.password, code=next_code(c.nurse),
            signature=signed("Nurse"),
        )  # fmt: skip


def test_a_session_never_shows_another_sites_subject(clinic):
    home, other = clinic("FR", age=2), clinic("ES", age=2)
    cs = sessions.prepare(home.ctx(), home.subject, PREP)
    token = sessions.hand_over(home.ctx(), cs)
    assert sessions.kiosk_session(home.ctx(), token) is cs
    with pytest.raises(Denied):
        sessions.find_session(other.ctx(), cs.id)
    with pytest.raises(Denied):
        sessions.kiosk_session(other.ctx(), token)
    with pytest.raises(Denied):
        sessions.prepare(other.ctx(), home.subject, PREP)
    with pytest.raises(Denied):
        sessions.kiosk_session(home.ctx(), token + "x")


def test_central_roles_cannot_download_the_copy(clinic):
    c = clinic("ES", age=2)
    cs = sessions.prepare(c.ctx(), c.subject, PREP)
    _sign_all(c, cs)
    _countersign(c, cs)
    manager = make_user(roles=[(Role.DATA_MANAGER, c.site.study)])
    monitor = make_user(roles=[(Role.MONITOR, c.site)])
    for reader in (manager, monitor):
        with pytest.raises(Denied):
            sealing.signer_copy(c.ctx(reader), cs)
        with pytest.raises(Denied):
            sessions.find_session(c.ctx(reader), cs.id)
    scope = consent_scope.in_force(c.ctx(manager), c.subject)  # status, version, options only
    assert isinstance(scope, ConsentScope)


def test_leaving_the_kiosk_needs_password_and_a_new_code(clinic):
    c = clinic("FR", age=2)
    cs = sessions.prepare(c.ctx(), c.subject, PREP)
    sessions.hand_over(c.ctx(), cs)
    with pytest.raises(sessions.CredentialsRefused):
        sessions.leave_kiosk(c.ctx(), cs, "wrong password", next_code(c.nurse))
    assert cs.kiosk_token_hash is not None
    sessions.leave_kiosk(c.ctx(), cs, c.nurse.password, next_code(c.nurse))
    assert cs.kiosk_token_hash is None
    assert "consent.kiosk_left" in _actions(cs)


@pytest.mark.parametrize(
    ("strokes", "image"),
    [
        ("", None),
        ("[]", None),
        ("not json", None),
        ('[[["a", 1, 2]]]', None),
        ("[" + ",".join(["[[1,2,3]]"] * 400) + "]", None),
        ("x" * (signing.MAX_STROKES_JSON + 1), None),
        (None, "data:image/gif;base64,R0lGODlh"),
        (None, "data:image/png;base64,!!!"),
        (None, "data:image/png;base64," + "A" * (signing.MAX_PNG * 2)),
    ],
)
def test_malformed_or_oversized_signatures_are_refused(clinic, strokes, image):
    c = clinic("ES", age=2)
    cs = sessions.prepare(c.ctx(), c.subject, PREP)
    good = signed(**all_yes(cs, "parent_1"))
    bad = signing.Signing(
        printed_name=good.printed_name, options=good.options,
        strokes_json=good.strokes_json if strokes is None else strokes,
        png_data_url=good.png_data_url if image is None else image,
    )  # fmt: skip
    with pytest.raises(Invalid):
        signing.sign(c.ctx(), cs, "parent_1", bad, {})
    assert cs.signatures == []


def test_every_optional_item_needs_an_answer_and_the_name_is_bounded(clinic):
    c = clinic("ES", age=2)
    cs = sessions.prepare(c.ctx(), c.subject, PREP)
    with pytest.raises(Invalid):
        signing.sign(c.ctx(), cs, "parent_1", signed(), {})
    with pytest.raises(Invalid):
        signing.sign(c.ctx(), cs, "parent_1", signed("x" * 201, **all_yes(cs, "parent_1")), {})


def test_only_versions_approved_for_the_site_can_be_prepared(clinic, make_site):
    c = clinic("FR", age=2)
    elsewhere = make_site("DE-71", c.site.study, country="DE")
    from tests.factories import make_subject as register

    subject = register(elsewhere)
    nurse = make_user(roles=[(Role.NURSE, elsewhere)])
    with pytest.raises(Invalid):
        sessions.prepare(c.ctx(nurse), subject, PREP)
    assert (
        db.session.scalar(select(ConsentSession.id).where(ConsentSession.subject_id == subject.id))
        is None
    )


def test_a_signer_who_cannot_read_needs_a_witness_who_signs_last(clinic):
    c = clinic("ES", age=2)
    prep = Preparation(language="es", identity_document="passport", signer_cannot_read=True)
    cs = sessions.prepare(c.ctx(), c.subject, prep)
    assert sessions.required_roles(cs) == ["parent_1", "witness"]
    role = "parent_1"
    signing.sign(c.ctx(), cs, role, signed("Ana", **all_yes(cs, role)), right_answers(cs, role))
    assert cs.status == Status.IN_PROGRESS
    signing.sign(c.ctx(), cs, "witness", signed("Testigo Imparcial"), {})
    assert cs.status == Status.SIGNED
    witness = cs.signatures[-1]
    assert witness.options == {}
    assert "present" in witness.meaning
