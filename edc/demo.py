"""Demo data: about thirty children over the three demo sites, in every stage of data entry.

Everything goes through the same services as real use (registration, vault, saves, audit), so
the demo shows exactly what staff would see. The data are invented; a fixed seed keeps them the
same on every machine.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from edc.actor import Actor
from edc.context import Context
from edc.models.subjects import Subject
from edc.models.users import User
from edc.services import (
    consent_scope,
    data_entry,
    entries,
    subject_status,
    subjects,
    withdrawals,
)
from edc.services.data_entry import Outcome

NAMES = {
    "FR": (["Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Laurent"],
           ["Léa", "Hugo", "Chloé", "Louis", "Inès", "Jules"]),
    "IT": (["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano"],
           ["Giulia", "Leonardo", "Sofia", "Francesco", "Aurora", "Tommaso"]),
    "ES": (["García", "Fernández", "López", "Martínez", "Sánchez", "Pérez"],
           ["Lucía", "Hugo", "Martina", "Mateo", "Sofía", "Leo"]),
}  # fmt: skip

# (stage, age band in months, histology, grade, MYCN, 11q, DNA index) — realistic INRG mixes.
PROFILES = [
    ("L1", (2, 40), "nb", "differentiating", "not_amplified", "no", "1.3"),
    # Intermixed ganglioneuroblastomas are rarely tested: group A without MYCN, as published.
    ("L1", (6, 30), "gnb_intermixed", "", "not_done", "not_done", ""),
    ("L2", (3, 17), "nb", "poorly_differentiated", "not_amplified", "no", "1.4"),
    ("L2", (20, 60), "nb", "differentiating", "not_amplified", "yes", "1.0"),
    ("L2", (10, 50), "nb", "undifferentiated", "amplified", "no", "0.9"),
    ("M", (24, 72), "nb", "poorly_differentiated", "amplified", "no", "1.0"),
    ("M", (20, 90), "nb", "poorly_differentiated", "not_amplified", "yes", "0.95"),
    ("M", (3, 11), "nb", "poorly_differentiated", "not_amplified", "no", "1.0"),
    ("M", (13, 17), "nb", "poorly_differentiated", "gain", "no", "1.0"),
    ("MS", (1, 10), "nb", "differentiating", "not_amplified", "no", "1.3"),
]
METASTASES = {"M": ["bone_marrow", "bone", "distant_lymph_nodes"], "MS": ["liver", "skin"]}
# First response assessment by stage (primary, metastatic, marrow, marrow infiltration %): the
# components a clinician would report after induction, so the INRC panel has cases to show.
RESPONSES = {
    "L1": [("CR", "NI", "NI", ""), ("PR", "NI", "NI", "")],
    "L2": [("PR", "NI", "NI", ""), ("SD", "NI", "NI", ""), ("CR", "NI", "NI", "")],
    "M": [("PR", "PR", "MD", "2.5"), ("PR", "SD", "CR", ""), ("SD", "SD", "SD", "12"),
          ("PD", "PR", "CR", "")],
    "MS": [("CR", "PR", "CR", ""), ("PR", "CR", "NI", "")],
}  # fmt: skip
CONFIRMED = "Checked against the source document (demo data)."
# Where some children stand after enrolment (by their number in the seed): most stay enrolled.
LATER_STATUSES = {
    7: (subject_status.LOST_TO_FOLLOW_UP, "Family moved abroad; no contact since (demo data)."),
    20: (subject_status.COMPLETED, "End of the follow-up period (demo data)."),
    25: (subject_status.DECEASED, "Disease progression (demo data)."),
}
# Withdrawals the families sent later (by the child's number): all further collection, by
# letter (the child becomes withdrawn); the biobank only, in person (entry goes on).
WITHDRAWALS = {
    3: ("all_collection", "", "letter", "Letter from both parents (demo data)."),
    11: ("option", "biobank_storage", "in_person", "Said at the follow-up visit (demo data)."),
}
NOT_ELIGIBLE = "Not eligible: diagnosis not confirmed on review (demo data)."


def _months_before(day: dt.date, months: int, rng: random.Random) -> dt.date:
    return day - dt.timedelta(days=int(months * 30.44) + rng.randint(0, 20))


def _save(
    session: Session,
    actor: Actor,
    subject: Subject,
    event: str,
    form: str,
    posted: Mapping[str, str | list[str]],
    complete: bool,
    now: datetime,
) -> None:
    """Save a record; completing confirms warnings like a nurse would, else it stays a draft."""

    ctx = Context(session, actor, "en", lambda: now)

    def attempt(finish: bool, confirmed: Mapping[str, str]) -> data_entry.SaveResult:
        entry = entries.open_entry(ctx, subject, event, 1, form)
        assert entry is not None
        asked = data_entry.SaveRequest(
            posted, expected_version=entry.row_version, complete=finish, confirmed=confirmed
        )
        return data_entry.save(ctx, entry, asked)

    result = attempt(complete, {})
    only_warnings = result.evaluation is not None and not result.evaluation.errors
    if result.outcome is Outcome.INVALID and complete and only_warnings:
        confirmed = {data_entry.warning_key(w): CONFIRMED for w in result.unconfirmed}
        result = attempt(True, confirmed)
    if result.outcome is Outcome.INVALID:
        attempt(False, {})


def seed_subjects(
    session: Session, staff: Mapping[int, User], now: datetime, count: int = 30, seed: int = 7
) -> list[Subject]:
    """Register `count` subjects round-robin over the sites in `staff` (site id → a nurse)."""
    rng = random.Random(seed)
    status_rng = random.Random(seed + 1)  # its own sequence: the clinical data stay as they were
    consent_rng = random.Random(seed + 2)  # likewise
    made = []
    site_ids = sorted(staff)
    for n in range(count):
        site_id = site_ids[n % len(site_ids)]
        actor = Actor(user=staff[site_id], ip="127.0.0.1", user_agent="demo seed")
        profile = PROFILES[n % len(PROFILES)]
        diagnosed = now.date() - dt.timedelta(days=rng.randint(30, 900))
        born = _months_before(diagnosed, rng.randint(*profile[1]), rng)
        identity = _identity(rng, subjects_country(session, site_id), born)
        state = (n // len(site_ids)) % 6  # at each site: 0–3 complete, 4 draft, 5 not started
        after = (status_rng if state == 5 else rng).randint(1, 20)
        registered = diagnosed + dt.timedelta(days=after)
        registered_at = datetime.combine(registered, dt.time(9, 30), tzinfo=UTC)
        subject = subjects.register(Context(session, actor), site_id, identity, registered_at)
        made.append(subject)
        _set_status(session, actor, subject, n, state, registered, now, status_rng)
        if state != 5:
            _paper_consent(Context(session, actor), subject, registered_at, consent_rng)
            _seed_forms(session, actor, subject, profile, (diagnosed, registered), state, rng, now)
            _withdrawal(Context(session, actor), subject, n, registered)
    session.flush()
    return made


def _identity(rng: random.Random, country: str, born: dt.date) -> subjects.Identity:
    """An invented child of `country`, with one or two parents."""
    family, given = NAMES.get(country, NAMES["FR"])
    surname = rng.choice(family)
    parents = [
        subjects.Guardian(
            name=f"{rng.choice(given)} {surname}",
            relationship=relationship,
            phone=f"+{rng.randint(30, 49)} {rng.randint(10**8, 10**9 - 1)}",
        )
        for relationship in rng.choice([("mother", "father"), ("mother",), ("father",)])
    ]
    return subjects.Identity(
        family_name=surname,
        given_names=rng.choice(given),
        date_of_birth=born,
        sex=rng.choice(["female", "male"]),
        hospital_number=f"{rng.randint(10**7, 10**8 - 1)}",
        guardians=tuple(parents),
    )


Profile = tuple[str, tuple[int, int], str, str, str, str, str]


def _seed_forms(
    session: Session,
    actor: Actor,
    subject: Subject,
    profile: Profile,
    dates: tuple[dt.date, dt.date],
    state: int,
    rng: random.Random,
    now: datetime,
) -> None:
    """Registration, diagnosis and a first response, as far as this child's `state` got."""
    diagnosed, registered = dates
    _save(session, actor, subject, "registration", "registration", {
        "consent_obtained": "yes", "consent_date": registered.isoformat(),
        "consent_given_by": "parents", "registration_date": registered.isoformat(),
        "elig_diagnosis": "yes", "diagnosis_basis": "histology", "elig_age": "yes",
        "elig_residence": "yes", "elig_site": "yes", "elig_not_registered": "yes",
        "trial_enrolled": "no",
    }, complete=True, now=now)  # fmt: skip
    _save(session, actor, subject, "diagnosis", "diagnosis", _diagnosis(profile, diagnosed, rng),
          complete=state < 4, now=now)  # fmt: skip
    if state < 4:  # treatment started within weeks of diagnosis: not on the to-do list
        started = min(diagnosed + dt.timedelta(days=rng.randint(7, 20)), now.date())
        _save(session, actor, subject, "treatment", "treatment", _treatment(profile[0], started),
              complete=state < 3, now=now)  # fmt: skip
    if state < 3:  # treated long enough for a first response assessment
        stage = profile[0]
        primary, metastatic, marrow, infiltration = rng.choice(RESPONSES[stage])
        assessed = min(diagnosed + dt.timedelta(days=rng.randint(100, 140)), now.date())
        response = {
            "assessment_date": assessed.isoformat(), "response_primary": primary,
            "response_metastatic": metastatic, "response_marrow": marrow,
        }  # fmt: skip
        if infiltration:
            response["marrow_infiltration"] = infiltration
        _save(session, actor, subject, "response", "response", response, complete=state < 2,
              now=now)  # fmt: skip


def _treatment(stage: str, started: dt.date) -> dict[str, str | list[str]]:
    """Initial treatment by INRG stage: observation for L1 and MS, chemotherapy for L2, and
    multimodal treatment for M, as the usual protocols go."""
    posted: dict[str, str | list[str]] = {
        "treatment_start_date": started.isoformat(), "on_trial": "no", "surgery": "no",
        "chemotherapy": "no", "hdct": "no", "radiotherapy": "no", "anti_gd2": "no",
    }  # fmt: skip
    if stage in ("L1", "MS"):
        posted["init_treat"] = "observation"
    elif stage == "L2":
        regimen = "Carboplatin and etoposide (demo data)"
        posted |= {"init_treat": "conventional_chemo", "chemotherapy": "yes",
                   "chemo_regimen": regimen, "chemo_cycles": "4"}  # fmt: skip
    else:
        posted |= {"init_treat": "multimodal_unknown", "chemotherapy": "yes",
                   "chemo_regimen": "Rapid COJEC (demo data)", "chemo_cycles": "8"}  # fmt: skip
    return posted


def _diagnosis(
    profile: Profile, diagnosed: dt.date, rng: random.Random
) -> dict[str, str | list[str]]:
    """The diagnosis form of a child with this INRG profile."""
    stage, _ages, histology, grade, mycn, chr11q, dna_index = profile
    posted: dict[str, str | list[str]] = {
        "diagnosis_date": diagnosed.isoformat(),
        "inrg_stage": stage,
        "primary_site": "adrenal",
        "histology": histology,
        "mycn": mycn,
        "chr11q": chr11q,
        "dna_index": dna_index,
        "idrf_present": "yes" if stage == "L2" else "no",
    }
    if stage == "L2":
        posted["idrfs"] = ["abdomen_sma_branches"]
    if grade:
        posted["grade"] = grade
    if mycn == "amplified":
        posted["mycn_copies"] = str(rng.randint(12, 120))
    for index, site in enumerate(METASTASES.get(stage, [])[: rng.randint(1, 3)]):
        posted[f"metastases-{index}-metastasis_site"] = site
    return posted


def _set_status(
    session: Session,
    actor: Actor,
    subject: Subject,
    n: int,
    state: int,
    registered: dt.date,
    now: datetime,
    rng: random.Random,
) -> None:
    """Most children enrolled on the day they were registered, some failed screening, a few
    later withdrew, were lost to follow-up, died or completed the study."""
    ctx = Context(session, actor)
    if state == 5:  # never started: screening failed, or still being screened
        if n % 2:
            subject_status.change_status(
                ctx, subject, subject_status.SCREENING_FAILED, registered,
                NOT_ELIGIBLE, now,
            )  # fmt: skip
        return
    subject_status.change_status(
        ctx, subject, subject_status.ENROLLED, registered,
        "Eligibility confirmed and consent signed (demo data).", now,
    )  # fmt: skip
    if n in LATER_STATUSES:
        status, reason = LATER_STATUSES[n]
        today = subjects.site_today(subject.site, now)
        later = min(registered + dt.timedelta(days=rng.randint(60, 400)), today)
        subject_status.change_status(ctx, subject, status, later, reason, now)


#: The demo parent document's title in each demo country's language (studies/siopen-nb/consent).
CONSENT_TITLES = {
    "fr": "Registre et biobanque virtuelle SIOPEN du neuroblastome : information et "
    "consentement des parents",
    "it": "Registro e biobanca virtuale SIOPEN del neuroblastoma: informazione e consenso dei "
    "genitori",
    "es": "Registro y biobanco virtual SIOPEN de neuroblastoma: información y consentimiento de "
    "los padres",
}
LANGUAGES = {"FR": "fr", "IT": "it", "ES": "es"}


def _withdrawal(ctx: Context, subject: Subject, n: int, registered: dt.date) -> None:
    """A withdrawal some families sent after their data were entered (nothing is deleted)."""
    if n not in WITHDRAWALS:
        return
    stops, option, method, note = WITHDRAWALS[n]
    if option and option not in withdrawals.options_offered(ctx, subject):
        return  # never granted: nothing to withdraw
    today = subjects.site_today(subject.site, ctx.now())
    on = min(registered + dt.timedelta(days=random.Random(n).randint(60, 400)), today)
    withdrawals.withdraw(
        ctx, subject, withdrawals.Withdrawal(stops, "parent", method, on, option, note)
    )


def _paper_consent(ctx: Context, subject: Subject, signed_at: datetime, rng: random.Random) -> None:
    """The parents' consent of a child already in the study, as if recorded from paper on the
    day of registration (the demo's consents made in the kiosk start from a fresh child)."""
    language = LANGUAGES.get(subject.site.country, "fr")
    consent_scope.put_in_force(
        ctx,
        subject,
        consent_scope.Granted(
            reference=f"paper:{subject.study_code}",
            document="parent_consent",
            title=CONSENT_TITLES[language],
            version="1",
            language=language,
            options={
                "registry_transfer": True,
                "biobank_storage": rng.random() < 0.8,
                "future_research": rng.random() < 0.7,
                "genetic_analysis": True,
                "recontact": rng.random() < 0.6,
            },
            since=signed_at,
        ),
    )


def subjects_country(session: Session, site_id: int) -> str:
    from edc.models.studies import Site

    site = session.get(Site, site_id)
    return site.country if site is not None else "FR"
