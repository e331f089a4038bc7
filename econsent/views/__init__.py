"""E-consent's pages: staff pages (prepare, hand over, countersign, the copy, re-consent), the
kiosk, and remote consent (invitations, and the remote signer's pages)."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from econsent.views import common, kiosk, reconsent, remote, staff

    app.add_template_filter(common.consent_html, "consent_html")
    app.add_template_global(reconsent.subject_tasks, "reconsent_tasks")
    app.register_blueprint(staff.bp)
    app.register_blueprint(kiosk.bp)
    app.register_blueprint(reconsent.bp)
    app.register_blueprint(remote.bp)
    app.register_blueprint(remote.staff_bp)
    app.before_request(kiosk.keep_in_kiosk)
