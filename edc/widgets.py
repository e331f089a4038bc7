"""WTForms input widgets that write their attributes with plain string joins.

WTForms builds every attribute through `Markup.format`, which escapes through a formatter; a
CRF page renders hundreds of inputs (every radio button is one), and that formatting was a sixth
of the page's time. These widgets write the same attributes, in the same order, escaped the same
way (`attributes` is checked against WTForms' own `html_params`).
"""

from __future__ import annotations

from markupsafe import Markup, escape
from wtforms import widgets
from wtforms.widgets.core import clean_key


def attributes(**kwargs: object) -> Markup:
    """`name="value"` pairs sorted by name: True writes the bare name, False and None nothing
    (WTForms writes None as "None"; no widget here passes it), `class_` is `class`, and
    `data_`/`aria_` names take hyphens."""
    parts = []
    for key, value in sorted(kwargs.items()):
        if value is False or value is None:
            continue
        name = escape(clean_key(key))
        parts.append(name if value is True else f'{name}="{escape(value)}"')
    return Markup(" ".join(parts))  # noqa: S704 (every name and value is escaped above)


class TextInput(widgets.TextInput):
    html_params = staticmethod(attributes)


class NumberInput(widgets.NumberInput):
    html_params = staticmethod(attributes)


class DateInput(widgets.DateInput):
    html_params = staticmethod(attributes)


class DateTimeLocalInput(widgets.DateTimeLocalInput):
    html_params = staticmethod(attributes)


class TimeInput(widgets.TimeInput):
    html_params = staticmethod(attributes)


class RadioInput(widgets.RadioInput):
    html_params = staticmethod(attributes)


class CheckboxInput(widgets.CheckboxInput):
    html_params = staticmethod(attributes)
