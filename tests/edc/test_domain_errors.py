"""Domain errors raised by a service reach the browser as the status they stand for."""

from __future__ import annotations

import pytest
from flask import Flask

from edc.errors import Conflict, Denied, DomainError, Invalid, NotFound


@pytest.mark.parametrize(
    ("error", "status"), [(NotFound, 404), (Denied, 404), (Conflict, 409), (Invalid, 422)]
)
def test_a_domain_error_becomes_its_status_with_the_message_shown(
    app: Flask, error: type[DomainError], status: int
) -> None:
    with app.test_request_context("/"):
        response = app.handle_user_exception(error("Plain words for the user"))
    assert response.status_code == status
    assert "Plain words for the user" in response.get_data(as_text=True)


def test_a_refusal_reads_exactly_like_a_missing_page(app: Flask) -> None:
    with app.test_request_context("/"):
        denied = app.handle_user_exception(Denied()).get_data(as_text=True)
        missing = app.handle_user_exception(NotFound()).get_data(as_text=True)
    assert denied == missing
