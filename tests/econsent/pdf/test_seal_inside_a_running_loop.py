"""Sealing and checking a copy work from a thread that already runs an event loop (an async
server, or a test driving the browser through Playwright's sync API), where pyHanko's own
`asyncio.run` would be refused."""

from __future__ import annotations

import asyncio
import threading

from econsent.pdf import seal_consent, sealing_keys, trust_roots, validate_sealed


def test_a_copy_is_sealed_and_checked_while_an_event_loop_runs(app, demo_settings, evidence):
    results: list[object] = []

    async def inside_a_loop() -> None:
        with app.app_context():
            sealed = seal_consent(evidence, sealing_keys(demo_settings, "BE02"))
        results.append(validate_sealed(sealed, trust_roots(demo_settings)).valid)

    def own_thread() -> None:  # a thread of its own: this one may run Playwright's loop
        try:
            asyncio.run(inside_a_loop())
        except Exception as exc:  # reported below
            results.append(exc)

    worker = threading.Thread(target=own_thread)
    worker.start()
    worker.join(timeout=120)
    assert results == [True]
