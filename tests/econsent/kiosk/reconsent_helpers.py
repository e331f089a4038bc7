"""A consent library with a second version of the parents' consent, and a whole consent run
(prepare, sign, countersign, seal) at a chosen moment, for the re-consent tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import pyotp

from econsent.services import countersign, sessions, signing
from econsent.services.sessions import Preparation
from edc.access import Role
from edc.context import Context
from edc.settings import ROOT
from tests.econsent.kiosk.conftest import all_yes, right_answers, signed
from tests.factories import make_user

DEMO = ROOT / "studies" / "siopen-nb"
V2_APPROVALS = """\
    approvals:
      - {{country: FR, reference: "DEMO-V2-FR", reconsent: all_active, grace_days: {grace}}}
      - {{country: ES, reference: "DEMO-V2-ES"}}
"""


def with_v2(tmp_path: Path, effective: dt.date, grace: int = 30) -> Path:
    """The demo study's consent folder plus version 2 of `parent_consent`, effective on
    `effective`: approved in France for every active subject (grace `grace` days), in Spain for
    new subjects only, not in Italy."""
    root = tmp_path / "siopen-v2"
    (root / "consent").mkdir(parents=True)
    shutil.copy(DEMO / "study.yaml", root / "study.yaml")
    for path in (DEMO / "consent").glob("*.yaml"):
        shutil.copy(path, root / "consent" / path.name)
    text = (DEMO / "consent" / "parent_consent.yaml").read_text()
    v1 = text[text.index("  - version: 1\n") :]
    head, rest = v1.split("    approvals:\n", 1)
    sections = rest[rest.index("    sections:\n") :]
    head = head.replace("version: 1", "version: 2").replace(
        "effective: 2026-01-15", f"effective: {effective.isoformat()}"
    )
    v2 = head + V2_APPROVALS.format(grace=grace) + sections
    (root / "consent" / "parent_consent.yaml").write_text(text.rstrip("\n") + "\n" + v2)
    return root


def at(ctx: Context, moment: dt.datetime) -> Context:
    """The same context with its clock fixed at `moment`."""
    return dataclasses.replace(ctx, clock=lambda: moment)


def run_consent(clinic, subject, moment: dt.datetime | None = None, language: str = "fr"):
    """Prepare, sign (every signer, yes to every item), countersign and seal a consent for
    `subject`, with the clock at `moment` (now if None): the session, sealed and in force."""

    def ctx(user=None) -> Context:
        base = clinic.ctx(user)
        return at(base, moment) if moment is not None else base

    cs = sessions.prepare(ctx(), subject, Preparation(language, "national_id"))
    while (role := sessions.next_signer(cs)) is not None:
        answers = right_answers(cs, role)
        signing.sign(ctx(), cs, role, signed(f"Signer {role}", **all_yes(cs, role)), answers)
    user = make_user(roles=[(Role.INVESTIGATOR, subject.site)])  # a code of their own
    when = moment or dt.datetime.now(dt.UTC)
    code = pyotp.TOTP(user.totp_plain).at(when)
    countersign.countersign(
        ctx(user), cs, password=user.password, code=code, signature=signed("Dr Anne Martin")
    )
    return cs
