"""WTForms input widgets that write their attributes with plain string joins.

WTForms builds every attribute through `Markup.format`, which escapes through a formatter; a
CRF page renders hundreds of inputs (every radio button is one), and that formatting was a sixth
of the page's time. These widgets write the same attributes, in the same order, escaped the same
way (`attributes` is checked against WTForms' own `html_params`).
"""

from __future__ import annotations

from typing import TypeVar

from markupsafe import Markup, escape
from wtforms import widgets
from wtforms.widgets.core import Input, clean_key

W = TypeVar("W", bound=Input)


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


def _fast(widget: type[W]) -> type[W]:
    """`widget` writing its attributes with `attributes`."""
    return type(widget.__name__, (widget,), {"html_params": staticmethod(attributes)})


TextInput = _fast(widgets.TextInput)
NumberInput = _fast(widgets.NumberInput)
DateInput = _fast(widgets.DateInput)
DateTimeLocalInput = _fast(widgets.DateTimeLocalInput)
TimeInput = _fast(widgets.TimeInput)
RadioInput = _fast(widgets.RadioInput)
CheckboxInput = _fast(widgets.CheckboxInput)
