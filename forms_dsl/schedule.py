"""Visit schedules: when each event of a study is due, read from an event's `schedule:` key.

```yaml
- id: follow_up
  repeating: true
  schedule:
    after: diagnosis.diagnosis_date   # or `registration`
    days: 365                         # the first visit is due this many days after the anchor
    every: 180                        # each further visit this many days after the one before
    times: 6                          # at most this many scheduled visits (optional)
    window: {before: 30, after: 60}   # days early / late a visit still counts as on time
```

Visits are fixed on the anchor's calendar (visit n is due `days + (n - 1) × every` after it), as
protocols write them ("every six months from diagnosis"), so a late visit does not push the next
ones. The anchor is the subject's registration date or a date field of a form of a non-repeating
event: a subject whose anchor is not entered yet has no due visits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from forms_dsl.errors import ErrorCode, Location, Problems
from forms_dsl.reader import MISSING_KEY, Reader, suggest
from forms_dsl.source import Map, Node, Scalar, kind_of

if TYPE_CHECKING:
    from forms_dsl.model import Event, Form

REGISTRATION = "registration"
SCHEDULE_KEYS = ("after", "days", "every", "times", "window")
WINDOW_KEYS = ("before", "after")
MAX_DAYS = 3650  # ten years: beyond it, a number of days is a typing mistake

BAD_ANCHOR = ErrorCode(
    "E701",
    "`{anchor}` is not a schedule anchor",
    "write `registration`, or `<form>.<date field>` such as `diagnosis.diagnosis_date`",
)
BAD_DAYS = ErrorCode(
    "E702",
    "`{key}` must be a whole number of days from {low} to {high}, found {found}",
    "write e.g. `{key}: 90`",
)
NOT_REPEATING = ErrorCode(
    "E703",
    "event `{event}` has `{key}` in its schedule but is not repeating",
    "add `repeating: true` to the event, or remove `{key}`: an event that happens once is due once",
)
ANCHOR_FORM = ErrorCode(
    "E704", "the schedule of `{event}` starts from form `{form}`, which {why}", "{hint}"
)
ANCHOR_FIELD = ErrorCode(
    "E705",
    "the schedule of `{event}` starts from `{form}.{field}`, which {why}",
    "{hint}",
)


@dataclass(frozen=True)
class Schedule:
    """When an event is due; `anchor_form` empty means the registration date."""

    anchor_form: str
    anchor_field: str
    days: int
    before: int
    after: int
    loc: Location
    every: int | None = None
    times: int | None = None

    @property
    def anchor(self) -> str:
        return f"{self.anchor_form}.{self.anchor_field}" if self.anchor_form else REGISTRATION

    def due(self, anchor: date, number: int) -> date | None:
        """The target date of visit `number` (1-based); None past the last scheduled visit."""
        if number > 1 and (self.every is None or (self.times is not None and number > self.times)):
            return None
        return anchor + timedelta(days=self.days + (number - 1) * (self.every or 0))

    def window(self, due: date) -> tuple[date, date]:
        """The first and last day on which the visit due on `due` is on time."""
        return due - timedelta(days=self.before), due + timedelta(days=self.after)


def read_schedule(
    node: Node | None, event_id: str, repeating: bool, reader: Reader, problems: Problems
) -> Schedule | None:
    """An event's `schedule:` (None when absent or wrong; every mistake goes to `problems`)."""
    node = reader.expect_map(node, "`schedule`", "`{after: registration, days: 30}`")
    if node is None:
        return None
    reader.keys(node, SCHEDULE_KEYS, "a schedule")
    anchor = _anchor(reader.need(node, "after", "a schedule", "`after: registration`"), problems)
    days = _days(node, "days", problems, required=True)
    every = _days(node, "every", problems, low=1)
    times = _days(node, "times", problems, low=1)
    for key in ("every", "times"):
        found = node.get(key)
        if found is not None and not repeating:
            problems.add(NOT_REPEATING, found.loc, event=event_id, key=key)
    before, after = _window(node.get("window"), reader, problems)
    if anchor is None or days is None:
        return None
    return Schedule(anchor[0], anchor[1], days, before, after, node.loc, every, times)


def _anchor(node: Node | None, problems: Problems) -> tuple[str, str] | None:
    if node is None:
        return None
    text = str(node.value) if isinstance(node, Scalar) and isinstance(node.value, str) else ""
    if text == REGISTRATION:
        return "", ""
    form, dot, field = text.partition(".")
    if not (dot and form and field and "." not in field):
        shown = text or (node.text if isinstance(node, Scalar) else kind_of(node))
        problems.add(BAD_ANCHOR, node.loc, anchor=shown)
        return None
    return form, field


def _days(
    node: Map, key: str, problems: Problems, *, low: int = 0, required: bool = False
) -> int | None:
    value = node.get(key)
    if value is None:
        if required:
            problems.add(MISSING_KEY, node.loc, where="a schedule", key=key, example="`days: 90`")
        return None
    number = value.value if isinstance(value, Scalar) else None
    if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= MAX_DAYS:
        found = value.text if isinstance(value, Scalar) else kind_of(value)
        problems.add(BAD_DAYS, value.loc, key=key, low=low, high=MAX_DAYS, found=found)
        return None
    return number


def _window(node: Node | None, reader: Reader, problems: Problems) -> tuple[int, int]:
    node = reader.expect_map(node, "`window`", "`{before: 14, after: 28}`")
    if node is None:
        return 0, 0
    reader.keys(node, WINDOW_KEYS, "a schedule window")
    return _days(node, "before", problems) or 0, _days(node, "after", problems) or 0


def check_anchors(events: Iterable[Event], forms: Mapping[str, Form], problems: Problems) -> None:
    """Each anchor `<form>.<field>` must be a date field, outside repeating sections, of a form
    that exactly one non-repeating event has: so every subject has at most one anchor date."""
    events = list(events)
    for event in events:
        schedule = event.schedule
        if schedule is None or not schedule.anchor_form:
            continue
        form_id, field_id = schedule.anchor_form, schedule.anchor_field
        form = forms.get(form_id)
        holders = [e for e in events if form_id in e.forms]
        why = ""
        if form is None:
            why, hint = "does not exist", suggest(form_id, sorted(forms), "forms")
        elif len(holders) != 1 or holders[0].repeating:
            why = "is not in exactly one non-repeating event"
            hint = "start from a form that happens once per subject (e.g. diagnosis)"
        if why:
            problems.add(
                ANCHOR_FORM, schedule.loc, event=event.id, form=form_id, why=why, hint=hint
            )
            continue
        assert form is not None
        field = form.fields.get(field_id)
        dates = sorted(f.id for f in form if f.type.value == "date" and f.repeat is None)
        if field is None or field.type.value != "date" or field.repeat is not None:
            why = "does not exist" if field is None else "is not a date outside repeating sections"
            problems.add(
                ANCHOR_FIELD,
                schedule.loc,
                event=event.id,
                form=form_id,
                field=field_id,
                why=why,
                hint=suggest(field_id, dates, "date fields"),
            )
