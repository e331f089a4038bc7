"""Exports stream (DESIGN §7): exporting four times the subjects keeps the same peak memory,
since subjects are read and written a batch at a time."""

from __future__ import annotations

import gc
import io
import tracemalloc

import pytest

from edc.extensions import db
from edc.services import exports, subjects
from tests.edc.exports.conftest import VISIT_VALUES, consent, ctx_of, save

N = 6


class _Sink(io.RawIOBase):
    """Takes what is written and keeps nothing."""

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        return memoryview(data).nbytes


def _seed(t, site, nurse, count: int) -> None:
    for n in range(count):
        ctx = ctx_of(t.app, nurse)
        identity = subjects.Identity(f"Family{n}", "Given", t.first_birth, "female")
        subject = subjects.register(ctx, site.id, identity, ctx.now(), confirm_duplicate=True)
        consent(t.app, nurse, subject, n)
        save(t.app, nurse, subject, "baseline", 1, "visit", VISIT_VALUES)


def _peak(t, fmt: str, site: str | None) -> int:
    db.session.expunge_all()  # nothing of the seeding held in the session
    gc.collect()
    ctx = ctx_of(t.app, t.data_manager)
    where = exports.scope(ctx, t.study.slug, site)
    # Garbage in reference cycles (database results) is collected often, so the peak is what
    # the export keeps alive, not what the collector has yet to reach.
    thresholds = gc.get_threshold()
    gc.set_threshold(100, 2, 2)
    tracemalloc.start()
    try:
        exports.export(ctx, where, fmt, _Sink())  # type: ignore[arg-type]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        gc.set_threshold(*thresholds)
        db.session.rollback()


@pytest.mark.parametrize("fmt", ["csv", "odm"])
def test_four_times_the_subjects_take_no_more_memory(trial, monkeypatch, fmt):
    monkeypatch.setattr(exports, "BATCH", 3)
    trial.first_birth = trial.first.registered_at.date().replace(year=2024)
    _seed(trial, trial.site, trial.nurse, N - 1)  # with the trial's own: N at FR-01
    _seed(trial, trial.other, trial.other_nurse, 3 * N - 1)  # 4N in the study
    db.session.commit()
    for site in (None, "FR-01"):  # warm: compiled statements and form models cached
        _peak(trial, fmt, site)
    small, large = _peak(trial, fmt, "FR-01"), _peak(trial, fmt, None)
    # Holding every subject at once (one batch of all) makes this about 3 for ODM.
    assert large < small * 2, (small, large)
