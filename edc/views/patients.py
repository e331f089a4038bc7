"""Find a patient: a form posted to itself, the search service, the results."""

from __future__ import annotations

from flask import Blueprint, Response

from edc import errors
from edc.access import Permission, requires
from edc.forms import FindPatientForm
from edc.services import patient_search, subject_status
from edc.web import render, request_context

bp = Blueprint("patients", __name__, url_prefix="/subjects")


@bp.route("/find", methods=["GET", "POST"])
@requires(Permission.IDENTITY_VIEW)
def find_patient() -> Response:
    """GET shows the form; POST searches (the terms never appear in a URL)."""
    form = FindPatientForm()
    results: patient_search.Results | None = None
    message, status = "", 200
    if form.validate_on_submit():
        criteria = patient_search.Criteria(
            study_code=(form.study_code.data or "").strip(),
            family_name=(form.family_name.data or "").strip(),
            given_names=(form.given_names.data or "").strip(),
            date_of_birth=form.date_of_birth.data,
            hospital_number=(form.hospital_number.data or "").strip(),
        )
        try:
            results = patient_search.find_patients(request_context(), criteria)
        except errors.Invalid as refused:
            message, status = refused.message, refused.status
    elif form.errors:
        status = 422
    return render(
        "subjects/find.html",
        form=form,
        results=results,
        message=message,
        status=status,
        status_labels=subject_status.LABELS,
        max_results=patient_search.MAX_RESULTS,
    )
