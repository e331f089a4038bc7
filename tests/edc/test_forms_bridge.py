"""The WTForms form built from a forms_dsl model: one input per field, in the reader's language,
bound to the posted strings so nothing typed is lost, judged by forms_dsl alone."""

from __future__ import annotations

import datetime as dt

import forms_dsl
from edc import forms_bridge
from tests.html_forms import submitted

FORM = """\
form: every_type
version: 1
title: {en: Every type, fr: Tous les types}
sections:
  - id: main
    title: {en: Main, fr: Principal}
    fields:
      - {id: note, type: note, label: {en: Read me, fr: Lisez-moi}}
      - {id: name, type: text, label: {en: Name, fr: Nom}}
      - {id: remarks, type: textarea, label: {en: Remarks, fr: Remarques}}
      - {id: count, type: integer, label: {en: Count, fr: Nombre}}
      - {id: ratio, type: decimal, label: {en: Ratio, fr: Rapport}}
      - {id: seen_on, type: date, label: {en: Seen on, fr: Vu le}}
      - {id: taken_at, type: datetime, label: {en: Taken at, fr: Prélevé le}}
      - {id: at, type: time, label: {en: Time, fr: Heure}}
      - {id: done, type: yesno, label: {en: Done, fr: Fait}}
      - id: site
        type: choice
        widget: dropdown
        label: {en: Site, fr: Site}
        choices:
          - {code: adrenal, label: {en: Adrenal, fr: Surrénale}}
          - {code: thorax, label: {en: Thorax, fr: Thorax}}
      - id: methods
        type: multichoice
        label: {en: Methods, fr: Méthodes}
        choices:
          - {code: fish, label: {en: FISH, fr: FISH}}
          - {code: mlpa, label: {en: MLPA, fr: MLPA}}
          - {code: snp, label: {en: SNP array, fr: Puce SNP}}
      - {id: doubled, type: calc, label: {en: Doubled, fr: Double}, calc: "count * 2"}
      - {id: why, type: text, label: {en: Why, fr: Pourquoi}, required: "ratio > 1"}
      - id: level
        type: calc
        label: {en: Level, fr: Niveau}
        calc: "if(ratio > 1, 'high', 'low')"
        choices:
          - {code: high, label: {en: High, fr: Élevé}}
          - {code: low, label: {en: Low, fr: Bas}}
  - id: doses
    title: {en: Doses, fr: Doses}
    repeat: {min: 0, max: 3}
    fields:
      - {id: dose_mg, type: integer, label: {en: Dose, fr: Dose}}
"""


def _form() -> forms_dsl.Form:
    form = forms_dsl.load_form_text(FORM, languages=("en", "fr")).value
    assert isinstance(form, forms_dsl.Form)
    return form


def test_the_class_has_one_input_per_answerable_field_in_the_readers_language(app):
    form = _form()
    with app.test_request_context():
        bound = forms_bridge.form_class(form, "fr")()
        names = [f.name for f in bound if f.name != "csrf_token"]
        assert names == [
            "name", "remarks", "count", "ratio", "seen_on", "taken_at", "at", "done", "site",
            "methods", "why",
        ]  # fmt: skip
        assert bound["remarks"].label.text == "Remarques"
        assert [c.label for c in bound["site"].choices][1:] == ["Surrénale", "Thorax"]
        date_input = str(bound["seen_on"]())  # the reader's format, never the device's picker
        assert 'type="text"' in date_input
        assert 'placeholder="jj/mm/aaaa"' in date_input
        assert 'inputmode="numeric"' in date_input
        assert 'placeholder="jj/mm/aaaa hh:mm"' in str(bound["taken_at"]())
        time_input = str(bound["at"]())  # 24 hours, never the device's AM/PM
        assert 'type="text"' in time_input
        assert 'placeholder="hh:mm"' in time_input
        assert 'inputmode="decimal"' in str(bound["ratio"]())
        assert "csrf_token" in bound._fields
    assert forms_bridge.form_class(form, "fr") is forms_bridge.form_class(form, "fr")
    assert forms_bridge.form_class(form, "en") is not forms_bridge.form_class(form, "fr")


def test_the_page_gives_back_exactly_what_was_typed_whatever_the_type(app):
    form = _form()
    posted = {
        "name": "Léa <b>",
        "remarks": "two\nlines",
        "count": "abc",  # malformed: kept as typed, the error comes from forms_dsl
        "ratio": "1,5",
        "seen_on": "10/03/2026",  # as a French reader writes it
        "taken_at": "10/03/2026 08:30",
        "at": "08:30",
        "done": "yes",
        "site": "thorax",
        "methods": ["fish", "snp"],
        "doses-0-dose_mg": "5",
        "doses-1-dose_mg": "",
    }
    result = forms_dsl.evaluate(form, posted, lang="fr", today=dt.date(2026, 11, 27))
    with app.test_request_context():
        view = forms_bridge.page(form, posted, result, "fr")
        html = "".join(
            str(f.input()) if f.widget not in ("radio", "checkbox") else
            "".join(str(option()) for option in f.input)
            for s in view.sections for row in s.rows for f in row if f.input is not None
        )  # fmt: skip
        fields = {f.name: f for s in view.sections for row in s.rows for f in row}
    expected = {k: v if isinstance(v, list) else [v] for k, v in posted.items()}
    expected["why"] = [""]
    assert submitted(html) == expected
    assert "&lt;b&gt;" in html  # escaped, never markup
    assert fields["doubled"].input is None
    assert fields["level"].calc_value == "Élevé"  # a calculated code, shown by its label
    assert fields["why"].required  # required while the ratio is above 1, asterisk included
    assert not fields["name"].required
    assert fields["note"].input is None
    assert fields["count"].errors  # the message sits beside the field
    assert fields["doses-1-dose_mg"].input.name == "doses-1-dose_mg"


def test_hints_and_errors_are_read_with_their_input(client, entry_for):
    from tests.factories import login

    login(client, entry_for.nurse)
    url = f"/subjects/{entry_for.subject.study_code}/crf/baseline/1/visit"
    token = client.get(url).get_data(as_text=True).split('name="csrf_token" type="hidden" value="')
    page = client.post(
        url, data={"weight": "x", "csrf_token": token[1].split('"')[0], "row_version": 0}
    ).get_data(as_text=True)
    weight = page[page.index('id="weight"') - 200 : page.index('id="weight"') + 200]
    assert 'aria-describedby="weight-error"' in weight
    assert 'aria-invalid="true"' in weight
    assert 'id="weight-error"' in page


def test_the_bridge_renders_and_imports_no_service_and_has_no_long_function():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(forms_bridge))
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [
        a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names
    ]
    assert [m for m in imported if m.startswith("edc.services")] == []
    long = {
        node.name: node.end_lineno - node.lineno + 1
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > 60
    }
    assert long == {}
