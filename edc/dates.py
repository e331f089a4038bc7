"""Dates on the portal's pages in the reader's chosen language, not the device's locale.

The formats themselves live in `forms_dsl.dates` (the forms engine reads CRF dates with them and
cannot import the application); this module gives them to the web side: a text field for staff
forms that reads the language's form or ISO and keeps what was typed when it cannot, the
`|date` and `|datetime` Jinja filters, and the messages in the reader's language. An
`<input type="date">` would show the device's format (mm/dd/yyyy on an en-US tablet) whatever
language the portal speaks, so no page uses one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_babel import get_locale
from markupsafe import Markup
from wtforms import StringField
from wtforms.validators import StopValidation

import forms_dsl
from edc import widgets
from edc.i18n import _
from edc.item_address import field_of
from forms_dsl.dates import (
    TIME_PLACEHOLDER,
    DateError,
    as_written,
    datetime_placeholder,
    format_date,
    format_datetime,
    parse_date,
    placeholder,
)
from forms_dsl.model import FieldType

__all__ = [
    "DateError",
    "LocalDateField",
    "as_written",
    "format_date",
    "format_datetime",
    "init_app",
    "input_attributes",
    "language",
    "message",
    "parse_date",
    "placeholder",
    "posted_as_written",
    "shown",
]

DATED = (FieldType.DATE, FieldType.DATETIME)
#: What every date input carries: digits on a tablet's keyboard, no browser autofill guesses.
INPUT_ATTRIBUTES = {"inputmode": "numeric", "autocomplete": "off", "data_date": ""}


def input_attributes(lang: str, kind: FieldType = FieldType.DATE) -> dict[str, str]:
    """The attributes of a date, date-time or time text input in `lang`: its format as
    placeholder (a browser's time input would be 12-hour on an en-US device)."""
    hints = {FieldType.DATETIME: datetime_placeholder(lang), FieldType.TIME: TIME_PLACEHOLDER}
    return {**INPUT_ATTRIBUTES, "placeholder": hints.get(kind, placeholder(lang))}


def posted_as_written(
    form: forms_dsl.Form, posted: Mapping[str, str | Sequence[str]], lang: str
) -> dict[str, str | Sequence[str]]:
    """Answers to show in a CRF's inputs: stored (ISO) dates rewritten as `lang` writes them,
    anything typed left exactly as it was typed."""
    fields = form.fields
    shown_posted = dict(posted)
    for path, value in posted.items():
        f = fields.get(field_of(path))
        if f is not None and isinstance(value, str) and f.type in DATED:
            shown_posted[path] = as_written(value, lang, f.type is FieldType.DATETIME)
    return shown_posted


def language() -> str:
    """The reader's chosen language (the portal's, never the device's)."""
    return str(get_locale() or "en")


def example(lang: str) -> str:
    return format_date(dt.date(2026, 12, 31), lang)


def message(error: DateError, lang: str) -> str:
    """Why typed text is not a date, with the dates in the reader's format."""
    if error.kind == "no_such_date":
        return _(
            "There is no %(date)s in the calendar: check the day and the month.", date=error.text
        )
    return _(
        "Enter the date as %(format)s, for example %(example)s.",
        format=placeholder(lang),
        example=example(lang),
    )


def shown(value: dt.date | dt.datetime | None, lang: str | None = None) -> str:
    """A date (or date-time, to the minute) as the reader writes it; empty for none."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return format_datetime(value, lang or language())
    return format_date(value, lang or language())


def _date_filter(value: dt.date | dt.datetime | None) -> Markup:
    """`{{ d|date }}`: the date in a <time> element (machine-readable ISO, reader's format)."""
    if value is None:
        return Markup("–")
    day = value.date() if isinstance(value, dt.datetime) else value
    return Markup('<time datetime="{}">{}</time>').format(day.isoformat(), shown(day))


def moment(value: dt.datetime, zone: ZoneInfo, lang: str | None = None) -> str:
    """A stored instant (UTC) on the wall clock of `zone`, as the reader writes it, with the
    zone's abbreviation: "31/12/2026 15:30 CET" (a time stamp, never the device's clock)."""
    local = value.astimezone(zone)
    return f"{format_datetime(local, lang or language())} {local.tzname()}"


def _portal_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["EDC_SETTINGS"].account_timezone)


def _when_filter(value: dt.datetime | None) -> Markup:
    """`{{ t|when }}`: a time stamp in a <time> element (UTC ISO for machines, the portal's time
    zone and the reader's format for people)."""
    if value is None:
        return Markup("–")
    iso = value.astimezone(dt.UTC).isoformat(timespec="seconds")
    return Markup('<time datetime="{}">{}</time>').format(iso, moment(value, _portal_zone()))


def _moment_filter(value: dt.datetime) -> str:
    """`{{ t|moment }}`: the same time stamp as plain text (e-mails)."""
    return moment(value, _portal_zone())


class LocalDateField(StringField):
    """A date typed as the reader's language writes it (or ISO): a text input with the format as
    placeholder. Text that is not a date stays in the field as typed, with the error beside it."""

    widget = widgets.TextInput()
    data: dt.date | None

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        text = str(valuelist[0]).strip()
        if not text:
            self.data = None
            return
        try:
            self.data = parse_date(text, language())
        except DateError as bad:
            self.data = None
            raise ValueError(message(bad, language())) from None

    def pre_validate(self, form: object) -> None:
        """A date that could not be read says why, not "required" (DataRequired would replace
        the reason with that)."""
        if self.process_errors:
            raise StopValidation()

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])  # what was typed, right or wrong
        return shown(self.data) if isinstance(self.data, dt.date) else ""

    def __call__(self, **kwargs: Any) -> Markup:
        kwargs.setdefault("placeholder", placeholder(language()))
        kwargs.pop("max", None)  # a text input has no date limits; the server checks them
        kwargs.pop("min", None)
        for key, value in INPUT_ATTRIBUTES.items():
            kwargs.setdefault(key, value)
        return super().__call__(**kwargs)


def init_app(app: Flask) -> None:
    """`{{ d|date }}` and `{{ date_placeholder() }}` (the reader's format) in every template."""
    app.add_template_filter(_date_filter, "date")
    app.add_template_filter(_when_filter, "when")
    app.add_template_filter(_moment_filter, "moment")
    app.jinja_env.globals["date_placeholder"] = lambda: placeholder(language())
