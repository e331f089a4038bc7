"""The worker against the reference registry running as a real process: idempotent pushes, an
outage ridden out with retries, a withdrawal, and the duplicate child found across two sites
without a name, birth date or hospital number ever reaching the registry."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from collections import Counter
from dataclasses import replace

import pytest

from edc.access import Role
from edc.models.base import utcnow
from edc.registry import client, worker
from edc.services import withdrawals
from edc.web import app_context
from tests.edc.registry.trial import (
    POSTED,
    consent,
    ctx_of,
    lock_subject,
    queued,
    save,
    worker_actor,
)
from tests.factories import make_site, make_subject, make_user
from tests.registry_process import RegistryProcess, RegistryTLS
from tests.registry_server.pki import Authority

TOKEN = "registry-token-for-the-tests"


@pytest.fixture
def registry(tmp_path):
    with RegistryProcess(tmp_path / "registry", TOKEN) as running:
        yield running


def _get(registry: RegistryProcess, path: str) -> dict:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    request = urllib.request.Request(registry.url + path, headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (loopback)
        return json.loads(answer.read())


def _configured(trial, registry: RegistryProcess):
    return replace(trial[5], registry_url=registry.url, registry_token=TOKEN)


def _pass(settings, at=None) -> worker.PassResult:
    ctx = replace(
        app_context(worker_actor()), settings=settings, clock=(lambda: at) if at else utcnow
    )
    return worker.push_once(ctx)


def _ready(trial, subject, posted=POSTED):
    study, _site, _subject, nurse, manager, _settings = trial
    consent(subject, nurse)
    save(nurse, subject, "diagnosis", posted)
    lock_subject(manager, study, subject)


def _resources(registry: RegistryProcess, kind: str) -> list[dict]:
    return [e["resource"] for e in _get(registry, f"/{kind}?_count=1000").get("entry", [])]


def test_pushing_the_same_locked_record_twice_leaves_the_same_resources(trial, registry):
    settings = _configured(trial, registry)
    _ready(trial, trial[2])
    assert _pass(settings).bundles == 1
    before = {k: _resources(registry, k) for k in ("Patient", "Consent", "QuestionnaireResponse")}
    (row,) = queued(trial[2])
    row.state = "pending"  # as if the worker had died between sending and recording it
    assert _pass(settings).bundles == 1
    after = {k: _resources(registry, k) for k in before}
    assert after == before
    assert [r["meta"]["versionId"] for r in after["QuestionnaireResponse"]] == ["1"]
    outcomes = [
        e["outcome"] for r in _get(registry, "/_received")["received"] for e in r["entries"]
    ]
    assert outcomes.count("created") == 5  # Patient, study, consent, subject, response: once
    assert "updated" not in outcomes


def test_after_an_outage_every_record_arrives_exactly_once(trial, registry):
    settings = _configured(trial, registry)
    children = [trial[2], *(make_subject(trial[1], family_name=f"Kind{n}") for n in range(4))]
    for child in children:
        _ready(trial, child)
    registry.stop()
    start = utcnow()
    for minute in range(0, 6):  # several minutes down: every try fails, the waits grow
        _pass(settings, at=start + dt.timedelta(minutes=minute))
    rows = [row for child in children for row in queued(child)]
    assert {r.state for r in rows} == {"pending"}
    assert min(r.attempts for r in rows) >= 3
    assert all("unreachable" in r.last_error for r in rows)
    registry.restart()
    result = _pass(settings, at=start + dt.timedelta(hours=2))
    assert (result.bundles, result.sent) == (5, 5)
    responses = _resources(registry, "QuestionnaireResponse")
    keys = Counter(r["identifier"]["value"] for r in responses)
    assert sorted(keys) == sorted(f"{c.study_code}/baseline/1/diagnosis" for c in children)
    assert set(keys.values()) == {1}
    assert _pass(settings, at=start + dt.timedelta(hours=3)).worked == 0


def test_a_withdrawal_reaches_the_registry_and_stops_the_pushes(trial, registry):
    settings = _configured(trial, registry)
    subject, nurse = trial[2], trial[3]
    _ready(trial, subject)
    _pass(settings)
    withdrawal = withdrawals.Withdrawal(
        stops="all_collection", withdrawn_by="parent", method="letter", on=dt.date.today()
    )
    withdrawals.withdraw(ctx_of(nurse), subject, withdrawal)
    assert _pass(settings).bundles == 1
    (stored,) = _resources(registry, "Consent")
    assert stored["status"] == "inactive"
    (research_subject,) = _resources(registry, "ResearchSubject")
    assert research_subject["status"] == "withdrawn"
    received = len(_get(registry, "/_received")["received"])
    assert _pass(settings).worked == 0
    assert len(_get(registry, "/_received")["received"]) == received


def test_the_same_child_at_two_sites_is_reported_without_any_identity_reaching_the_registry(
    trial, registry, tmp_path
):
    study, site, _subject, _nurse, manager, _settings = trial
    settings = _configured(trial, registry)
    other_site = make_site("IT-77", study, country="IT")
    other_nurse = make_user(roles=[(Role.NURSE, other_site)])
    born = dt.date(2019, 7, 14)
    paris = make_subject(
        site, family_name="Marchetti", given_names="Léa", date_of_birth=born,
        hospital_number="PAR-4471",
    )  # fmt: skip
    genoa = make_subject(
        other_site, family_name="Marcheti", given_names="Lea", date_of_birth=born,
        hospital_number="GE-99310",
    )  # fmt: skip
    stranger = make_subject(
        other_site, family_name="Okonkwo", given_names="Chidi",
        date_of_birth=dt.date(2016, 2, 3), hospital_number="GE-12000",
    )  # fmt: skip
    for child, nurse in ((paris, trial[3]), (genoa, other_nurse), (stranger, other_nurse)):
        consent(child, nurse)
        save(nurse, child, "diagnosis", POSTED)
        lock_subject(manager, study, child)
    assert _pass(settings).bundles == 3
    report = _get(registry, "/linkage/duplicates")
    pairs = {(p["a"]["subject"], p["b"]["subject"]) for p in report["pairs"]}
    assert pairs == {(paris.study_code, genoa.study_code)}
    assert report["pairs"][0]["exact"] is False  # the typo: only the fuzzy encoding matches
    stored = registry.db_path.read_bytes()
    for secret in ("Marchetti", "Marcheti", "Okonkwo", "Chidi", "PAR-4471", "GE-99310",
                   "2019-07-14", "14/07/2019", "20190714", "Léa"):  # fmt: skip
        assert secret.encode() not in stored, secret
        assert secret.encode("utf-16-le") not in stored, secret


def test_a_wrong_token_is_a_failure_that_is_retried(trial, registry):
    settings = replace(_configured(trial, registry), registry_token="not-the-token")
    _ready(trial, trial[2])
    result = _pass(settings)
    (row,) = queued(trial[2])
    assert (result.failed, row.state) == (1, "pending")
    assert row.last_error.startswith("HTTP 401")
    assert client.Answer(401, b"").ok is False


def test_the_worker_authenticates_with_a_client_certificate_over_tls(trial, tmp_path):
    authority = Authority(tmp_path / "pki", "registry-ca")
    server, site_identity = (
        authority.issue("server", server=True),
        authority.issue("FR77", server=False),
    )
    tls = RegistryTLS(
        server.cert, server.key, authority.files.cert, authority.files.cert,
        site_identity.cert, site_identity.key,
    )  # fmt: skip
    with RegistryProcess(tmp_path / "tls", TOKEN, tls=tls) as registry:
        _ready(trial, trial[2])
        base = replace(trial[5], registry_url=registry.url, registry_token=TOKEN,
                       registry_ca=authority.files.cert)  # fmt: skip
        refused = _pass(base)  # no client certificate: the handshake fails, tried again later
        assert (refused.failed, refused.bundles) == (1, 0)
        (row,) = queued(trial[2])
        row.next_attempt_at = utcnow()
        signed = replace(base, registry_client_cert=site_identity.cert,
                         registry_client_key=site_identity.key)  # fmt: skip
        assert _pass(signed).bundles == 1
