"""WTForms classes for staff pages; labels are lazy so they follow the reader's language."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import cast

from babel import support
from flask_babel import get_locale
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.i18n import messages_path
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional

from edc.dates import LocalDateField
from edc.i18n import _l
from edc.services.subjects import Guardian, Identity


@lru_cache(maxsize=16)
def _wtforms_messages(locale: str) -> support.Translations:
    # `load` answers NullTranslations for a locale without a catalogue: both translate.
    return cast(
        support.Translations,
        support.Translations.load(messages_path(), [locale], domain="wtforms"),
    )


class _Messages:
    """WTForms' own messages in the reader's language, each catalog read once per process
    (Flask-WTF reads it again on every request)."""

    def gettext(self, string: str) -> str:
        return _wtforms_messages(str(get_locale())).ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _wtforms_messages(str(get_locale())).ungettext(singular, plural, n)


class AppForm(FlaskForm):
    """Every form of the portal: Flask-WTF's CSRF, with WTForms' messages cached per language."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form: object) -> _Messages:
            return _MESSAGES


_MESSAGES = _Messages()


class LoginForm(AppForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])


class CodeForm(AppForm):
    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        validators=[DataRequired(), Length(max=32)],
    )


class EnrolForm(AppForm):
    code = StringField(
        _l("6-digit code shown by the app"), validators=[DataRequired(), Length(max=16)]
    )


class NewPasswordForm(AppForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=1024)])
    confirm = PasswordField(_l("New password again"), validators=[DataRequired(), Length(max=1024)])


class LinkPasswordForm(NewPasswordForm):
    """An invitation or reset link: the new password, and without mail the requester's code."""

    code = StringField(
        _l("Code from the administrator who asked for this link"),
        validators=[Optional(), Length(max=32)],
    )


class LinkEnrolForm(AppForm):
    """A new authenticator after a factor reset: the link and the password, not either alone."""

    current = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=1024)])
    code = StringField(
        _l("Code from the administrator who asked for this link"),
        validators=[Optional(), Length(max=32)],
    )


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=1024)])
    end_others = BooleanField(_l("Sign out my other sessions"), default=True)


class LanguageForm(AppForm):
    lang = SelectField(_l("Language"), choices=[])
    next = HiddenField()


class EmptyForm(AppForm):
    """A button that changes something: only the CSRF token travels."""


class SignForm(AppForm):
    """An investigator's e-signature: its meaning, the one-time certification, and both
    components (password and a fresh TOTP code) every time."""

    meaning = RadioField(_l("What your signature means"), choices=[])
    certify = BooleanField(_l("I accept this certification"))
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)])
    code = StringField(
        _l("6-digit code from your authenticator app"), validators=[DataRequired(), Length(max=8)]
    )


class ReasonForm(AppForm):
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


class AddOccurrenceForm(AppForm):
    """Confirms another occurrence of a repeating event: `number` is the one the person saw."""

    number = HiddenField()
    visit_date = LocalDateField(_l("Visit date"), validators=[Optional()])


class VisitDateForm(AppForm):
    """Sets a visit's date, or corrects it with a reason."""

    visit_date = LocalDateField(_l("Visit date"), validators=[Optional()])
    reason = StringField(_l("Reason for change"), validators=[Optional(), Length(max=500)])


class CreateUserForm(AppForm):
    email = EmailField(
        _l("E-mail address"),
        validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)],
    )
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    identity_check = TextAreaField(
        _l("Identity check done before issuing credentials"),
        description=_l(
            "For example: passport seen by J. Smith on 2026-11-02; staff register entry."
        ),
        validators=[DataRequired(), Length(max=1000)],
    )
    ends_at = LocalDateField(_l("Account end date (optional)"), validators=[Optional()])


class AssignRoleForm(AppForm):
    role = SelectField(_l("Role"), choices=[])
    scope = SelectField(_l("Where"), choices=[])


class EndDateForm(AppForm):
    ends_at = LocalDateField(_l("Account end date"), validators=[Optional()])
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


SEX_CHOICES = [
    SelectChoice("female", _l("Female")),
    SelectChoice("male", _l("Male")),
    SelectChoice("undetermined", _l("Undetermined")),
]
RELATIONSHIP_CHOICES = [
    SelectChoice("mother", _l("Mother")),
    SelectChoice("father", _l("Father")),
    SelectChoice("legal_guardian", _l("Legal guardian")),
    SelectChoice("other", _l("Other")),
]


class GuardianForm(Form):
    """One parent or guardian; left empty when there is none."""

    name = StringField(_l("Name"), validators=[Optional(), Length(max=200)])
    relationship = SelectField(
        _l("Relationship to the child"),
        choices=[SelectChoice("", "–"), *RELATIONSHIP_CHOICES],
        validators=[Optional()],
    )
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    email = EmailField(
        _l("E-mail"), validators=[Optional(), Email(check_deliverability=False), Length(max=254)]
    )
    second_email = EmailField(
        _l("Second e-mail (for the code of a remote consent)"),
        validators=[Optional(), Email(check_deliverability=False), Length(max=254)],
    )


class IdentityForm(AppForm):
    """The identity-vault fields, shared by registration and correction."""

    family_name = StringField(_l("Family name"), validators=[DataRequired(), Length(max=100)])
    given_names = StringField(_l("Given names"), validators=[DataRequired(), Length(max=100)])
    date_of_birth = LocalDateField(_l("Date of birth"), validators=[DataRequired()])
    #: No answer is preselected: a default would be recorded for every nurse who skipped it.
    sex = SelectField(
        _l("Sex"),
        choices=[SelectChoice("", _l("– choose –")), *SEX_CHOICES],
        validators=[InputRequired(_l("Choose the sex."))],
    )
    hospital_number = StringField(_l("Hospital number"), validators=[Optional(), Length(max=40)])
    guardians = FieldList(FormField(GuardianForm), min_entries=2, max_entries=2)

    def identity(self) -> Identity:
        """What was typed, trimmed; guardians without a name are left out."""
        guardians = tuple(
            Guardian(
                name=g.form.name.data.strip(),
                relationship=g.form.relationship.data or "",
                phone=(g.form.phone.data or "").strip(),
                email=(g.form.email.data or "").strip(),
                second_email=(g.form.second_email.data or "").strip(),
            )
            for g in self.guardians
            if (g.form.name.data or "").strip()
        )
        return Identity(
            family_name=(self.family_name.data or "").strip(),
            given_names=(self.given_names.data or "").strip(),
            date_of_birth=cast(dt.date, self.date_of_birth.data),  # required: validated first
            sex=self.sex.data or "",
            hospital_number=(self.hospital_number.data or "").strip(),
            guardians=guardians,
        )

    def fill(self, identity: Identity) -> None:
        """Show a stored identity for correction."""
        self.family_name.data = identity.family_name
        self.given_names.data = identity.given_names
        self.date_of_birth.data = identity.date_of_birth
        self.sex.data = identity.sex
        self.hospital_number.data = identity.hospital_number
        for entry, guardian in zip(self.guardians, identity.guardians, strict=False):
            entry.form.name.data = guardian.name
            entry.form.relationship.data = guardian.relationship
            entry.form.phone.data = guardian.phone
            entry.form.email.data = guardian.email
            entry.form.second_email.data = guardian.second_email


class RegisterSubjectForm(IdentityForm):
    site = SelectField(_l("Site"), choices=[])
    #: Shown with the possible duplicates only; `seen` carries the study codes that were shown.
    confirm_duplicate = BooleanField(
        _l("Register anyway: I have checked that this is another child")
    )
    seen = HiddenField()

    def seen_codes(self) -> list[str]:
        return [c for c in (self.seen.data or "").split(",") if c][:50]


class SubjectStatusForm(AppForm):
    """A change of a subject's status: the choices are the statuses allowed next."""

    status = SelectField(_l("New status"), choices=[])
    # InputRequired: a mistyped date says so, rather than "required".
    status_date = LocalDateField(_l("Date of the new status"), validators=[InputRequired()])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


class WithdrawalForm(AppForm):
    """A withdrawal as the site learnt of it: no reason asked (it is the family's right)."""

    stops = SelectField(_l("What is withdrawn"), choices=[])
    option = SelectField(
        _l("Optional item (when one item is withdrawn)"), choices=[], validate_choice=False
    )
    withdrawn_by = SelectField(_l("Who withdrew"), choices=[], validate_choice=False)
    method = SelectField(_l("How the site learnt of it"), choices=[], validate_choice=False)
    withdrawn_on = LocalDateField(_l("Date of the withdrawal"), validators=[Optional()])
    note = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=1000)])


class CorrectIdentityForm(IdentityForm):
    reason = StringField(
        _l("Reason for the correction"), validators=[DataRequired(), Length(max=500)]
    )
    #: Shown with the possible duplicates only, as at registration.
    confirm_duplicate = BooleanField(_l("Save anyway: I have checked that this is another child"))
    seen = HiddenField()

    def seen_codes(self) -> list[str]:
        return [c for c in (self.seen.data or "").split(",") if c][:50]


class FindPatientForm(AppForm):
    """Find a patient: posted, so that what was typed stays out of URLs, logs and history."""

    study_code = StringField(_l("Study code"), validators=[Optional(), Length(max=32)])
    family_name = StringField(_l("Family name"), validators=[Optional(), Length(max=100)])
    given_names = StringField(_l("Given names"), validators=[Optional(), Length(max=100)])
    date_of_birth = LocalDateField(_l("Date of birth"), validators=[Optional()])
    hospital_number = StringField(_l("Hospital number"), validators=[Optional(), Length(max=40)])
