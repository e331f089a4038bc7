"""The subject page's consent history links each consent signed in clinic to its sealed copy,
for the site's staff only."""

from __future__ import annotations

from econsent.services import sessions
from edc.access import Role
from edc.extensions import db
from tests.econsent.kiosk.test_sessions import PREP, _countersign, _sign_all
from tests.factories import login, make_user


def test_the_sealed_copy_is_linked_from_the_history_for_site_staff_only(app, clinic):
    c = clinic("ES", age=2)
    with app.test_request_context():  # the services render the copy's templates
        cs = sessions.prepare(c.ctx(), c.subject, PREP)
        _sign_all(c, cs)
        _countersign(c, cs)
        db.session.commit()
        code, copy_url = c.subject.study_code, f"/consent/sessions/{cs.id}/copy"
    monitor = make_user(roles=[(Role.MONITOR, c.site)])

    nurse = app.test_client()
    login(nurse, c.nurse)
    page = nurse.get(f"/subjects/{code}").get_data(as_text=True)
    assert f'href="{copy_url}"' in page
    assert nurse.get(copy_url).data.startswith(b"%PDF")

    central = app.test_client()
    login(central, monitor)
    page = central.get(f"/subjects/{code}").get_data(as_text=True)
    assert "consent-history" in page  # the history itself is for every reader
    assert copy_url not in page
    assert central.get(copy_url).status_code == 404
