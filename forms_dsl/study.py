"""A study folder → a checked `Study`: `study.yaml` (languages, context, shared lists, events) and
one file per form in `forms/`. Every file is checked and every problem of every file reported."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from forms_dsl.build import FormBuilder
from forms_dsl.entry_consent import check_consent, read_consent
from forms_dsl.errors import DslError, ErrorCode, FormsDslError, Location, Problems
from forms_dsl.model import ChoiceList, Event, Form, Study
from forms_dsl.reader import Reader, describe, suggest
from forms_dsl.registry_items import check_registry, read_registry
from forms_dsl.schedule import check_anchors, read_schedule
from forms_dsl.source import Map, Node, Scalar, Seq, kind_of, parse, parse_file
from forms_dsl.text import EMPTY
from forms_dsl.types import VType

UNKNOWN_FORM = ErrorCode(
    "E601", "event `{event}` lists form `{form}`, which does not exist", "{hint}"
)
DUPLICATE_EVENT = ErrorCode("E602", "event id `{id}` is used twice", "rename one of the events")
FORM_ID_MISMATCH = ErrorCode(
    "E603",
    "the form id `{id}` differs from its file name `{file}`",
    "name the file `{id}.yaml`, or change `form:` to `{stem}`",
)
BAD_LANGUAGE = ErrorCode(
    "E604", "`{lang}` is not a language code", "use ISO 639-1 codes such as en, fr, de, it, es"
)
UNUSED_FORM = ErrorCode(
    "E605", "form `{id}` is in no event", "list it under an event's `forms`", severity="warning"
)
BAD_CONTEXT = ErrorCode(
    "E606",
    "context value `{name}` has type {found}",
    "use one of: number, text, date, datetime, time, yesno",
)
DUPLICATE_FORM = ErrorCode("E607", "form id `{id}` is defined twice", "each form needs its own id")
NO_FORMS = ErrorCode("E608", "no form files found in {folder}", "add `forms/<form>.yaml` files")
VISIT_DATE_NOT_REPEATING = ErrorCode(
    "E609",
    "event `{event}` asks for a visit date but is not repeating",
    "add `repeating: true`, or remove `visit_date` (it is asked when another occurrence is added)",
)

STUDY_KEYS = (
    "study",
    "title",
    "languages",
    "context",
    "choice_lists",
    "events",
    "consent",
    "registry",
)
EVENT_KEYS = ("id", "label", "forms", "repeating", "visit_date", "schedule")
CONTEXT_TYPES = {
    "number": VType.NUMBER,
    "text": VType.TEXT,
    "date": VType.DATE,
    "datetime": VType.DATETIME,
    "time": VType.TIME,
    "yesno": VType.BOOL,
}


@dataclass(frozen=True)
class LoadResult:
    """A checked study or form, plus warnings that do not stop it."""

    value: Study | Form
    warnings: tuple[DslError, ...]


def load_form_text(
    text: str,
    file: str = "<form>",
    languages: tuple[str, ...] = ("en",),
    shared_lists: dict[str, ChoiceList] | None = None,
    context: dict[str, VType] | None = None,
) -> LoadResult:
    """One form from YAML text (tests, tools); raises FormsDslError with every problem."""
    return load_form_node(parse(text, file), file, languages, shared_lists, context)


def load_form_node(
    root: Node,
    file: str,
    languages: tuple[str, ...] = ("en",),
    shared_lists: dict[str, ChoiceList] | None = None,
    context: dict[str, VType] | None = None,
) -> LoadResult:
    """One form from located nodes, whatever they were read from (YAML, or an importer)."""
    problems = Problems()
    form = FormBuilder(file, languages, problems, shared_lists, context).build(root)
    problems.raise_if_errors()
    assert form is not None
    return LoadResult(form, tuple(problems.warnings))


def load_study(folder: Path | str) -> LoadResult:
    """The whole study folder; raises FormsDslError listing every problem in every file."""
    root = Path(folder)
    problems = Problems()
    study_file = root / "study.yaml"
    name = _display(study_file)
    try:
        node = parse_file(study_file, name)
    except FormsDslError as err:
        problems.extend(err.errors)
        raise FormsDslError(problems) from None
    header = _Header(name, problems)
    header.read(node)
    files = sorted((root / "forms").glob("*.yaml"))
    if not files:
        problems.add(NO_FORMS, Location(name, 1, 1), folder=_display(root / "forms"))
    forms = _forms(files, header, problems)
    _check_events(header, forms, problems, any_files=bool(files))
    check_anchors(header.events, forms, problems)
    check_consent(header.consent, forms, problems)
    registry = check_registry(header.registry, forms, problems)
    problems.raise_if_errors()
    study = Study(
        slug=header.slug or root.name,
        title=header.title,
        languages=header.languages,
        events=tuple(header.events),
        forms=forms,
        choice_lists=header.lists,
        context=header.context,
        root=str(root),
        consent=header.consent.rule,
        registry=registry,
    )
    return LoadResult(study, tuple(problems.warnings))


def _forms(files: list[Path], header: _Header, problems: Problems) -> dict[str, Form]:
    """Every form file, built with the study's languages, shared lists and context."""
    forms: dict[str, Form] = {}
    for path in files:
        display = _display(path)
        try:
            form_node = parse_file(path, display)
        except FormsDslError as err:
            problems.extend(err.errors)
            continue
        builder = FormBuilder(display, header.languages, problems, header.lists, header.context)
        form = builder.build(form_node)
        if form is None:
            continue
        if form.id != path.stem:
            id_node = form_node.get("form") if isinstance(form_node, Map) else None
            loc = (id_node or form_node).loc
            problems.add(FORM_ID_MISMATCH, loc, id=form.id, file=path.name, stem=path.stem)
        if form.id in forms:
            problems.add(DUPLICATE_FORM, form_node.loc, id=form.id)
        forms[form.id] = form
    return forms


def _check_events(
    header: _Header, forms: dict[str, Form], problems: Problems, any_files: bool
) -> None:
    """Every form an event lists exists; every form is in some event (a warning)."""
    used: set[str] = set()
    for event, form_nodes in header.event_forms:
        for form_node in form_nodes:
            form_id = str(form_node.value)
            used.add(form_id)
            if form_id not in forms and any_files:
                problems.add(
                    UNKNOWN_FORM,
                    form_node.loc,
                    event=event,
                    form=form_id,
                    hint=suggest(form_id, sorted(forms), "forms"),
                )
    for form_id, form in forms.items():
        if form_id not in used:
            problems.add(UNUSED_FORM, Location(form.file, 1, 1), id=form_id)


def _display(path: Path) -> str:
    """Paths in messages relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class _Header:
    """Reads study.yaml."""

    def __init__(self, file: str, problems: Problems) -> None:
        self.file = file
        self.p = problems
        self.slug = ""
        self.title = EMPTY
        self.languages: tuple[str, ...] = ("en",)
        self.context: dict[str, VType] = {}
        self.lists: dict[str, ChoiceList] = {}
        self.consent = read_consent(None, Reader((), problems))
        self.registry = read_registry(None, Reader((), problems))
        self.events: list[Event] = []
        self.event_forms: list[tuple[str, list[Scalar]]] = []

    def read(self, root: Node) -> None:
        node = Reader((), self.p).expect_map(root, "study.yaml", "`study: siopen-nb`")
        if node is None:
            return
        self.languages = self._languages(node.get("languages"), node)
        builder = FormBuilder(self.file, self.languages, self.p)
        builder.keys(node, STUDY_KEYS, "study.yaml")
        slug = builder.need(node, "study", "study.yaml", "siopen-nb")
        if isinstance(slug, Scalar):
            self.slug = str(slug.value)
        self.title = builder.text(
            builder.need(node, "title", "study.yaml", "{en: …}"), "the study title"
        )
        self._context(builder.expect_map(node.get("context"), "`context`", "`date_of_birth: date`"))
        lists = builder.expect_map(node.get("choice_lists"), "`choice_lists`", "a mapping of lists")
        for key, value in lists or ():
            built = builder.choice_list(str(key.value), value)
            if built is not None:
                self.lists[str(key.value)] = built
        self.consent = read_consent(node.get("consent"), builder)
        self.registry = read_registry(node.get("registry"), builder)
        events = builder.need(node, "events", "study.yaml", "a list of events")
        self._events(builder.expect_seq(events, "`events`", "`- id: diagnosis`"), builder)

    def _context(self, node: Map | None) -> None:
        for key, value in node or ():
            vtype = CONTEXT_TYPES.get(str(value.value)) if isinstance(value, Scalar) else None
            if vtype is None:
                found = value.text if isinstance(value, Scalar) else kind_of(value)
                self.p.add(BAD_CONTEXT, value.loc, name=key.text, found=found)
                continue
            self.context[str(key.value)] = vtype

    def _languages(self, node: Node | None, parent: Map) -> tuple[str, ...]:
        reader = Reader((), self.p)
        if node is None:
            reader.need(parent, "languages", "study.yaml", "[en, fr, de, it, es]")
            return ("en",)
        if not isinstance(node, Seq) or not len(node):
            example = "`languages: [en, fr]`"
            reader.wrong_kind(node, "`languages`", "a list", example, found=describe(node))
            return ("en",)
        langs = []
        for item in node:
            text = item.value if isinstance(item, Scalar) else None
            if (
                not isinstance(text, str)
                or len(text) != 2
                or not text.isalpha()
                or not text.islower()
            ):
                self.p.add(BAD_LANGUAGE, item.loc, lang=getattr(item, "text", "?"))
                continue
            langs.append(text)
        return tuple(langs) or ("en",)

    def _events(self, node: Seq | None, builder: FormBuilder) -> None:
        seen: set[str] = set()
        for item in node or ():
            event = builder.expect_map(item, "an event", "`- id: diagnosis`")
            if event is not None:
                self._event(event, builder, seen)

    def _event(self, item: Map, builder: FormBuilder, seen: set[str]) -> None:
        builder.keys(item, EVENT_KEYS, "an event")
        event_id = builder.ident(builder.need(item, "id", "an event", "diagnosis"), "id")
        if event_id in seen:
            self.p.add(DUPLICATE_EVENT, item.loc, id=event_id)
        seen.add(event_id or "")
        label = builder.text(builder.need(item, "label", "an event", "{en: …}"), "an event label")
        forms_node = builder.need(item, "forms", "an event", "[diagnosis]")
        form_list = builder.expect_seq(forms_node, "`forms`", "[diagnosis]")
        form_ids = [f for f in form_list or () if isinstance(f, Scalar)]
        repeating = builder.flag(item.get("repeating"), "repeating")
        visit_date_node = item.get("visit_date")
        visit_date = builder.flag(visit_date_node, "visit_date")
        if visit_date and not repeating and visit_date_node is not None:
            self.p.add(VISIT_DATE_NOT_REPEATING, visit_date_node.loc, event=event_id or "?")
        schedule = read_schedule(item.get("schedule"), event_id or "?", repeating, builder, self.p)
        if event_id:
            forms = tuple(str(f.value) for f in form_ids)
            event = Event(
                event_id, label, forms, repeating, item.loc, visit_date and repeating, schedule
            )
            self.events.append(event)
            self.event_forms.append((event_id, form_ids))
