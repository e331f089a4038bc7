"""Decision support in plain words, on the form that feeds it and on the subject page alike."""

from __future__ import annotations

import re

from edc.extensions import db
from tests.edc.test_derived import demo  # noqa: F401 - the fixture
from tests.factories import csrf, login

FORM = "/subjects/{code}/crf/diagnosis/1/diagnosis"


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _panel(page: str, marker: str) -> str:
    return _text(page.split(marker, 1)[1].split("</section>", 1)[0])


def test_the_form_that_feeds_a_decision_shows_it_in_plain_words(client, demo):  # noqa: F811
    login(client, demo.nurse)
    code = demo.subject.study_code
    page = client.get(FORM.format(code=code)).text
    panel = _panel(page, 'id="crf-decisions"')
    assert "INRG pretreatment risk group" in panel
    assert "Pretreatment group: F · Risk: low" in panel
    assert "INRG stage: M – distant metastatic disease" in panel
    assert "Age at diagnosis (completed months): 17 months" in panel
    for jargon in ("Matched row", "→", "not_amplified", "=", "inrg_risk"):
        assert jargon not in panel
    subject = _panel(client.get(f"/subjects/{code}").text, 'id="decision-support"')
    assert "Pretreatment group: F · Risk: low" in subject  # the same words on the subject page
    assert "Age at diagnosis (completed months): 17 months" in subject
    for jargon in ("Matched row", "→", "not_amplified", " = "):
        assert jargon not in subject


def test_decision_support_speaks_the_readers_language(client, demo):  # noqa: F811
    login(client, demo.nurse)
    code = demo.subject.study_code
    french = {"Accept-Language": "fr"}
    subject = _panel(client.get(f"/subjects/{code}", headers=french).text, 'id="decision-support"')
    assert "Risque : faible" in subject
    assert "17 mois" in subject
    form = _panel(client.get(FORM.format(code=code), headers=french).text, 'id="crf-decisions"')
    assert "17 mois" in form


def test_the_decision_on_the_form_follows_the_answers_as_they_are_typed(client, demo):  # noqa: F811
    login(client, demo.nurse)
    url = FORM.format(code=demo.subject.study_code)
    token = csrf(client, url)
    posted = {"diagnosis_date": "2026-06-15", "inrg_stage": "M", "mycn": "amplified"}
    live = client.post(
        f"{url}/evaluate",
        data={**posted, "csrf_token": token, "row_version": 1},
        headers={"HX-Request": "true", "X-CRF-Changed": "mycn"},
    )
    assert live.status_code == 200
    panel = _panel(live.text, 'id="crf-decisions"')
    assert "Pretreatment group: O · Risk: high" in panel
    assert "MYCN status: Amplified" in panel
    elsewhere = client.post(
        f"{url}/evaluate",
        data={**posted, "primary_site": "adrenal", "csrf_token": token, "row_version": 1},
        headers={"HX-Request": "true", "X-CRF-Changed": "primary_site"},
    )
    assert elsewhere.status_code == 200
    assert 'id="crf-decisions"' not in elsewhere.text  # not redrawn without what it needs
    db.session.rollback()


def test_a_diagnosis_before_birth_is_an_error_not_a_negative_age(client, demo):  # noqa: F811
    login(client, demo.nurse)
    url = FORM.format(code=demo.subject.study_code)
    token = csrf(client, url)
    posted = {"diagnosis_date": "2024-11-10", "inrg_stage": "M", "mycn": "amplified"}
    live = client.post(
        f"{url}/evaluate",
        data={**posted, "csrf_token": token, "row_version": 1},
        headers={"HX-Request": "true", "X-CRF-Changed": "diagnosis_date"},
    )
    field = _text(live.text.split('id="field-diagnosis_date"', 1)[1].split("</div>\n", 2)[1])
    assert field.startswith("The diagnosis cannot be before birth.")  # next to the date
    age = re.search(r'<output id="age_months" class="calc">(.*?)</output>', live.text).group(1)
    assert age == "–"  # born 10 Jan 2025: no "-2 months"
    panel = _panel(live.text, 'id="crf-decisions"')
    assert "Risk" not in panel  # a negative age is never classified
    db.session.rollback()


def test_a_read_only_form_gives_durations_in_the_readers_language(client, demo):  # noqa: F811
    from edc.access import Role
    from tests.factories import make_user

    reader = make_user(roles=[(Role.MONITOR, demo.subject.site)])
    login(client, reader)
    page = client.get(FORM.format(code=demo.subject.study_code), headers={"Accept-Language": "fr"})
    age = page.text.split('id="field-age_months"', 1)[1].split("</dd>", 1)[0]
    assert '<span class="answer-text">17 mois</span>' in age
