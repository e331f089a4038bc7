"""Which parts of a form an answer can change: the fields whose visibility, value, checks or
limits read it, directly or through other fields, and the sections holding them.

A page that re-evaluates on every change uses this to redraw only what the answer can touch.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

from forms_dsl.expr import Expr, references
from forms_dsl.model import Field, Form


def _expressions(field: Field, section_show_if: Expr | None) -> Iterator[tuple[Expr, bool]]:
    """Everything that decides a field's visibility, value, messages or being required, each
    with whether it can change the field's value (visibility and calculations) or only what is
    said about it (checks, limits, `required`)."""
    for expr in (field.show_if, field.calc, section_show_if):
        if expr is not None:
            yield expr, True
    if field.required_if is not None:
        yield field.required_if, False
    for check in field.checks:
        yield check.when, False
    for bound in (field.min, field.max):
        if bound is not None and bound.expr is not None:
            yield bound.expr, False


def readers(form: Form) -> dict[str, frozenset[str]]:
    """For each name (field, repeating section, context value): the fields that read it."""
    return _readers(form)[0]


def context_read(form: Form) -> frozenset[str]:
    """The context values (e.g. `date_of_birth`) the form's expressions read: a form reading
    none needs nothing from outside its answers, so nothing outside them is opened for it."""
    found = readers(form)
    return frozenset(name for name in form.context if name in found)


def affected(form: Form, field_id: str) -> frozenset[str]:
    """The field itself and every field its answer can change, however indirectly.

    A field read by nothing affects only itself. Visibility counts: a field hidden by the answer
    becomes blank, which changes what reads it in turn. A column of a repeating section also
    changes what reads the section (`count(doses)`). A field whose check or limit reads the
    answer gets new messages but keeps its value, so what reads that field is not affected.
    """
    return _reach(form, field_id)[0]


def needed_to_show(form: Form, name: str, sections: Collection[str]) -> bool:
    """Whether showing `sections` (and which sections are shown at all) needs the value `name`:
    a field in them reads it, however indirectly, or some section's visibility does."""
    touched, valued = _reach(form, name)
    for section in form.sections:
        if section.show_if is not None and references(section.show_if) & valued:
            return True
        if section.id in sections and any(f.id in touched for f in section.fields):
            return True
    return False


_READERS = "_readers"
Readers = dict[str, frozenset[str]]


def _readers(form: Form) -> tuple[Readers, Readers]:
    """Who reads each name at all, and who reads it into their value or visibility.

    Worked out once per form model (models are frozen and shared; pages ask on every change).
    """
    cached: tuple[Readers, Readers] | None = form.__dict__.get(_READERS)
    if cached is None:
        every: dict[str, set[str]] = {}
        valued: dict[str, set[str]] = {}
        for section in form.sections:
            for field in section.fields:
                for expr, changes_value in _expressions(field, section.show_if):
                    for name in references(expr):
                        every.setdefault(name, set()).add(field.id)
                        if changes_value:
                            valued.setdefault(name, set()).add(field.id)
        cached = (
            {name: frozenset(ids) for name, ids in every.items()},
            {name: frozenset(ids) for name, ids in valued.items()},
        )
        object.__setattr__(form, _READERS, cached)  # how a frozen dataclass sets its own state
    return cached


def _reach(form: Form, name: str) -> tuple[frozenset[str], frozenset[str]]:
    """What a new value of `name` touches (`name` and every field whose value, visibility or
    messages can change), and of those, the names whose value itself can change."""
    every, valued = _readers(form)
    group = {f.id: s.id for s in form.sections if s.repeat is not None for f in s.fields}
    touched, changed, todo = {name}, {name}, [name]
    while todo:
        current = todo.pop()
        sources = (current, group.get(current, ""))
        for source in sources:
            touched |= every.get(source, frozenset())
            for reader in valued.get(source, frozenset()):
                if reader not in changed:
                    changed.add(reader)
                    todo.append(reader)
    return frozenset(touched), frozenset(changed)
