"""Which parts of a form an answer can change: the fields whose visibility, value, checks or
limits read it, directly or through other fields, and the sections holding them.

A page that re-evaluates on every change uses this to redraw only what the answer can touch.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

from forms_dsl.expr import Expr, references
from forms_dsl.model import Field, Form


def _expressions(field: Field, section_show_if: Expr | None) -> Iterator[Expr]:
    """Everything that decides a field's visibility, value, messages or being required."""
    for expr in (field.show_if, field.calc, field.required_if, section_show_if):
        if expr is not None:
            yield expr
    for check in field.checks:
        yield check.when
    for bound in (field.min, field.max):
        if bound is not None and bound.expr is not None:
            yield bound.expr


def readers(form: Form) -> dict[str, frozenset[str]]:
    """For each name (field, repeating section, context value): the fields that read it.

    Worked out once per form model (models are frozen and shared; pages ask on every change).
    """
    cached: dict[str, frozenset[str]] | None = form.__dict__.get(_READERS)
    if cached is None:
        cached = _find_readers(form)
        object.__setattr__(form, _READERS, cached)  # how a frozen dataclass sets its own state
    return cached


def context_read(form: Form) -> frozenset[str]:
    """The context values (e.g. `date_of_birth`) the form's expressions read: a form reading
    none needs nothing from outside its answers, so nothing outside them is opened for it."""
    found = readers(form)
    return frozenset(name for name in form.context if name in found)


_READERS = "_readers"


def _find_readers(form: Form) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for section in form.sections:
        for field in section.fields:
            for expr in _expressions(field, section.show_if):
                for name in references(expr):
                    found.setdefault(name, set()).add(field.id)
    return {name: frozenset(ids) for name, ids in found.items()}


def needed_to_show(form: Form, name: str, sections: Collection[str]) -> bool:
    """Whether showing `sections` (and which sections are shown at all) needs the value `name`:
    a field in them reads it, however indirectly, or some section's visibility does."""
    reached = affected(form, name)  # `name` itself and every field it reaches
    for section in form.sections:
        if section.show_if is not None and references(section.show_if) & reached:
            return True
        if section.id in sections and any(f.id in reached for f in section.fields):
            return True
    return False


def affected(form: Form, field_id: str) -> frozenset[str]:
    """The field itself and every field its answer can change, however indirectly.

    A field read by nothing affects only itself. Visibility counts: a field hidden by the answer
    becomes blank, which changes what reads it in turn. A column of a repeating section also
    changes what reads the section (`count(doses)`).
    """
    by_name = readers(form)
    group = {f.id: s.id for s in form.sections if s.repeat is not None for f in s.fields}
    seen, todo = {field_id}, [field_id]
    while todo:
        name = todo.pop()
        for reader in by_name.get(name, frozenset()) | by_name.get(
            group.get(name, ""), frozenset()
        ):
            if reader not in seen:
                seen.add(reader)
                todo.append(reader)
    return frozenset(seen)
