"""The registry push tests' shared trial (tests/edc/registry/trial.py)."""

from __future__ import annotations

import pytest

from tests.edc.registry.trial import make_trial


@pytest.fixture
def trial(app, tmp_path):
    return make_trial(app, tmp_path)
