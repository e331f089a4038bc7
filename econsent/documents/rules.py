"""`consent/rules.yaml` → a checked `RuleTable`: who signs what, per country (or per site), dated.

    version: 1                      # bump on every change; loading records (version, hash)
    countries:
      FR:
        - effective: 2026-01-01     # rules of a place from the oldest to the newest
          source: "Code de la santé publique L1122-2 …"
          parents: {required: 2, exceptions: [deceased, unknown]}
          age_of_majority: 18
          majority_grace_days: 30   # optional (default 0): a minor's consent counts until
                                    # the eve of majority plus these days
          documents: {parent: parent_consent, adult: adult_consent}
          assent:                   # whole years, both ends included, contiguous
            - {ages: [6, 11], document: child_assent, band: younger, mode: verbal}
            - {ages: [12, 17], document: child_assent, band: older, mode: written}
          witness: [signer_cannot_read]
          remote_consent: false
          signatures: [wet_ink, ses]
    sites:                          # optional: one site's own rules, replacing its country's
      FR-02: [...]

The hash is over the file's text (line ends normalised), comments included: the sources and the
doubts written there are part of what was loaded and audited."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from itertools import pairwise

from econsent.documents.codes import (
    BAD_PLACE,
    BAND_RANGE,
    BANDS_GAP,
    BANDS_OVERLAP,
    RULE_ORDER,
    UNKNOWN_EXCEPTION,
    UNKNOWN_MODE,
    UNKNOWN_SIGNATURE,
    UNKNOWN_WITNESS,
)
from econsent.documents.model import (
    ASSENT_MODES,
    PARENT_EXCEPTIONS,
    SIGNATURE_FORMS,
    WITNESS_CONDITIONS,
    AssentBand,
    CountryRule,
    RuleTable,
)
from econsent.documents.places import COUNTRIES, is_site, read_date
from forms_dsl.errors import ErrorCode, Location, Problems
from forms_dsl.reader import Reader, suggest
from forms_dsl.source import Map, Node, Scalar, Seq

TABLE_KEYS = ("version", "countries", "sites")
RULE_KEYS = (
    "effective",
    "source",
    "parents",
    "age_of_majority",
    "majority_grace_days",
    "documents",
    "assent",
    "witness",
    "remote_consent",
    "signatures",
)
PARENT_KEYS = ("required", "exceptions")
BAND_KEYS = ("ages", "document", "band", "mode")
DOCUMENT_ROLES = ("parent", "adult")


@dataclass(frozen=True)
class DocumentRef:
    """A document (and band) the rules name, kept for the cross-check with the documents."""

    place: str
    role: str  # "parent", "adult" or "child"
    document: str
    band: str | None
    loc: Location


def _ages_text(low: int, high: int) -> str:
    return f"age {low}" if low == high else f"ages {low}–{high}"


def content_hash(text: str) -> str:
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


class RuleReader(Reader):
    def __init__(self, problems: Problems) -> None:
        super().__init__((), problems)
        self.refs: list[DocumentRef] = []

    def read(self, root: Node, text: str, file: str) -> RuleTable | None:
        node = self.expect_map(root, "rules.yaml", "`version: 1`")
        if node is None:
            return None
        self.keys(node, TABLE_KEYS, "rules.yaml")
        version_node = self.need(node, "version", "rules.yaml", "1")
        version = self.whole(version_node, "version", 1, 9999) if version_node else None
        places: dict[str, tuple[CountryRule, ...]] = {}
        for key in ("countries", "sites"):
            where = self.expect_map(node.get(key), f"`{key}`", "`FR: [- effective: …]`")
            for place_node, rules in where or ():
                place = self._place(place_node, site=key == "sites")
                read = self._rules(place or "?", rules)
                if place is not None:
                    places[place] = read
        if version is None:
            return None
        return RuleTable(version, content_hash(text), places, file)

    def _place(self, node: Scalar, site: bool) -> str | None:
        code = node.text
        if (is_site(code) if site else code in COUNTRIES) and code == str(node.value):
            return code
        self.p.add(BAD_PLACE, node.loc, value=code)
        return None

    def _rules(self, place: str, node: Node) -> tuple[CountryRule, ...]:
        rules: list[CountryRule] = []
        for item in self.expect_seq(node, f"the rules of {place}", "`- effective: …`") or ():
            entry = self.expect_map(item, "a rule", "`- effective: 2026-01-01`")
            rule = self._rule(place, entry) if entry is not None else None
            if rule is None:
                continue
            if rules and rule.effective <= rules[-1].effective:
                before = rules[-1].effective
                self.p.add(
                    RULE_ORDER, item.loc, place=place, effective=rule.effective, before=before
                )
            rules.append(rule)
        return tuple(rules)

    def _rule(self, place: str, node: Map) -> CountryRule | None:
        self.keys(node, RULE_KEYS, "a rule")

        def need(key: str, example: str) -> Node | None:
            return self.need(node, key, "a rule", example)

        effective = read_date(need("effective", "2026-01-01"), "effective", self.p)
        source = self.expect_word(need("source", '"Code de la santé publique …"'), "`source`", "…")
        required, exceptions = self._parents(need("parents", "{required: 2}"))
        majority_node = need("age_of_majority", "18")
        majority = self.whole(majority_node, "age_of_majority", 14, 21) if majority_node else None
        grace_node = node.get("majority_grace_days")
        grace = self.whole(grace_node, "majority_grace_days", 0, 365) if grace_node else 0
        documents = self._documents(place, need("documents", "{parent: …, adult: …}"))
        assent = self._assent(place, node.get("assent"), majority or 18)
        witness = self._words(node.get("witness"), WITNESS_CONDITIONS, UNKNOWN_WITNESS, "witness")
        remote = self.flag(need("remote_consent", "false"), "remote_consent")
        forms = self._words(
            need("signatures", "[wet_ink, ses]"), SIGNATURE_FORMS, UNKNOWN_SIGNATURE, "signatures"
        )
        if effective is None or source is None or required is None or majority is None:
            return None
        return CountryRule(
            place,
            effective,
            str(source.value),
            required,
            exceptions,
            majority,
            assent,
            witness,
            remote,
            forms,
            documents,
            node.loc,
            grace or 0,
        )

    def _parents(self, node: Node | None) -> tuple[int | None, tuple[str, ...]]:
        entry = self.expect_map(node, "`parents`", "`{required: 2, exceptions: [deceased]}`")
        if entry is None:
            return None, ()
        self.keys(entry, PARENT_KEYS, "`parents`")
        required_node = self.need(entry, "required", "`parents`", "2")
        required = self.whole(required_node, "required", 1, 2) if required_node else None
        exceptions = self._words(
            entry.get("exceptions"), PARENT_EXCEPTIONS, UNKNOWN_EXCEPTION, "exceptions"
        )
        return required, exceptions

    def _words(
        self, node: Node | None, vocabulary: tuple[str, ...], code: ErrorCode, key: str
    ) -> tuple[str, ...]:
        words: list[str] = []
        for item in self.expect_seq(node, f"`{key}`", f"[{vocabulary[0]}]") or ():
            word = self.expect_word(item, f"an entry of `{key}`", vocabulary[0])
            if word is None:
                continue
            if word.value not in vocabulary:
                hint = suggest(str(word.value), vocabulary, "known words")
                self.p.add(code, word.loc, value=word.text, hint=hint)
                continue
            words.append(str(word.value))
        return tuple(words)

    def _documents(self, place: str, node: Node | None) -> dict[str, str]:
        documents: dict[str, str] = {}
        entry = self.expect_map(node, "`documents`", "`{parent: parent_consent}`")
        if entry is None:
            return documents
        self.keys(entry, DOCUMENT_ROLES, "`documents`")
        for role in DOCUMENT_ROLES:
            value = entry.get(role)
            doc_id = self.ident(value, role) if value is not None else None
            if doc_id is not None and value is not None:
                documents[role] = doc_id
                self.refs.append(DocumentRef(place, role, doc_id, None, value.loc))
        return documents

    def _assent(self, place: str, node: Node | None, majority: int) -> tuple[AssentBand, ...]:
        bands: list[AssentBand] = []
        items = self.expect_seq(node, "`assent`", "`- {ages: [6, 11], …}`") or ()
        for item in items:
            entry = self.expect_map(item, "an assent band", "`- {ages: [6, 11], …}`")
            band = self._band(place, entry, majority) if entry is not None else None
            if band is not None:
                bands.append(band)
        if len(bands) < len(items):
            return tuple(bands)  # gaps and overlaps are judged once every band reads
        bands.sort(key=lambda b: (b.low, b.high))
        for before, band in pairwise(bands):
            if band.low <= before.high:
                self.p.add(
                    BANDS_OVERLAP,
                    band.loc,
                    low=band.low,
                    high=band.high,
                    before_low=before.low,
                    before_high=before.high,
                    expected=before.high + 1,
                )
            elif band.low > before.high + 1:
                self.p.add(BANDS_GAP, band.loc, ages=_ages_text(before.high + 1, band.low - 1))
        if bands and bands[-1].high < majority - 1:
            self.p.add(BANDS_GAP, bands[-1].loc, ages=_ages_text(bands[-1].high + 1, majority - 1))
        return tuple(bands)

    def _band(self, place: str, node: Map, majority: int) -> AssentBand | None:
        self.keys(node, BAND_KEYS, "an assent band")
        ages = self._ages(self.need(node, "ages", "an assent band", "[6, 11]"), majority)
        document_node = self.need(node, "document", "an assent band", "child_assent")
        document = self.ident(document_node, "document")
        band_node = node.get("band")
        band = self.ident(band_node, "band") if band_node is not None else None
        mode_word = self.expect_word(
            self.need(node, "mode", "an assent band", "written"), "`mode`", "`mode: written`"
        )
        mode = str(mode_word.value) if mode_word else None
        if mode_word is not None and mode not in ASSENT_MODES:
            hint = suggest(str(mode), ASSENT_MODES, "modes")
            self.p.add(UNKNOWN_MODE, mode_word.loc, value=mode_word.text, hint=hint)
            mode = None
        if document is not None and document_node is not None:
            self.refs.append(DocumentRef(place, "child", document, band, document_node.loc))
        if ages is None or document is None or mode is None:
            return None
        return AssentBand(ages[0], ages[1], document, band, mode, node.loc)

    def _ages(self, node: Node | None, majority: int) -> tuple[int, int] | None:
        if node is None:
            return None
        values = [i.value for i in node if isinstance(i, Scalar)] if isinstance(node, Seq) else []
        if (
            len(values) == 2
            and all(type(v) is int for v in values)
            and 0 <= int(values[0] or 0) <= int(values[1] or 0) < majority
        ):
            return int(values[0] or 0), int(values[1] or 0)
        shown = node.text if isinstance(node, Scalar) else "[" + ", ".join(map(str, values)) + "]"
        self.p.add(BAND_RANGE, node.loc, value=shown, limit=majority - 1, majority=majority)
        return None
