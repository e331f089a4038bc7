"""The frozen model of a study's consent folder once every check has passed: documents with their
dated, approved versions and texts, and the dated country rule table that says who signs what.

Selection lives here too, because it is what the kiosk asks of the model: which versions may be
used at a site on a date, and which document a given signer reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from forms_dsl.errors import NOWHERE, DslError, Location
from forms_dsl.text import Text

AUDIENCES = ("adult", "parent", "child")
#: The optional consents a document may offer, each given and withdrawn on its own (item 71).
OPTIONAL_ITEMS = (
    "registry_transfer",
    "biobank_storage",
    "future_research",
    "genetic_analysis",
    "recontact",
)
#: Why a second parent may be missing (item 81); the reason code is stored with the consent.
PARENT_EXCEPTIONS = ("deceased", "unknown", "no_parental_authority", "not_reasonably_available")
#: How a child in a band takes part: staff-attested verbal assent, written assent, or the
#: child's own written consent alongside the parents' (co-consent).
ASSENT_MODES = ("verbal", "written", "co_consent")
WITNESS_CONDITIONS = ("signer_cannot_read", "signer_cannot_write", "interpreter_used")
SIGNATURE_FORMS = ("wet_ink", "ses", "aes", "qes")
#: Who signs a newly approved version: subjects consenting from now on only, or every active
#: subject too (each gets a re-consent task; their consent counts until the grace date).
NEW_SUBJECTS, ALL_ACTIVE = "new_subjects", "all_active"
RECONSENT_SCOPES = (NEW_SUBJECTS, ALL_ACTIVE)


@dataclass(frozen=True)
class Approval:
    """An ethics approval of a version for a whole country, or for one site (then `site` is set
    and `country` is the site's country)."""

    country: str
    site: str | None
    reference: str
    approved_on: dt.date | None = None
    committee: str = ""
    #: Whether the committee asks active subjects to consent again on this version, and how many
    #: days after the version is in use at a site their earlier consent still counts.
    reconsent: str = NEW_SUBJECTS
    grace_days: int = 0

    def in_use_from(self, effective: dt.date) -> dt.date:
        """The first day the approved version may be used: effective and approved."""
        return max(effective, self.approved_on) if self.approved_on else effective

    def covers(self, country: str, site: str | None, on: dt.date) -> bool:
        if self.approved_on is not None and self.approved_on > on:
            return False
        if self.site is not None:
            return self.site == site
        return self.country == country


@dataclass(frozen=True)
class Section:
    id: str
    title: Text
    body: Text  # Markdown, rendered by econsent.documents.markdown


@dataclass(frozen=True)
class OptionalItem:
    id: str  # one of OPTIONAL_ITEMS
    label: Text  # Markdown (inline)


@dataclass(frozen=True)
class Answer:
    id: str
    label: Text


@dataclass(frozen=True)
class Question:
    """A comprehension question (item 65): a wrong answer sends the signer back to staff."""

    id: str
    prompt: Text
    answers: tuple[Answer, ...]
    correct: str


@dataclass(frozen=True)
class Reading:
    """What one kind of reader sees: the whole text for a parent or an adult, or one age band's
    text of a child's assent document (`band` set)."""

    band: str | None
    title: Text
    sections: tuple[Section, ...]
    options: tuple[OptionalItem, ...] = ()
    questions: tuple[Question, ...] = ()
    loc: Location = NOWHERE


@dataclass(frozen=True)
class Version:
    number: int
    effective: dt.date
    approvals: tuple[Approval, ...]
    readings: tuple[Reading, ...]
    loc: Location = NOWHERE

    def approval(self, country: str, site: str | None, on: dt.date) -> Approval | None:
        """The approval that lets this version be used at `site` (in `country`) on `on`: a
        site's own approval first, else its country's; None before the effective date."""
        if on < self.effective:
            return None
        covering = [a for a in self.approvals if a.covers(country, site, on)]
        covering.sort(key=lambda a: a.site is None)
        return covering[0] if covering else None

    def reading(self, band: str | None = None) -> Reading:
        for reading in self.readings:
            if reading.band == band:
                return reading
        raise LookupError(f"version {self.number} has no text for band {band!r}")

    @property
    def bands(self) -> tuple[str, ...]:
        return tuple(r.band for r in self.readings if r.band is not None)


@dataclass(frozen=True)
class Document:
    id: str
    audience: str  # one of AUDIENCES
    title: Text
    versions: tuple[Version, ...]  # in increasing number and effective date
    file: str = ""

    def version_for(self, country: str, site: str | None, on: dt.date) -> Version | None:
        """The version to use at a site on a date: the latest effective one approved there.
        Older approved versions are superseded by it and cannot start a new consent."""
        usable = [v for v in self.versions if v.approval(country, site, on) is not None]
        return max(usable, key=lambda v: v.number) if usable else None

    def version(self, number: int) -> Version:
        for version in self.versions:
            if version.number == number:
                return version
        raise LookupError(f"document {self.id} has no version {number}")


@dataclass(frozen=True)
class AssentBand:
    """Ages `low`–`high` (whole years, both included) read `document` (its `band` text)."""

    low: int
    high: int
    document: str
    band: str | None
    mode: str  # one of ASSENT_MODES
    loc: Location = NOWHERE

    def holds(self, age: int) -> bool:
        return self.low <= age <= self.high


@dataclass(frozen=True)
class CountryRule:
    """Who must sign in one country (or at one site) from `effective` on."""

    place: str  # ISO 3166 alpha-2 country, or a site code
    effective: dt.date
    source: str
    parents_required: int  # 1 or 2
    parent_exceptions: tuple[str, ...]  # reason codes allowing one parent where two are needed
    age_of_majority: int
    assent: tuple[AssentBand, ...]  # sorted by age
    witness_when: tuple[str, ...]
    remote_allowed: bool
    signature_forms: tuple[str, ...]
    documents: Mapping[str, str]  # audience "parent" / "adult" → document id
    loc: Location = NOWHERE
    #: Days a minor's consent still counts after the age of majority (0: until the day before).
    majority_grace_days: int = 0

    def majority_on(self, birth: dt.date) -> dt.date:
        """The day a child born on `birth` reaches the age of majority (29 February: 1 March)."""
        year = birth.year + self.age_of_majority
        try:
            return birth.replace(year=year)
        except ValueError:
            return dt.date(year, 3, 1)

    def minor_consent_until(self, birth: dt.date) -> dt.date:
        """The last day a consent given for a minor counts: the eve of majority plus grace."""
        return self.majority_on(birth) + dt.timedelta(days=self.majority_grace_days - 1)

    def band_for(self, age: int) -> AssentBand | None:
        """The assent band of a child of `age` years (None: too young to be asked, or adult)."""
        if age >= self.age_of_majority:
            return None
        return next((band for band in self.assent if band.holds(age)), None)

    def audiences_for(self, age: int) -> tuple[str, ...]:
        """Who reads a text for a subject of `age`: the adult alone, or the parents and (in a
        band) the child."""
        if age >= self.age_of_majority:
            return ("adult",)
        return ("parent", "child") if self.band_for(age) is not None else ("parent",)


@dataclass(frozen=True)
class RuleTable:
    """`consent/rules.yaml`: its declared version and a hash of its text, which the portal
    records (audits) when it loads the table, and every place's dated rules."""

    version: int
    content_hash: str
    places: Mapping[str, tuple[CountryRule, ...]]  # each in increasing effective date
    file: str = ""

    def rule_for(self, country: str, site: str | None, on: dt.date) -> CountryRule | None:
        """The rule in force on `on`: the site's own rules if it has any, else its country's."""
        for place in (site, country):
            if place is None or place not in self.places:
                continue
            current = [r for r in self.places[place] if r.effective <= on]
            return current[-1] if current else None
        return None


@dataclass(frozen=True)
class Pick:
    """The text a signer reads: a document's version (and band), under the rule that chose it."""

    document: Document
    version: Version
    band: str | None
    rule: CountryRule
    approval: Approval  # its reference is stored with the signature (item 62)

    @property
    def reading(self) -> Reading:
        return self.version.reading(self.band)


@dataclass(frozen=True)
class ConsentLibrary:
    """Every consent document of a study and its rule table."""

    languages: tuple[str, ...]
    documents: Mapping[str, Document]
    rules: RuleTable
    warnings: tuple[DslError, ...] = field(default=(), compare=False)

    def approved(
        self, country: str, site: str | None, on: dt.date
    ) -> list[tuple[Document, Version]]:
        """Every document usable at the site on the date, with the version to use."""
        found = []
        for document in self.documents.values():
            version = document.version_for(country, site, on)
            if version is not None:
                found.append((document, version))
        return sorted(found, key=lambda pair: pair[0].id)

    def pick(
        self, country: str, site: str | None, on: dt.date, audience: str, age: int | None = None
    ) -> Pick | None:
        """The document a signer of `audience` reads at the site on the date under the country's
        rules; a child's `age` (whole years on the consent date) chooses the assent band. None
        when the rules name no document for them or none is approved there on that date."""
        rule = self.rules.rule_for(country, site, on)
        if rule is None:
            return None
        band: str | None = None
        if audience == "child":
            assent = rule.band_for(age) if age is not None else None
            if assent is None:
                return None
            document_id, band = assent.document, assent.band
        else:
            document_id = rule.documents.get(audience, "")
        document = self.documents.get(document_id)
        version = document.version_for(country, site, on) if document else None
        if document is None or version is None:
            return None
        approval = version.approval(country, site, on)
        if approval is None or band not in (r.band for r in version.readings):
            return None
        return Pick(document, version, band, rule, approval)


def age_on(birth: dt.date, on: dt.date) -> int:
    """Whole years of age on a date (a child born on 29 February has a birthday on 1 March)."""
    years = on.year - birth.year
    if (on.month, on.day) < (birth.month, birth.day):
        years -= 1
    return years
