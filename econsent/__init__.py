"""E-consent: consent documents and country rules, signing sessions (in clinic, later remote),
signatures, the sealed PDF copy and withdrawal. It imports `edc` (access, audit, context,
subjects); `edc` never imports it, and learns a consent's outcome only through
`edc.services.consent_scope`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    """Hook e-consent into the app: `flask forms check` also checks a study's consent folder,
    `flask econsent …` holds its commands, its pages (staff, kiosk) are registered, and the
    to-do list gains the subjects to consent again, and entry checks a newer version's grace."""
    # Imported here, not above: `econsent.documents` is a pure library, and importing it (which
    # runs this file first) must load neither Flask nor the application.
    import econsent.models  # noqa: F401  (its tables, on edc's metadata)
    from econsent.cli import register_cli
    from econsent.documents import check_study
    from econsent.services import reconsent, reconsent_lists
    from econsent.views import register
    from edc import study_checks
    from edc.services import consent_scope, todo

    study_checks.add_checker(app, check_study)
    todo.register_source("reconsent", reconsent_lists.todo_source, reconsent_lists.TODO_TEMPLATE)
    consent_scope.register_scope_check("reconsent", reconsent.check_scope)
    register_cli(app)
    register(app)
