"""Sealing and checking a copy work from a thread that already runs an event loop (an async
server, or a test driving the browser through Playwright's sync API), where pyHanko's own
`asyncio.run` would be refused."""

from __future__ import annotations

import asyncio

from econsent.pdf import seal_consent, sealing_keys, trust_roots, validate_sealed


def test_a_copy_is_sealed_and_checked_while_an_event_loop_runs(app, demo_settings, evidence):
    async def inside_a_loop() -> bool:
        with app.app_context():
            sealed = seal_consent(evidence, sealing_keys(demo_settings, "BE02"))
        return validate_sealed(sealed, trust_roots(demo_settings)).valid

    assert asyncio.run(inside_a_loop())
