"""Re-consent pages for site staff: the subjects to consent again at their sites, and the
children reaching the age of majority soon."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, request
from werkzeug.wrappers import Response as BaseResponse

from econsent.services import reconsent_lists
from econsent.views.common import TEMPLATES
from edc.access import Permission, requires
from edc.errors import Invalid
from edc.web import render, request_context

if TYPE_CHECKING:
    from edc.models.subjects import Subject

bp = Blueprint("reconsent", __name__, url_prefix="/consent", template_folder=TEMPLATES)


@bp.route("/reconsent")
@requires(Permission.CONSENT_RUN)
def tasks() -> BaseResponse:
    """Open re-consent tasks at the reader's sites, the nearest grace date first."""
    rows, total = reconsent_lists.task_rows(request_context())
    return render(
        "econsent/reconsent/tasks.html", rows=rows, total=total,
        reasons=reconsent_lists.REASON_LABELS,
    )  # fmt: skip


@bp.route("/majority")
@requires(Permission.CONSENT_RUN)
def majority() -> BaseResponse:
    """Children reaching the age of majority within `days` days (default 90, at most 366)."""
    ctx = request_context()
    typed = request.args.get("days", "")[:16]
    try:
        days = reconsent_lists.parse_days(typed)
    except Invalid as refused:
        return render(
            "econsent/reconsent/majority.html", rows=[], days=typed, error=refused.message,
            max_days=reconsent_lists.MAX_DAYS, status=422,
        )  # fmt: skip
    rows = reconsent_lists.reaching_majority(ctx, days)
    return render(
        "econsent/reconsent/majority.html", rows=rows, days=days, error="",
        max_days=reconsent_lists.MAX_DAYS,
    )  # fmt: skip


def subject_tasks(subject: Subject) -> list[tuple[str, reconsent_lists.TaskRow]]:
    """The subject's open re-consent tasks with their reason in words, for the consent part of
    the subject page (a template global: `edc` renders that page and knows nothing of these)."""
    rows = reconsent_lists.for_subject(request_context(), subject)
    return [(str(reconsent_lists.REASON_LABELS.get(r.reason, r.reason)), r) for r in rows]
