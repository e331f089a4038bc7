"""Dates in each portal language: written, read back, ISO always understood, impossible refused."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forms_dsl import dates, evaluate
from forms_dsl.study import load_form_text

LANGUAGES = ["en", "fr", "de", "it", "es"]
NEW_YEARS_EVE = dt.date(2020, 12, 31)


@pytest.mark.parametrize(
    ("lang", "written", "hint"),
    [
        ("en", "31/12/2020", "dd/mm/yyyy"),  # the English of a European network, day first
        ("fr", "31/12/2020", "jj/mm/aaaa"),
        ("de", "31.12.2020", "TT.MM.JJJJ"),
        ("it", "31/12/2020", "gg/mm/aaaa"),
        ("es", "31/12/2020", "dd/mm/aaaa"),
    ],
)
def test_each_language_writes_and_reads_its_own_format(lang, written, hint):
    assert dates.format_date(NEW_YEARS_EVE, lang) == written
    assert dates.placeholder(lang) == hint
    assert dates.parse_date(written, lang) == NEW_YEARS_EVE
    assert dates.parse_date("2020-12-31", lang) == NEW_YEARS_EVE  # ISO, whatever the language
    assert dates.format_date(dt.date(2021, 3, 4), lang).startswith("04")  # fixed digits


@pytest.mark.parametrize("lang", LANGUAGES)
@given(day=st.dates(min_value=dt.date(1000, 1, 1), max_value=dt.date(9999, 12, 31)))
def test_every_date_comes_back_from_its_written_form(lang, day):
    assert dates.parse_date(dates.format_date(day, lang), lang) == day
    assert dates.parse_date(day.isoformat(), lang) == day


@pytest.mark.parametrize("lang", LANGUAGES)
@given(
    moment=st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1)).map(
        lambda m: m.replace(second=0, microsecond=0)
    )
)
def test_every_date_and_time_comes_back_from_its_written_form(lang, moment):
    written = dates.format_datetime(moment, lang)
    assert dates.parse_datetime(written, lang) == moment
    assert dates.parse_datetime(moment.isoformat(timespec="minutes"), lang) == moment


@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("1/2/2020", dt.date(2020, 2, 1)),  # one digit is enough
        ("01.02.2020", dt.date(2020, 2, 1)),  # another language's separator, same order
        ("01022020", dt.date(2020, 2, 1)),  # the digits alone: a numeric keypad has no "/"
        (" 01/02/2020 ", dt.date(2020, 2, 1)),
        ("29/02/2020", dt.date(2020, 2, 29)),
    ],
)
def test_forgiving_where_it_cannot_mislead(typed, day):
    assert dates.parse_date(typed, "fr") == day


@pytest.mark.parametrize(
    ("typed", "kind"),
    [
        ("31/02/2020", "no_such_date"),
        ("29/02/2021", "no_such_date"),
        ("12/31/2020", "no_such_date"),  # a US month-first date is not silently misread
        ("2020-02-30", "no_such_date"),
        ("31/12/20", "date"),  # a two-digit year is ambiguous
        ("2020/12/31", "date"),
        ("12/2020", "date"),
        ("demain", "date"),
        ("३१/१२/२०२०", "date"),  # other scripts' digits are not read as these
    ],
)
def test_what_is_not_a_date_is_refused_with_the_reason(typed, kind):
    with pytest.raises(dates.DateError) as refused:
        dates.parse_date(typed, "fr")
    assert refused.value.kind == kind
    assert refused.value.text == typed


@pytest.mark.parametrize(
    ("typed", "moment"),
    [
        ("31/12/2020 14:30", dt.datetime(2020, 12, 31, 14, 30)),
        ("31/12/2020 9h05", dt.datetime(2020, 12, 31, 9, 5)),
        ("2020-12-31T14:30", dt.datetime(2020, 12, 31, 14, 30)),
        ("311220201430", dt.datetime(2020, 12, 31, 14, 30)),
    ],
)
def test_dates_and_times_are_read_in_24_hours(typed, moment):
    assert dates.parse_datetime(typed, "fr") == moment


@pytest.mark.parametrize("typed", ["31/12/2020", "31/12/2020 24:00", "31/12/2020 2:30 PM"])
def test_a_date_and_time_needs_a_24_hour_time(typed):
    with pytest.raises(dates.DateError):
        dates.parse_datetime(typed, "fr")


def test_stored_iso_text_is_shown_as_written_and_typed_text_is_left_alone():
    assert dates.as_written("2020-12-31", "de") == "31.12.2020"
    assert dates.as_written("2020-12-31T14:30", "fr", with_time=True) == "31/12/2020 14:30"
    for typed in ("31/02/2020", "2020-02-30", "n'importe quoi", ""):
        assert dates.as_written(typed, "fr") == typed


FORM = """\
form: f
version: 1
title: F
sections:
  - id: s
    title: S
    fields:
      - id: d
        type: date
        label: D
        min: 2020-02-01
      - id: t
        type: datetime
        label: T
"""


def test_the_engine_reads_dates_in_the_readers_language_and_says_limits_in_it():
    form = load_form_text(FORM).value
    result = evaluate(form, {"d": "31/12/2020", "t": "31.12.2020 14:30"}, lang="de")
    assert result.errors == []
    assert result.values == {"d": NEW_YEARS_EVE, "t": dt.datetime(2020, 12, 31, 14, 30)}
    early = evaluate(form, {"d": "15/01/2020"}, lang="fr")
    assert [i.message for i in early.errors] == ["La valeur doit être au moins 01/02/2020."]
    impossible = evaluate(form, {"d": "31/02/2020"}, lang="fr")
    assert [(i.kind, i.message) for i in impossible.errors] == [
        (
            "no_such_date",
            "Le 31/02/2020 n’existe pas dans le calendrier : vérifiez le jour et le mois.",
        )
    ]
    shapeless = evaluate(form, {"d": "31 déc.", "t": "31/12/2020"}, lang="de")
    assert [i.message for i in shapeless.errors] == [
        "Geben Sie ein Datum als TT.MM.JJJJ ein, zum Beispiel 31.12.2026.",
        "Geben Sie Datum und Uhrzeit als TT.MM.JJJJ hh:mm ein, zum Beispiel 31.12.2026 14:30.",
    ]
