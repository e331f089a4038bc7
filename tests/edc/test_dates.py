"""Dates on the portal's pages follow the language chosen in the portal, not the device's locale:
typed as that language writes them (or ISO), stored as ISO, refused with the reason in that
language, and what was typed is never lost."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from babel.dates import get_date_format
from sqlalchemy import select

from edc.extensions import db
from edc.models.base import utcnow
from edc.models.crf import ItemValue
from edc.models.subjects import Subject, SubjectStatusChange
from edc.services import subjects
from forms_dsl import dates
from tests.factories import another_browser, csrf, login
from tests.html_forms import submitted

CLDR_LOCALES = {"en": "en_GB", "fr": "fr", "de": "de", "it": "it", "es": "es"}


@pytest.mark.parametrize("lang", sorted(CLDR_LOCALES))
def test_each_format_is_its_languages_cldr_short_date_with_fixed_digits(lang):
    pattern = get_date_format("short", locale=CLDR_LOCALES[lang]).pattern  # e.g. dd.MM.yy
    order = "".join(dict.fromkeys(c.lower() for c in pattern if c.isalpha()))
    separator = re.sub(r"[A-Za-z]", "", pattern)[0]
    style = dates.style(lang)
    assert (style.order, style.sep) == (order, separator)


def _url(entry_for, suffix=""):
    return f"/subjects/{entry_for.subject.study_code}/crf/baseline/1/visit{suffix}"


def _in_french(client, entry_for) -> None:
    """The nurse signs in and picks French in the portal (her browser says English)."""
    login(client, entry_for.nurse)
    token = csrf(client, "/")
    client.post("/language", data={"lang": "fr", "next": "/", "csrf_token": token})


def _save(client, entry_for, visit_date: str, action: str = "draft", version: int = 0):
    token = csrf(client, _url(entry_for))
    return client.post(
        _url(entry_for),
        data={"visit_date": visit_date, "mycn": "amplified", "csrf_token": token,
              "action": action, "row_version": version},
    )  # fmt: skip


def _stored(path: str):
    return db.session.scalar(select(ItemValue.value).where(ItemValue.path == path))


def test_a_french_nurse_types_a_french_date_it_is_stored_iso_and_shown_french(client, entry_for):
    _in_french(client, entry_for)
    page = client.get(_url(entry_for)).get_data(as_text=True)
    assert 'placeholder="jj/mm/aaaa"' in page
    assert 'inputmode="numeric"' in page
    assert _save(client, entry_for, "31/12/2020").status_code == 302
    assert _stored("visit_date") == "2020-12-31"
    again = client.get(_url(entry_for)).get_data(as_text=True)
    assert submitted(again)["visit_date"] == ["31/12/2020"]
    assert _save(client, entry_for, "2020-12-30", version=1).status_code == 302  # ISO as well
    assert _stored("visit_date") == "2020-12-30"
    again = client.get(_url(entry_for)).get_data(as_text=True)
    assert submitted(again)["visit_date"] == ["30/12/2020"]


def test_an_impossible_date_is_refused_in_french_and_the_typed_text_kept(client, entry_for):
    _in_french(client, entry_for)
    refused = _save(client, entry_for, "31/02/2020")
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "Le 31/02/2020 n’existe pas dans le calendrier" in body
    assert submitted(body)["visit_date"] == ["31/02/2020"]
    assert _stored("visit_date") is None
    garbled = _save(client, entry_for, "31 déc")
    body = garbled.get_data(as_text=True)
    assert "Saisissez une date au format jj/mm/aaaa, par exemple 31/12/2026." in body
    assert submitted(body)["visit_date"] == ["31 déc"]


def test_a_limit_in_a_message_is_a_date_in_the_readers_format(client, entry_for):
    _in_french(client, entry_for)
    body = _save(client, entry_for, "01/01/2999", "complete").get_data(as_text=True)
    assert re.search(r"La valeur doit être au plus [0-3][0-9]/[01][0-9]/20[0-9]{2}\.", body)


def test_an_english_reader_sees_day_first_whatever_the_device(client, entry_for):
    login(client, entry_for.nurse)
    assert _save(client, entry_for, "03/04/2021").status_code == 302
    assert _stored("visit_date") == "2021-04-03"  # the 3rd of April, as in Europe


def _status(client, code: str, status_date: str):
    path = f"/subjects/{code}/status"
    return client.post(
        path,
        data={"csrf_token": csrf(client, path), "status": "enrolled",
              "status_date": status_date, "reason": "typed reason"},
    )  # fmt: skip


def test_staff_forms_read_the_readers_format_and_keep_what_was_typed(client, entry_for):
    _in_french(client, entry_for)
    subject = db.session.get(Subject, entry_for.subject.id)
    code, today = subject.study_code, subjects.site_today(subject.site, utcnow())
    page = client.get(f"/subjects/{code}/status").get_data(as_text=True)
    (date_input,) = re.findall(r'<input[^>]*name="status_date"[^>]*>', page)
    assert 'placeholder="jj/mm/aaaa"' in date_input
    assert 'type="text"' in date_input
    refused = _status(client, code, "30/02/2026")
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "Le 30/02/2026 n’existe pas dans le calendrier" in body
    assert submitted(body)["status_date"] == ["30/02/2026"]
    yesterday = today - dt.timedelta(days=1)
    early = _status(client, code, f"{yesterday:%d/%m/%Y}").get_data(as_text=True)
    assert f"({today:%d/%m/%Y})" in early  # the registration day, in the reader's format
    garbled = _status(client, code, "hier").get_data(as_text=True)
    assert "Saisissez la date au format jj/mm/aaaa, par exemple 31/12/2026." in garbled
    assert _status(client, code, today.strftime("%d/%m/%Y")).status_code == 302
    change = db.session.scalar(select(SubjectStatusChange).order_by(SubjectStatusChange.id.desc()))
    assert change.status_date == today
    detail = client.get(f"/subjects/{code}").get_data(as_text=True)
    assert f'<time datetime="{today.isoformat()}">{today.strftime("%d/%m/%Y")}</time>' in detail


def test_the_date_filter_writes_the_readers_format_in_a_time_element(app):
    with app.test_request_context():
        from flask import render_template_string
        from flask_babel import force_locale

        with force_locale("de"):
            shown = render_template_string("{{ d|date }}", d=dt.date(2020, 12, 31))
    assert shown == '<time datetime="2020-12-31">31.12.2020</time>'


def test_the_security_log_is_filtered_by_days_typed_in_the_readers_format(client, make_user):
    from tests.edc.test_admin import _admin_client

    _admin_client(client, make_user)
    victim = make_user().email
    other = another_browser(client)
    other.post(
        "/login",
        data={"email": victim, "password": "wrong one", "csrf_token": csrf(other, "/login")},
    )
    today = utcnow().date()
    tomorrow = today + dt.timedelta(days=1)
    page = client.get(f"/admin/security?since={today:%d/%m/%Y}&until={today:%d/%m/%Y}")
    body = page.get_data(as_text=True)
    assert victim in body
    assert 'placeholder="dd/mm/yyyy"' in body
    later = client.get(f"/admin/security?since={tomorrow:%d/%m/%Y}").get_data(as_text=True)
    assert victim not in later
    assert f'value="{tomorrow:%d/%m/%Y}"' in later  # the filter as typed


@pytest.mark.parametrize(
    ("lang", "shown"),
    [
        ("fr", "15/01/2026 14:30 CET"),
        ("de", "15.01.2026 14:30 CET"),
        ("en", "15/01/2026 14:30 CET"),
    ],
)
def test_a_time_stamp_is_in_the_portals_time_zone_and_the_readers_format(app, lang, shown):
    from zoneinfo import ZoneInfo

    from flask_babel import force_locale

    from edc.dates import moment

    stamp = dt.datetime(2026, 1, 15, 13, 30, tzinfo=dt.UTC)
    assert moment(stamp, ZoneInfo("Europe/Brussels"), lang) == shown
    summer = dt.datetime(2026, 7, 15, 12, 30, tzinfo=dt.UTC)
    assert moment(summer, ZoneInfo("Europe/Brussels"), lang).endswith("14:30 CEST")
    with app.test_request_context(), force_locale(lang):
        rendered = app.jinja_env.from_string("{{ t|when }}").render(t=stamp)
    assert rendered == f'<time datetime="2026-01-15T13:30:00+00:00">{shown}</time>'
