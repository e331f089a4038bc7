"""Subjects: the list, registration, and the subject page with its identity panel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, abort, flash, redirect, request, url_for
from flask_babel import get_locale
from werkzeug.wrappers import Response as BaseResponse

from edc import access, lifecycle
from edc.access import Permission, requires
from edc.errors import Denied
from edc.forms import (
    RELATIONSHIP_CHOICES,
    SEX_CHOICES,
    AddOccurrenceForm,
    CorrectIdentityForm,
    EmptyForm,
    ReasonForm,
    RegisterSubjectForm,
    SubjectStatusForm,
    VisitDateForm,
    WithdrawalForm,
)
from edc.i18n import _, _l
from edc.services import (
    casebook,
    casebook_pdf,
    consent_scope,
    signing,
    subject_page,
    subject_status,
    subjects,
    visit_dates,
    withdrawals,
)
from edc.web import page_arg, page_count, render, request_context

if TYPE_CHECKING:
    from edc.models.subjects import Subject

bp = Blueprint("subjects", __name__, url_prefix="/subjects")
STATUS_LABELS = lifecycle.LABELS
LABELS: dict[str, Any] = {
    "sex_labels": {c.value: c.label for c in SEX_CHOICES},
    "relationship_labels": {c.value: c.label for c in RELATIONSHIP_CHOICES},
}
#: How the subject page names a withdrawal's parts.
WITHDRAWAL_LABELS: dict[str, Any] = {
    "stops": consent_scope.STOPS,
    "by": withdrawals.WITHDRAWN_BY,
    "method": withdrawals.METHODS,
}
#: What a possible duplicate has in common with the child being registered.
MATCH_LABELS = {
    subjects.NAME_AND_BIRTH_DATE: _l("same names and date of birth"),
    subjects.HOSPITAL_NUMBER: _l("same hospital number"),
}


@bp.route("/")
@requires(Permission.SUBJECT_VIEW)
def subject_list() -> BaseResponse:
    page, search, ctx = page_arg(), request.args.get("q", "")[:32], request_context()
    rows, total = subjects.subject_page(ctx, page, search)
    return render(
        "subjects/list.html",
        subjects=rows,
        counts=casebook.record_counts(ctx, [s.id for s in rows]),
        status_labels=STATUS_LABELS,
        subject_status_labels=subject_status.LABELS,
        search=search,
        total=total,
        page=page,
        pages=page_count(total, subjects.PAGE_SIZE),
        can_register=bool(subjects.registrable_sites(ctx)),
    )


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.SUBJECT_REGISTER)
def subject_new() -> BaseResponse:
    ctx = request_context()
    form = RegisterSubjectForm()
    sites = subjects.registrable_sites(ctx)
    form.site.choices = [(str(s.id), f"{s.code} – {s.name}") for s in sites]
    duplicates: list[subjects.DuplicateMatch] = []
    if form.validate_on_submit():
        identity = form.identity()
        try:
            subject = subjects.register(
                ctx, int(form.site.data), identity, ctx.now(),
                confirm_duplicate=bool(form.confirm_duplicate.data), seen=form.seen_codes(),
            )  # fmt: skip
        except subjects.PossibleDuplicate as possible:
            duplicates = possible.matches
            form.seen.data = ",".join(m.study_code for m in duplicates)
            form.confirm_duplicate.data = False  # confirmed only once these were shown
        except subjects.SubjectError as refused:
            form.date_of_birth.errors = [refused.message]
        else:
            return redirect(url_for("subjects.subject_detail", code=subject.study_code))
    return render(
        "subjects/new.html",
        form=form,
        duplicates=duplicates,
        match_labels=MATCH_LABELS,
        status=422 if form.errors or duplicates else 200,
    )


def _subject_or_404(code: str) -> Subject:
    ctx = request_context()
    subject = subjects.find(ctx, code)
    if subject is None:
        access.not_found(ctx.session, ctx.actor, "subject", code)
    return subject


@bp.route("/<code>")
@requires(Permission.SUBJECT_VIEW)
def subject_detail(code: str) -> BaseResponse:
    subject = _subject_or_404(code)
    ctx = request_context()
    shown = subject_page.subject_page(ctx, subject)
    return render(
        "subjects/detail.html",
        subject=subject,
        identity=None,
        may_read_identity=shown.may_read_identity,
        casebook=shown.casebook,
        decisions=shown.decisions,
        may_enter=shown.may_enter,
        add_form=EmptyForm(),
        lang=str(get_locale()),
        status_labels=STATUS_LABELS,
        subject_status_labels=subject_status.LABELS,
        status_history=shown.status_history,
        registered_on=shown.registered_on,
        may_change_status=shown.may_change_status,
        consent=shown.consent,
        option_labels=consent_scope.OPTION_LABELS,
        withdrawal_labels=WITHDRAWAL_LABELS,
        signatures=signing.shown_for_subject(ctx, subject),
        may_sign=signing.may_sign(ctx, subject),
        lock=shown.lock,
        may_lock=shown.may_lock,
    )


@bp.route("/<code>/casebook.pdf")
@requires(Permission.SUBJECT_VIEW)
def casebook_download(code: str) -> BaseResponse:
    """The subject's casebook as a PDF for an inspector: a download, audited by the service."""
    subject = _subject_or_404(code)
    pdf = casebook_pdf.casebook_pdf(request_context(), subject)
    response = Response(pdf, mimetype="application/pdf")
    name = f"casebook-{subject.study_code}.pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"  # shared tablets: never kept by a cache
    response.headers["Pragma"] = "no-cache"
    return response


@bp.route("/<code>/status", methods=["GET", "POST"])
@requires(Permission.DATA_ENTER)
def subject_status_change(code: str) -> BaseResponse:
    """Record that the subject enrolled, failed screening, withdrew, … with a date and reason."""
    subject = _subject_or_404(code)
    ctx = request_context()
    if not subject_status.may_change_status(ctx, subject):
        raise Denied()
    form = SubjectStatusForm()
    form.status.choices = [
        (s, subject_status.LABELS[s]) for s in subject_status.next_statuses(subject)
    ]
    if form.validate_on_submit():
        try:
            subject_status.change_status(
                ctx, subject, form.status.data or "", form.status_date.data,
                form.reason.data or "", ctx.now(),
            )  # fmt: skip
        except subject_status.StatusRefused as refused:
            getattr(form, refused.field).errors = [refused.message]
        else:
            label = subject_status.LABELS[subject.status]
            flash(_("Status recorded: %(status)s.", status=label))
            return redirect(url_for("subjects.subject_detail", code=code))
    return render(
        "subjects/status.html",
        form=form,
        subject=subject,
        subject_status_labels=subject_status.LABELS,
        status=422 if form.errors else 200,
    )


@bp.route("/<code>/withdrawal", methods=["GET", "POST"])
@requires(Permission.CONSENT_RUN)
def withdrawal(code: str) -> BaseResponse:
    """Record a withdrawal of consent as the site learnt of it; it governs entry at once."""
    subject = _subject_or_404(code)
    ctx = request_context()
    if not ctx.holds(Permission.CONSENT_RUN, subject.site_id):
        raise Denied()
    form = _withdrawal_form(withdrawals.options_offered(ctx, subject))
    if not form.is_submitted():
        form.withdrawn_on.data = subjects.site_today(subject.site, ctx.now())
    if form.validate_on_submit():
        try:
            withdrawals.withdraw(ctx, subject, withdrawals.Withdrawal(
                stops=form.stops.data or "", withdrawn_by=form.withdrawn_by.data or "",
                method=form.method.data or "", on=form.withdrawn_on.data,
                option=form.option.data or "", note=form.note.data or "",
            ))  # fmt: skip
        except withdrawals.WithdrawalRefused as refused:
            for name, message in refused.errors.items():
                getattr(form, {"on": "withdrawn_on"}.get(name, name)).errors = [message]
        else:
            flash(_("Withdrawal recorded: it applies from now on. No data were deleted."))
            return redirect(url_for("subjects.subject_detail", code=code) + "#consent")
    return render(
        "subjects/withdrawal.html", form=form, subject=subject,
        status=422 if form.errors else 200,
    )  # fmt: skip


def _withdrawal_form(options: list[str]) -> WithdrawalForm:
    form = WithdrawalForm()
    form.stops.choices = [("", "–"), *consent_scope.STOPS.items()]
    form.option.choices = [
        ("", "–"),
        *((o, consent_scope.OPTION_LABELS.get(o, o)) for o in options),
    ]
    form.withdrawn_by.choices = [("", "–"), *withdrawals.WITHDRAWN_BY.items()]
    form.method.choices = [("", "–"), *withdrawals.METHODS.items()]
    return form


@bp.route("/<code>/events/<event_id>/occurrences/new", methods=["GET", "POST"])
@requires(Permission.DATA_ENTER)
def occurrence_add(code: str, event_id: str) -> BaseResponse:
    """Another occurrence of a repeating event, once confirmed (with its visit date where the
    study asks for one): a tap alone never creates an empty visit."""
    subject = _subject_or_404(code)
    ctx = request_context()
    now = ctx.now()
    offer = casebook.next_occurrence(ctx, subject, event_id, now)
    form = AddOccurrenceForm()
    status = 422 if form.is_submitted() else 200
    if form.validate_on_submit():
        try:
            number = casebook.add_occurrence(
                ctx, subject, event_id, now,
                number=_posted_number(form.number.data), visit_date=form.visit_date.data,
            )  # fmt: skip
        except casebook.OccurrenceConflict as changed:
            flash(changed.message, "error")
            offer = casebook.next_occurrence(ctx, subject, event_id, now)
            status = 409
        except casebook.OccurrenceError as refused:
            form.visit_date.errors = [refused.message]
        else:
            label = offer.event.label.get(str(get_locale()))
            flash(_("%(visit)s #%(n)d added.", visit=label, n=number))
            return redirect(url_for("subjects.subject_detail", code=code))
    form.number.data = str(offer.number)
    return render(
        "subjects/occurrence_new.html",
        form=form,
        subject=subject,
        offer=offer,
        label=offer.event.label.get(str(get_locale())),
        status=status,
    )


def _posted_number(text: str | None) -> int:
    """The occurrence number the person confirmed; anything else matches no number."""
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else 0


@bp.route("/<code>/events/<event_id>/<int:number>/date", methods=["GET", "POST"])
@requires(Permission.DATA_ENTER)
def visit_date(code: str, event_id: str, number: int) -> BaseResponse:
    """Set a visit's date where the study asks for one, or correct it with a reason."""
    subject = _subject_or_404(code)
    ctx = request_context()
    now = ctx.now()
    visit = visit_dates.dated_visit(ctx, subject, event_id, number, now)
    form = VisitDateForm()
    if not form.is_submitted():
        form.visit_date.data = visit.visit_date
    elif form.validate_on_submit():
        try:
            visit_dates.set_visit_date(
                ctx, subject, event_id, number, form.visit_date.data, form.reason.data or "", now
            )
        except visit_dates.ReasonNeeded as refused:
            form.reason.errors = [refused.message]
        except casebook.OccurrenceError as refused:
            form.visit_date.errors = [refused.message]
        else:
            return redirect(url_for("subjects.subject_detail", code=code))
    return render(
        "subjects/visit_date.html",
        form=form,
        subject=subject,
        visit=visit,
        label=visit.event.label.get(str(get_locale())),
        status=422 if form.is_submitted() else 200,
    )


@bp.route("/<code>/events/<event_id>/<int:number>/remove", methods=["GET", "POST"])
@requires(Permission.DATA_ENTER)
def occurrence_remove(code: str, event_id: str, number: int) -> BaseResponse:
    """Remove an occurrence added by mistake while none of its forms was saved, with a reason."""
    subject = _subject_or_404(code)
    ctx = request_context()
    found = casebook.find_occurrence(ctx, subject, event_id, number)
    form = ReasonForm()
    status = 422 if form.is_submitted() else 200
    if form.validate_on_submit():
        try:
            casebook.remove_occurrence(
                ctx, subject, event_id, number, form.reason.data or "", ctx.now()
            )
        except casebook.OccurrenceConflict as changed:
            flash(changed.message, "error")
            found = casebook.find_occurrence(ctx, subject, event_id, number)
            status = 409
        except casebook.OccurrenceError as refused:
            form.reason.errors = [refused.message]
        else:
            label = found.event.label.get(str(get_locale()))
            flash(_("%(visit)s #%(n)d removed.", visit=label, n=number))
            return redirect(url_for("subjects.subject_detail", code=code))
    return render(
        "subjects/occurrence_remove.html",
        form=form,
        subject=subject,
        found=found,
        label=found.event.label.get(str(get_locale())),
        status=status,
    )


@bp.route("/<code>/identity")
@requires(Permission.IDENTITY_VIEW)
def subject_identity(code: str) -> BaseResponse:
    """The identity panel, opened on request so that every read is a deliberate, audited act."""
    subject = _subject_or_404(code)
    ctx = request_context()
    identity = subjects.read_identity(ctx, subject)
    if identity is None:
        abort(404)
    return render(
        "subjects/detail.html",
        block="identity",
        subject=subject,
        identity=identity,
        may_read_identity=True,
        may_correct_identity=subjects.may_correct_identity(ctx, subject),
        **LABELS,
    )


@bp.route("/<code>/identity/correct", methods=["GET", "POST"])
@requires(Permission.IDENTITY_EDIT)
def identity_correct(code: str) -> BaseResponse:
    """Correct names, birth date or contacts, with a reason; the old identity is kept encrypted."""
    subject = _subject_or_404(code)
    ctx = request_context()
    if not subjects.may_correct_identity(ctx, subject):
        abort(404)
    form = CorrectIdentityForm()
    duplicates: list[subjects.DuplicateMatch] = []
    if form.validate_on_submit():
        try:
            changed = subjects.correct_identity(
                ctx, subject, form.identity(), form.reason.data or "", ctx.now(),
                confirm_duplicate=bool(form.confirm_duplicate.data), seen=form.seen_codes(),
            )  # fmt: skip
        except subjects.PossibleDuplicate as possible:
            duplicates = possible.matches
            form.seen.data = ",".join(m.study_code for m in duplicates)
            form.confirm_duplicate.data = False  # confirmed only once these were shown
        except subjects.SubjectError as refused:
            form.date_of_birth.errors = [refused.message]
        else:
            flash(_("Identity corrected.") if changed else _("Nothing was changed."))
            return redirect(url_for("subjects.subject_detail", code=code))
    elif not form.is_submitted():
        identity = subjects.read_identity(ctx, subject, purpose="correction")
        if identity is None:
            abort(404)
        form.fill(identity)
    return render(
        "subjects/correct.html",
        form=form,
        subject=subject,
        duplicates=duplicates,
        match_labels=MATCH_LABELS,
        corrections=subjects.identity_history(ctx, subject),
        status=422 if form.errors or duplicates else 200,
        **LABELS,
    )
