"""The forms of remote consent: staff inviting a parent, and the parent's one-time code."""

from __future__ import annotations

from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from edc.forms import AppForm
from edc.i18n import _l


class InviteForm(AppForm):
    guardian = SelectField(_l("Parent to invite"), choices=[], validate_choice=True)
    language = SelectField(_l("Language of the consent"), choices=[])
    parent_exception = SelectField(_l("Only one parent will sign, because"), choices=[])


class CodeForm(AppForm):
    code = StringField(_l("The code you received"), validators=[DataRequired(), Length(max=32)])
