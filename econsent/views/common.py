"""What the consent pages share: their templates' folder and the labels they show."""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from econsent.models import Blocked, Status
from econsent.services.signing import ROLE_LABELS
from edc.i18n import _l

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


def role_labels() -> dict[str, object]:
    return dict(ROLE_LABELS)


def consent_html(html: str) -> Markup:
    """`{{ section.html|consent_html }}`: the HTML the consent library rendered from Markdown
    with raw HTML off and links checked (econsent.documents.markdown), the same HTML the sealed
    copy prints and the signature's hash covers. Nothing else may go through it."""
    return Markup(html)  # noqa: S704 - safe by construction, see above
