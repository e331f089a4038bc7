"""What the to-do list is made of (edc.services.todo and the sources it gathers): tasks,
categories of tasks, and the scope every source reads once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import forms_dsl
from edc.models.studies import Site

#: Entries shown per category and site; the rest is counted ("and 12 more").
CAP = 10


@dataclass(frozen=True)
class Task:
    """One thing to do for one subject: open `form_id` of visit `event_id`/`number`, or add that
    visit when `form_id` is empty (a further occurrence of a repeating event)."""

    #: "refused", "visit", "form", "sign", "query", "verify", "changed", or a registered
    #: category's own (e-consent's "reconsent": see econsent.services.reconsent_lists).
    kind: str
    study_code: str
    event_id: str
    event_label: str
    number: int
    form_id: str = ""
    form_title: str = ""
    due: date | None = None
    window: tuple[date, date] | None = None
    #: Days overdue (past the window) or left (until the window closes) for a visit; days since
    #: the last save for a form in progress or a refused save.
    days: int = 0
    overdue: bool = False
    repeating: bool = False
    #: A form to sign whose earlier signature a change invalidated: to be signed again.
    resign: bool = False
    #: A query: its id, its item in words, and whether it was answered (waiting to be closed).
    query_id: int = 0
    item_label: str = ""
    answered: bool = False
    #: Forms to verify of a subject, or items changed at a site since `since` (a visit's end).
    count: int = 0
    since: datetime | None = None


@dataclass
class Category:
    tasks: list[Task] = field(default_factory=list)
    total: int = 0

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.tasks))


@dataclass(frozen=True)
class Scope:
    """The sites the list covers, read once: their rows, today and study definitions."""

    sites: dict[int, Site]
    today: dict[int, date]
    enter: frozenset[int]  # where the user may enter data
    studies: dict[int, forms_dsl.Study]
    lang: str
    now: datetime

    def study_of(self, site_id: int) -> forms_dsl.Study | None:
        return self.studies.get(self.sites[site_id].study_id)


def labels(scope: Scope, site_id: int, event_id: str, form_id: str) -> tuple[str, str, bool]:
    """The event's label, the form's title (in the user's language) and whether it repeats."""
    study = scope.study_of(site_id)
    if study is None:
        return event_id, form_id, False
    event = next((e for e in study.events if e.id == event_id), None)
    form = study.forms.get(form_id)
    return (
        event.label.get(scope.lang) if event is not None else event_id,
        form.title.get(scope.lang) if form is not None else form_id,
        event is not None and event.repeating,
    )
