"""The forms of the consent pages. Sizes are bounded here, before any service sees the data."""

from __future__ import annotations

from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length

from econsent.models import IdentityDocument
from econsent.services.signing import MAX_NAME, MAX_PNG, MAX_STROKES_JSON
from edc.forms import AppForm
from edc.i18n import _l

IDENTITY_LABELS = {
    IdentityDocument.PASSPORT.value: _l("Passport"),
    IdentityDocument.NATIONAL_ID.value: _l("National identity card"),
    IdentityDocument.RESIDENCE_PERMIT.value: _l("Residence permit"),
    IdentityDocument.DRIVING_LICENCE.value: _l("Driving licence"),
    IdentityDocument.KNOWN_TO_STAFF.value: _l("Known to the staff (no document)"),
}
EXCEPTION_LABELS = {
    "deceased": _l("The other parent has died"),
    "unknown": _l("The other parent is unknown"),
    "no_parental_authority": _l("The other parent has no parental authority"),
    "not_reasonably_available": _l("The other parent cannot be reached in time"),
}
PNG_FIELD = MAX_PNG * 4 // 3 + 64


class PrepareForm(AppForm):
    language = SelectField(_l("Language of the consent"), choices=[])
    identity_document = SelectField(
        _l("Identity document seen (do not copy it or note its number)"),
        choices=[SelectChoice(code, label) for code, label in IDENTITY_LABELS.items()],
    )
    parent_exception = SelectField(_l("Only one parent will sign, because"), choices=[])
    signer_cannot_read = BooleanField(_l("The signer cannot read: a witness will sign"))


class KioskLanguageForm(AppForm):
    language = HiddenField(validators=[InputRequired(), Length(max=8)])


class SignatureFields(AppForm):
    printed_name = StringField(
        _l("Type your full name"), validators=[DataRequired(), Length(max=MAX_NAME)]
    )
    strokes = HiddenField(validators=[Length(max=MAX_STROKES_JSON)])
    image = HiddenField(validators=[Length(max=PNG_FIELD)])


class SignForm(SignatureFields):
    relationship = StringField(_l("Your relationship to the child"), validators=[Length(max=32)])


class RefuseForm(AppForm):
    """The child says no: only the token travels."""


class CredentialsForm(AppForm):
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    code = StringField(
        _l("6-digit code from your authenticator app"), validators=[DataRequired(), Length(max=8)]
    )


class CountersignForm(SignatureFields):
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    code = StringField(
        _l("6-digit code from your authenticator app"), validators=[DataRequired(), Length(max=8)]
    )
    confirm_exception = BooleanField(_l("I confirm the reason why only one parent signed"))
