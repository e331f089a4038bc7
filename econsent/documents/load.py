"""One consent document file (`consent/<document>.yaml`) → a checked `Document`.

Shape (texts are Markdown, one per study language):

    document: parent_consent
    audience: parent                # adult | parent | child
    title: {en: …, fr: …}
    versions:
      - version: 1
        effective: 2026-01-15
        approvals:
          - {country: FR, reference: "CPP-2025-117", approved: 2025-12-02, committee: "…"}
          - {site: IT-01, reference: "…"}
          # a later version may ask active subjects to consent again (default: new_subjects)
          - {country: ES, reference: "…", reconsent: all_active, grace_days: 90}
        sections:
          - {id: purpose, title: {en: …}, body: {en: "Markdown …"}}
        options:                    # optional consents, from a fixed list
          - {id: registry_transfer, label: {en: …}}
        questions:                  # comprehension questions
          - id: withdraw
            question: {en: …}
            answers: [{id: "yes", label: {en: …}}, {id: "no", label: {en: …}}]
            correct: "yes"

A child's assent document (`audience: child`) has, in each version, `bands:` instead: a list of
`{band: younger, title: …, sections: …, questions: …}`, one text per age band; the country rules
say which ages read which band."""

from __future__ import annotations

from pathlib import Path

from econsent.documents import markdown
from econsent.documents.codes import (
    APPROVAL_PLACE,
    BAD_LINK,
    DOCUMENT_ID_MISMATCH,
    DUPLICATE_ID,
    EFFECTIVE_ORDER,
    GRACE_MISSING,
    GRACE_WITHOUT_RECONSENT,
    RAW_HTML,
    RECONSENT_FIRST,
    UNKNOWN_AUDIENCE,
    UNKNOWN_OPTION,
    UNKNOWN_RECONSENT,
    VERSION_ORDER,
    WRONG_ANSWER,
)
from econsent.documents.model import (
    ALL_ACTIVE,
    AUDIENCES,
    NEW_SUBJECTS,
    OPTIONAL_ITEMS,
    RECONSENT_SCOPES,
    Answer,
    Approval,
    Document,
    OptionalItem,
    Question,
    Reading,
    Section,
    Version,
)
from econsent.documents.places import read_country, read_date, read_site
from forms_dsl.errors import Problems
from forms_dsl.reader import Reader, suggest
from forms_dsl.source import Map, Node, Scalar, Seq
from forms_dsl.text import EMPTY, Text

DOCUMENT_KEYS = ("document", "audience", "title", "versions")
VERSION_KEYS = ("version", "effective", "approvals")
CONTENT_KEYS = ("title", "sections", "options", "questions")
APPROVAL_KEYS = ("country", "site", "reference", "approved", "committee", "reconsent", "grace_days")
SECTION_KEYS = ("id", "title", "body")
OPTION_KEYS = ("id", "label")
QUESTION_KEYS = ("id", "question", "answers", "correct")
ANSWER_KEYS = ("id", "label")


def check_markdown(node: Scalar, what: str, lang: str, problems: Problems) -> None:
    """E914/E915: raw HTML and refused links, which would show to the signer as odd text."""
    for kind, found, line in markdown.problems(str(node.value)):
        code = RAW_HTML if kind == "html" else BAD_LINK
        problems.add(code, node.loc, what=what, lang=lang, found=found, line=line)


class DocumentReader(Reader):
    """Reads one document file; every mistake goes to `problems`, located."""

    def __init__(self, file: str, languages: tuple[str, ...], problems: Problems) -> None:
        super().__init__(languages, problems)
        self.file = file

    def read(self, root: Node, path: Path) -> Document | None:
        node = self.expect_map(root, "a consent document", "`document: parent_consent`")
        if node is None:
            return None
        self.keys(node, DOCUMENT_KEYS, "a consent document")
        doc_id = self.ident(self.need(node, "document", "a consent document", "parent"), "document")
        if doc_id is not None and doc_id != path.stem:
            where = node.get("document") or node
            self.p.add(DOCUMENT_ID_MISMATCH, where.loc, id=doc_id, file=path.name, stem=path.stem)
        audience = self._audience(self.need(node, "audience", "a consent document", "parent"))
        title = self.text(self.need(node, "title", "a consent document", "{en: …}"), "the title")
        versions_node = self.need(node, "versions", "a consent document", "`- version: 1`")
        versions = self._versions(
            self.expect_seq(versions_node, "`versions`", "`- version: 1`"), audience
        )
        if doc_id is None or audience is None:
            return None
        return Document(doc_id, audience, title, tuple(versions), self.file)

    def _audience(self, node: Node | None) -> str | None:
        word = self.expect_word(node, "`audience`", "`audience: parent`")
        if word is None:
            return None
        if word.value not in AUDIENCES:
            hint = suggest(str(word.value), AUDIENCES, "audiences")
            self.p.add(UNKNOWN_AUDIENCE, word.loc, value=word.text, hint=hint)
            return None
        return str(word.value)

    def _versions(self, node: Seq | None, audience: str | None) -> list[Version]:
        versions: list[Version] = []
        for item in node or ():
            entry = self.expect_map(item, "a version", "`- version: 1`")
            version = self._version(entry, audience) if entry is not None else None
            if version is None:
                continue
            if not versions and any(a.reconsent == ALL_ACTIVE for a in version.approvals):
                self.p.add(RECONSENT_FIRST, item.loc, number=version.number)
            if versions and version.number <= versions[-1].number:
                self.p.add(
                    VERSION_ORDER, item.loc, number=version.number, previous=versions[-1].number
                )
            elif versions and version.effective <= versions[-1].effective:
                self.p.add(
                    EFFECTIVE_ORDER,
                    item.loc,
                    number=version.number,
                    effective=version.effective,
                    previous=versions[-1].number,
                    before=versions[-1].effective,
                )
            versions.append(version)
        return versions

    def _version(self, node: Map, audience: str | None) -> Version | None:
        child = audience == "child"
        allowed = VERSION_KEYS + (("bands",) if child else CONTENT_KEYS)
        self.keys(node, allowed, "a version of a child's document" if child else "a version")
        number_node = self.need(node, "version", "a version", "1")
        number = self.whole(number_node, "version", 1, 9999) if number_node is not None else None
        effective = read_date(
            self.need(node, "effective", "a version", "2026-01-15"), "effective", self.p
        )
        approvals = self._approvals(self.need(node, "approvals", "a version", "`- country: FR`"))
        if child:
            readings = self._bands(self.need(node, "bands", "a version", "`- band: younger`"))
        else:
            readings = [self._reading(node, None)]
        if number is None or effective is None:
            return None
        return Version(number, effective, tuple(approvals), tuple(readings), node.loc)

    def _approvals(self, node: Node | None) -> list[Approval]:
        approvals = []
        for item in self.expect_seq(node, "`approvals`", "`- country: FR`") or ():
            entry = self.expect_map(item, "an approval", "`- {country: FR, reference: …}`")
            if entry is None:
                continue
            self.keys(entry, APPROVAL_KEYS, "an approval")
            approval = self._approval(entry)
            if approval is not None:
                approvals.append(approval)
        return approvals

    def _approval(self, node: Map) -> Approval | None:
        country_node, site_node = node.get("country"), node.get("site")
        if (country_node is None) == (site_node is None):
            found = "both a country and a site" if country_node else "neither a country nor a site"
            self.p.add(APPROVAL_PLACE, node.loc, found=found)
            return None
        reference = self.expect_word(
            self.need(node, "reference", "an approval", '"CPP-2025-117"'),
            "`reference`",
            '`reference: "CPP-2025-117"`',
        )
        approved = read_date(node.get("approved"), "approved", self.p)
        committee = self.expect_word(node.get("committee"), "`committee`", '`committee: "…"`')
        if site_node is not None:
            site = read_site(site_node, self.p)
            country = site[:2] if site else None
        else:
            site, country = None, read_country(country_node, self.p) if country_node else None
        reconsent, grace = self._reconsent(node)
        if country is None or reference is None:
            return None
        return Approval(
            country, site, reference.text, approved, committee.text if committee else "",
            reconsent, grace,
        )  # fmt: skip

    def _reconsent(self, node: Map) -> tuple[str, int]:
        """`reconsent:` (E917) and its `grace_days` (E918 without it, E919 missing)."""
        scope_node, grace_node = node.get("reconsent"), node.get("grace_days")
        word = self.expect_word(scope_node, "`reconsent`", "`reconsent: all_active`")
        scope = str(word.value) if word is not None else NEW_SUBJECTS
        if scope not in RECONSENT_SCOPES and word is not None:
            hint = suggest(scope, RECONSENT_SCOPES, "re-consent scopes")
            self.p.add(UNKNOWN_RECONSENT, word.loc, value=word.text, hint=hint)
            return NEW_SUBJECTS, 0  # one mistake, said once
        grace = self.whole(grace_node, "grace_days", 0, 730) if grace_node is not None else None
        if grace_node is not None and scope != ALL_ACTIVE:
            self.p.add(GRACE_WITHOUT_RECONSENT, grace_node.loc)
        if scope == ALL_ACTIVE and grace_node is None:
            self.p.add(GRACE_MISSING, node.loc)
        return scope, grace or 0

    def _bands(self, node: Node | None) -> list[Reading]:
        readings: list[Reading] = []
        seen: set[str] = set()
        for item in self.expect_seq(node, "`bands`", "`- band: younger`") or ():
            entry = self.expect_map(item, "a band", "`- band: younger`")
            if entry is None:
                continue
            self.keys(entry, ("band", *CONTENT_KEYS), "a band")
            band = self.ident(self.need(entry, "band", "a band", "younger"), "band")
            if band is None:
                continue
            self._once(band, seen, "band", entry)
            readings.append(self._reading(entry, band))
        return readings

    def _reading(self, node: Map, band: str | None) -> Reading:
        where = f"band `{band}`" if band else "the text"
        title_node = node.get("title")
        title = EMPTY if title_node is None else self.text(title_node, f"the title of {where}")
        sections_node = self.need(
            node, "sections", "a version" if band is None else "a band", "`- id: purpose`"
        )
        return Reading(
            band,
            title,
            tuple(self._sections(sections_node)),
            tuple(self._options(node.get("options"))),
            tuple(self._questions(node.get("questions"))),
            node.loc,
        )

    def _once(self, value: str, seen: set[str], what: str, node: Node) -> None:
        if value in seen:
            self.p.add(DUPLICATE_ID, node.loc, what=what, id=value)
        seen.add(value)

    def _sections(self, node: Node | None) -> list[Section]:
        sections: list[Section] = []
        seen: set[str] = set()
        for item in self.expect_seq(node, "`sections`", "`- id: purpose`") or ():
            entry = self.expect_map(item, "a section", "`- id: purpose`")
            if entry is None:
                continue
            self.keys(entry, SECTION_KEYS, "a section")
            section_id = self.ident(self.need(entry, "id", "a section", "purpose"), "id")
            what = f"section `{section_id}`"
            title = self.text(
                self.need(entry, "title", "a section", "{en: …}"), f"the title of {what}"
            )
            body = self.markdown(
                self.need(entry, "body", "a section", "{en: …}"), f"the text of {what}"
            )
            if section_id is not None:
                self._once(section_id, seen, "section", entry)
                sections.append(Section(section_id, title, body))
        return sections

    def markdown(self, node: Node | None, what: str) -> Text:
        """A multilingual Markdown text, checked for raw HTML and refused links."""
        text = self.text(node, what)
        if isinstance(node, Map):
            for key, value in node:
                if isinstance(value, Scalar) and isinstance(value.value, str):
                    check_markdown(value, what, str(key.value), self.p)
        return text

    def _options(self, node: Node | None) -> list[OptionalItem]:
        options: list[OptionalItem] = []
        seen: set[str] = set()
        for item in self.expect_seq(node, "`options`", "`- id: registry_transfer`") or ():
            entry = self.expect_map(item, "an option", "`- id: registry_transfer`")
            if entry is None:
                continue
            self.keys(entry, OPTION_KEYS, "an option")
            word = self.expect_word(
                self.need(entry, "id", "an option", "registry_transfer"),
                "`id`",
                "`id: registry_transfer`",
            )
            what = f"the label of option `{word.text if word else '?'}`"
            label = self.markdown(self.need(entry, "label", "an option", "{en: …}"), what)
            if word is None:
                continue
            if word.value not in OPTIONAL_ITEMS:
                hint = suggest(str(word.value), OPTIONAL_ITEMS, "optional items")
                self.p.add(UNKNOWN_OPTION, word.loc, value=word.text, hint=hint)
                continue
            self._once(str(word.value), seen, "option", entry)
            options.append(OptionalItem(str(word.value), label))
        return options

    def _questions(self, node: Node | None) -> list[Question]:
        questions: list[Question] = []
        seen: set[str] = set()
        for item in self.expect_seq(node, "`questions`", "`- id: withdraw`") or ():
            entry = self.expect_map(item, "a question", "`- id: withdraw`")
            if entry is None:
                continue
            question = self._question(entry)
            if question is not None:
                self._once(question.id, seen, "question", entry)
                questions.append(question)
        return questions

    def _question(self, node: Map) -> Question | None:
        self.keys(node, QUESTION_KEYS, "a question")
        qid = self.ident(self.need(node, "id", "a question", "withdraw"), "id")
        what = f"question `{qid}`"
        prompt = self.markdown(self.need(node, "question", "a question", "{en: …}"), what)
        answers: list[Answer] = []
        seen: set[str] = set()
        answers_node = self.need(node, "answers", "a question", '`- {id: "yes", label: …}`')
        for item in self.expect_seq(answers_node, "`answers`", '`- {id: "yes"}`') or ():
            entry = self.expect_map(item, "an answer", '`- {id: "yes", label: …}`')
            if entry is None:
                continue
            self.keys(entry, ANSWER_KEYS, "an answer")
            aid = self.ident(self.need(entry, "id", "an answer", '"yes"'), "id")
            label = self.markdown(
                self.need(entry, "label", "an answer", "{en: …}"), f"an answer of {what}"
            )
            if aid is not None:
                self._once(aid, seen, "answer", entry)
                answers.append(Answer(aid, label))
        correct_node = self.need(node, "correct", "a question", '"yes"')
        correct = self.ident(correct_node, "correct")
        if correct is not None and correct not in seen and correct_node is not None:
            hint = suggest(correct, sorted(seen), "answers")
            self.p.add(WRONG_ANSWER, correct_node.loc, question=qid, answer=correct, hint=hint)
            return None
        if qid is None or correct is None:
            return None
        return Question(qid, prompt, tuple(answers), correct)
