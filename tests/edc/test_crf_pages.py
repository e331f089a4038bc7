"""The CRF page: rendering, live re-evaluation, saving, reasons, conflicts, history, isolation."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from edc.access import Role
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.crf import ItemValue
from edc.models.subjects import Subject
from edc.web import app_context
from tests.factories import another_browser, csrf, login, make_site, make_user, statements_for
from tests.html_forms import submitted


def _url(entry_for, suffix=""):
    return f"/subjects/{entry_for.subject.study_code}/crf/baseline/1/visit{suffix}"


def _post(client, entry_for, data, action="draft", version=0):
    token = csrf(client, _url(entry_for))
    return client.post(
        _url(entry_for),
        data={**data, "csrf_token": token, "action": action, "row_version": version},
    )


def test_the_page_shows_fields_and_branching_follows_the_answers(client, entry_for):
    login(client, entry_for.nurse)
    page = client.get(_url(entry_for)).get_data(as_text=True)
    assert 'name="visit_date"' in page
    assert 'name="copies"' not in page  # hidden until MYCN is amplified
    token = csrf(client, _url(entry_for))
    live = client.post(
        _url(entry_for, "/evaluate"),
        data={"mycn": "amplified", "csrf_token": token, "row_version": 0},
        headers={"HX-Request": "true"},
    )
    body = live.get_data(as_text=True)
    assert live.status_code == 200
    assert body.strip().startswith('<form id="crf"')
    assert 'name="copies"' in body
    assert "is required" not in body  # "required" waits for the save
    assert "error-summary" not in body  # no summary while typing


def test_a_change_redraws_only_the_sections_it_can_touch(client, entry_for):
    login(client, entry_for.nurse)
    token = csrf(client, _url(entry_for))

    def live(changed: str, **answers: str):
        return client.post(
            _url(entry_for, "/evaluate"),
            data={**answers, "csrf_token": token, "row_version": 0},
            headers={"HX-Request": "true", "X-CRF-Changed": changed},
        )

    amplified = live("mycn", mycn="amplified", **{"doses-0-dose_mg": "5"})
    body = amplified.get_data(as_text=True)
    assert amplified.headers["HX-Reswap"] == "none"
    assert 'id="crf-contents"' in body  # the jump links follow the sections shown
    assert 'id="section-main" hx-swap-oob="outerHTML"' in body
    assert 'name="copies"' in body  # shown by the answer, in the redrawn section
    assert 'id="section-doses"' not in body  # nothing there reads MYCN
    dose = live("doses-0-dose_mg", **{"doses-0-dose_mg": "x"}).get_data(as_text=True)
    assert 'id="section-doses"' in dose
    assert 'id="section-main"' not in dose
    assert "Enter a whole number." in dose  # the inline error, in place
    both = live("mycn doses-0-dose_mg", mycn="amplified").get_data(as_text=True)
    assert 'id="section-main"' in both  # an earlier change whose answer was overtaken: both redrawn
    assert 'id="section-doses"' in both
    whole = live("nonsense", mycn="amplified")
    assert "HX-Reswap" not in whole.headers
    assert whole.get_data(as_text=True).strip().startswith('<form id="crf"')


def test_a_redraw_that_nothing_reading_the_birth_date_touches_opens_no_vault(client, entry_for):
    login(client, entry_for.nurse)
    token = csrf(client, _url(entry_for))
    code = entry_for.subject.study_code

    def vault_reads(changed: str, **answers: str) -> int:
        before = db.session.scalar(
            select(func.count()).where(
                AuditEvent.action == "identity.read", AuditEvent.entity_id == code
            )
        )
        response = client.post(
            _url(entry_for, "/evaluate"),
            data={**answers, "csrf_token": token, "row_version": 0},
            headers={"HX-Request": "true", "X-CRF-Changed": changed},
        )
        assert response.status_code == 200
        return (
            db.session.scalar(
                select(func.count()).where(
                    AuditEvent.action == "identity.read", AuditEvent.entity_id == code
                )
            )
            - before
        )

    assert vault_reads("doses-0-dose_mg", **{"doses-0-dose_mg": "5"}) == 0  # doses: no age there
    redrawn = vault_reads("visit_date", visit_date="2026-03-10")
    assert redrawn == 1  # the age in months is beside the visit date: computed from the vault
    assert vault_reads("nonsense", visit_date="2026-03-10") == 1  # the whole form, age included


def test_long_forms_have_jump_links_to_their_sections(client, entry_for):
    login(client, entry_for.nurse)
    page = client.get(_url(entry_for)).get_data(as_text=True)
    contents = page.split('id="crf-contents"')[1].split("</nav>")[0]
    assert '<a href="#section-main">Main</a>' in contents
    assert '<a href="#section-doses">Doses</a>' in contents


def test_an_inline_error_keeps_every_answer(client, entry_for):
    login(client, entry_for.nurse)
    response = _post(
        client, entry_for, {"visit_date": "2999-01-01", "mycn": "not_amplified", "weight": "31"},
        action="complete",
    )  # fmt: skip
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="visit_date-error"' in body
    summary = body.split('id="error-summary"')[1].split("</div>")[0]
    assert "1 answer to check" in summary
    assert '<a href="#field-visit_date">Visit date</a>' in summary  # a link to the field
    kept = submitted(body)
    assert kept["visit_date"] == ["2999-01-01"]
    assert kept["weight"] == ["31"]
    assert kept["mycn"] == ["not_amplified"]


def test_reading_the_birth_date_is_recorded_even_when_the_save_is_refused(client, entry_for):
    login(client, entry_for.nurse)
    response = _post(client, entry_for, {"visit_date": "2999-01-01"}, action="complete")
    assert response.status_code == 422  # nothing stored: the response rolls back
    reads = db.session.scalars(
        select(AuditEvent.new_value).where(AuditEvent.action == "identity.read")
    ).all()
    assert {"purpose": "calculation"} in reads  # the vault read itself is still on record


def test_draft_then_complete_then_a_change_asks_for_a_reason_and_history_shows_it(
    client, entry_for
):
    login(client, entry_for.nurse)
    answers = {"visit_date": "2026-03-10", "mycn": "not_amplified", "weight": "10"}
    assert _post(client, entry_for, answers).status_code == 302
    assert _post(client, entry_for, answers, action="complete", version=1).status_code == 302
    changed = {**answers, "weight": "12"}
    asked = _post(client, entry_for, changed, version=2)
    assert asked.status_code == 422
    assert 'name="reason:weight"' in asked.get_data(as_text=True)
    summary = asked.get_data(as_text=True).split('id="error-summary"')[1]
    assert "Give a reason for this change." in summary
    done = _post(client, entry_for, {**changed, "reason:weight": "transcription error"}, version=2)
    assert done.status_code == 302
    history = client.get(_url(entry_for, "/history/weight"), headers={"HX-Request": "true"})
    text = history.get_data(as_text=True)
    assert "transcription error" in text
    assert entry_for.nurse.email in text
    assert 'data-label="Form version">1</td>' in text  # the version's number, not its id
    assert "visit@1" not in text
    assert "Research nurse" in text  # the role by its name
    mycn = client.get(_url(entry_for, "/history/mycn"), headers={"HX-Request": "true"})
    assert "Not amplified" in mycn.get_data(as_text=True)  # the code's label, not the code
    assert "not_amplified" not in mycn.get_data(as_text=True)


def test_a_second_session_gets_the_conflict_view_and_keeps_its_input(client, entry_for):
    colleague = make_user(roles=[(Role.NURSE, entry_for.subject.site)])
    login(client, entry_for.nurse)
    other = another_browser(client)
    login(other, colleague)
    assert _post(other, entry_for, {"weight": "40"}).status_code == 302
    mine = _post(client, entry_for, {"weight": "44"}, version=0)
    assert mine.status_code == 409
    body = mine.get_data(as_text=True)
    assert 'id="conflict"' in body
    assert submitted(body)["weight"] == ["44"]  # my input is still in the form
    assert colleague.email in body
    stored = db.session.scalar(select(ItemValue.value).where(ItemValue.path == "weight"))
    assert stored == 40


def test_other_sites_get_404_for_pages_partials_and_history(client, entry_for):
    login(client, entry_for.nurse)
    _post(client, entry_for, {"weight": "5"})
    stranger = another_browser(client)
    login(stranger, make_user(roles=[(Role.NURSE, make_site("IT-19"))]))
    for path in (_url(entry_for), _url(entry_for, "/history/weight")):
        assert stranger.get(path).status_code == 404
    token = csrf(stranger, "/account")
    assert (
        stranger.post(_url(entry_for, "/evaluate"), data={"csrf_token": token}).status_code == 404
    )
    assert client.get(_url(entry_for).replace("/visit", "/nope")).status_code == 404


def test_repeat_rows_are_added_and_removed_without_storing(client, entry_for):
    login(client, entry_for.nurse)
    assert _post(client, entry_for, {}, action="add_row:nothing").status_code == 404
    added = _post(client, entry_for, {"doses-0-dose_mg": "5"}, action="add_row:doses")
    body = added.get_data(as_text=True)
    assert submitted(body)["doses-0-dose_mg"] == ["5"]
    assert submitted(body)["doses-1-dose_mg"] == [""]
    removed = _post(
        client, entry_for, {"doses-0-dose_mg": "5", "doses-1-dose_mg": "7"},
        action="remove_row:doses:0",
    )  # fmt: skip
    body = removed.get_data(as_text=True)
    assert submitted(body)["doses-1-dose_mg"] == ["7"]  # the row left keeps its identity
    assert "doses-0-dose_mg" not in submitted(body)
    assert db.session.scalar(select(ItemValue.id)) is None  # nothing stored by row edits
    saved = _post(client, entry_for, {"doses-0-dose_mg": "7", "doses-1-dose_mg": "9"})
    assert saved.status_code == 302
    assert set(db.session.scalars(select(ItemValue.path))) == {"doses-0-dose_mg", "doses-1-dose_mg"}


def test_random_posts_never_store_calculations_hidden_fields_or_junk(client, entry_for):
    login(client, entry_for.nurse)

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        data=st.dictionaries(
            st.sampled_from(["visit_date", "mycn", "copies", "age", "weight", "zz", "main-0-x"]),
            st.text(max_size=300),
            max_size=6,
        )
    )
    def attempt(data: dict) -> None:
        stale = _post(client, entry_for, data, version=-5)  # stale on purpose: nothing stored
        assert stale.status_code in (400, 409, 422)  # 400: NUL characters are refused
        fresh = _post(client, entry_for, {**data, "age": "999"}, version=_version(entry_for))
        assert fresh.status_code in (302, 400, 409, 422)
        paths = set(db.session.scalars(select(ItemValue.path)))
        assert paths <= {"visit_date", "mycn", "copies", "age", "weight"}  # no junk, no rows
        ages = set(db.session.scalars(select(ItemValue.value).where(ItemValue.path == "age")))
        assert 999 not in ages

    attempt()


def _version(entry_for) -> int:
    entry = entry_for()
    return entry.row_version


def test_dates_are_offered_in_the_portals_format_not_the_devices(client, entry_for):
    login(client, entry_for.nurse)
    page = " ".join(client.get(_url(entry_for)).get_data(as_text=True).split())
    assert 'name="visit_date" placeholder="dd/mm/yyyy" type="text"' in page


def test_subject_and_crf_pages_run_a_fixed_number_of_statements(client, entry_for):
    import datetime as dt

    from edc.actor import Actor
    from edc.models.base import utcnow
    from edc.services import subjects

    nurse = entry_for.nurse
    login(client, nurse)
    paths = [f"/subjects/{entry_for.subject.study_code}", _url(entry_for)]

    def statements() -> list[int]:
        return [statements_for(client, path) for path in paths]

    def more_subjects(n: int) -> None:
        for _ in range(n):
            subjects.register(
                app_context(Actor(user=nurse)), entry_for.subject.site_id,
                subjects.Identity("A", "B", dt.date(2024, 1, 1), "male"), utcnow(),
                confirm_duplicate=True,
            )  # fmt: skip
        db.session.commit()

    _post(client, entry_for, {"weight": "1", "doses-0-dose_mg": "2"})
    more_subjects(9)
    few = statements()
    more_subjects(190)
    for version, weight in enumerate(range(2, 7), start=1):  # more history rows
        _post(client, entry_for, {"weight": str(weight), "doses-0-dose_mg": "2"}, version=version)
    assert statements() == few


def test_a_monitor_reads_the_form_as_saved_and_nothing_posts_back(client, entry_for):
    login(client, entry_for.nurse)
    assert _post(client, entry_for, {"visit_date": "2026-03-10", "weight": "10"}).status_code == 302
    age = db.session.scalar(select(ItemValue.value).where(ItemValue.path == "age"))
    assert age is not None  # computed from the vault's birth date at the nurse's save
    monitor = another_browser(client)
    site = db.session.get(Subject, entry_for.subject.id).site
    login(monitor, make_user(roles=[(Role.MONITOR, site)]))
    reads_before = db.session.scalar(
        select(func.count()).where(AuditEvent.action == "identity.read")
    )
    page = monitor.get(_url(entry_for)).get_data(as_text=True)
    assert _answers(page)["Age (months)"] == str(age)  # the stored calculation
    assert "hx-post" not in page  # no live evaluation to post to
    assert "Save draft" not in page
    assert "entering data is for the site" in page
    assert _answers(page)["Weight"] == "10"  # the saved answer, shown as text
    assert 'name="weight"' not in page  # not an input
    reads_after = db.session.scalar(
        select(func.count()).where(AuditEvent.action == "identity.read")
    )
    assert reads_after == reads_before  # a reader's page opens no identity


def test_save_and_stay_keeps_the_nurse_on_the_form(client, entry_for):
    login(client, entry_for.nurse)
    saved = _post(client, entry_for, {"weight": "21"}, action="stay")
    assert saved.status_code == 302
    assert saved.headers["Location"].endswith(_url(entry_for))
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Form saved." in page
    assert submitted(page)["weight"] == ["21"]
    assert 'name="row_version" value="1"' in page  # ready for the next save


def _answers(page: str) -> dict[str, str]:
    """A read-only form's answers as a reader sees them: {question: answer text}."""
    pairs = re.findall(r"<dt>(.*?)</dt>\s*<dd><span[^>]*>(.*?)</span>", page, re.S)
    return dict(pairs)


def test_a_read_only_form_shows_each_chosen_answer_as_text(client, entry_for):
    login(client, entry_for.nurse)
    answers = {"visit_date": "2026-03-10", "mycn": "not_amplified"}
    assert _post(client, entry_for, answers).status_code == 302
    monitor = another_browser(client)
    site = db.session.get(Subject, entry_for.subject.id).site
    login(monitor, make_user(roles=[(Role.MONITOR, site)]))
    page = monitor.get(_url(entry_for)).get_data(as_text=True)
    shown = _answers(page)
    assert shown["MYCN"] == "Not amplified"  # the choice's label, not a pale radio dot
    assert shown["Visit date"] == "10/03/2026"  # the portal language's format, as typed
    assert shown["Weight"] == "No answer"
    assert "Copies" not in shown  # a question hidden by the answers stays hidden
    assert 'type="radio"' not in page
    assert "not_amplified" not in page
    french = _answers(monitor.get(_url(entry_for), headers={"Accept-Language": "fr"}).text)
    assert (french["Visit date"], french["Weight"]) == ("10/03/2026", "Aucune réponse")


def test_the_conflict_view_names_items_and_answers_as_the_page_does(client, entry_for):
    colleague = make_user(roles=[(Role.NURSE, entry_for.subject.site)])
    login(client, entry_for.nurse)
    other = another_browser(client)
    login(other, colleague)
    theirs = {"visit_date": "2026-03-01", "mycn": "amplified", "copies": "5", "weight": "40"}
    assert _post(other, entry_for, theirs).status_code == 302
    mine = {"visit_date": "2026-03-02", "mycn": "not_amplified", "weight": "44"}
    body = _post(client, entry_for, {**mine, "doses-1-dose_mg": "3", "row:doses": "1"}).text
    table = body.split('id="conflict"')[1].split("</table>")[0]
    rows = [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1])
    ]
    assert rows == [  # in the page's order, by label, answers as a reader reads them
        ["Visit date", "02/03/2026", "01/03/2026"],
        ["MYCN", "Not amplified", "Amplified"],
        ["Copies", "–", "5"],
        ["Weight", "44", "40"],
        ["Dose (mg) (Row 1)", "3", "–"],
    ]


def test_the_save_bar_has_one_primary_action_and_says_what_draft_and_complete_mean(
    client, entry_for
):
    login(client, entry_for.nurse)
    page = client.get(_url(entry_for)).text
    bar = page.split('id="save-bar"')[1].split("</form>")[0]
    buttons = re.findall(r"<button[^>]*>", bar)
    assert len(buttons) == 3
    assert [b for b in buttons if "secondary" not in b] == [
        '<button type="submit" name="action" value="complete" class="primary">'
    ]
    assert "missing answers are allowed" in bar  # a draft
    assert "later changes need a reason" in bar  # complete
