"""What the consent pages share: their templates' folder and the labels they show."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from wtforms.fields.choices import SelectChoice

from econsent.forms import EXCEPTION_LABELS
from econsent.models import Blocked, Status
from econsent.services import sessions
from econsent.services.signing import ROLE_LABELS
from edc import access
from edc.access import Permission
from edc.i18n import LANGUAGE_NAMES, _, _l
from edc.services import subjects
from edc.web import request_context

if TYPE_CHECKING:
    from edc.models.subjects import Subject

TEMPLATES = str(Path(__file__).resolve().parent.parent / "templates")

STATUS_LABELS = {
    Status.PREPARED.value: _l("Prepared"),
    Status.IN_PROGRESS.value: _l("Being signed"),
    Status.SIGNED.value: _l("Signed, waiting for the investigator"),
    Status.COUNTERSIGNED.value: _l("Countersigned"),
    Status.ACTIVE.value: _l("Sealed and in force"),
    Status.BLOCKED.value: _l("Stopped"),
}
BLOCKED_LABELS = {
    Blocked.WRONG_ANSWER.value: _l(
        "A comprehension question was answered wrongly: explain again, then let the signer go on."
    ),
    Blocked.CHILD_REFUSED.value: _l(
        "The child said no. The consent cannot go ahead; parents cannot override it."
    ),
    Blocked.SIGNER_DECLINED.value: _l("The signer did not agree."),
}


def consent_subject(code: str) -> Subject:
    """The subject of a consent page: one the reader runs consents for (else a 404 that says
    nothing of whether it exists)."""
    ctx = request_context()
    subject = subjects.find(ctx, code[:64])
    if subject is None or not ctx.holds(Permission.CONSENT_RUN, subject.site_id):
        access.not_found(ctx.session, ctx.actor, "subject", code[:64])
    return subject


def offer_choices(form: Any, subject: Subject) -> None:
    """The languages of the subject's consent library and the one-parent reasons, for a form
    that prepares a consent (in clinic, or an invitation)."""
    languages = sessions.library_languages(subject)
    form.language.choices = [SelectChoice(c, LANGUAGE_NAMES.get(c, c)) for c in languages]
    form.parent_exception.choices = [
        SelectChoice("", _("Both parents will sign (or not needed)")),
        *(SelectChoice(code, label) for code, label in EXCEPTION_LABELS.items()),
    ]


def role_labels() -> dict[str, object]:
    return dict(ROLE_LABELS)


def consent_html(html: str) -> Markup:
    """`{{ section.html|consent_html }}`: the HTML the consent library rendered from Markdown
    with raw HTML off and links checked (econsent.documents.markdown), the same HTML the sealed
    copy prints and the signature's hash covers. Nothing else may go through it."""
    return Markup(html)  # noqa: S704 - safe by construction, see above
