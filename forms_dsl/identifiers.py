"""Which fields of a form never leave the site: those marked `identifier: true`, and the
calculations reading them however indirectly (a calculation can copy or spell out what it
reads). One closure, for the page that masks them and for every file that leaves."""

from __future__ import annotations

from typing import TYPE_CHECKING

from forms_dsl.expr import references

if TYPE_CHECKING:
    from forms_dsl.model import Form


def identifier_closure(form: Form) -> frozenset[str]:
    ids = {f.id for f in form if f.identifier}
    calcs = [f for f in form if f.calc is not None and not f.identifier]
    grew = bool(ids)
    while grew:
        grew = False
        for f in calcs:
            if f.id not in ids and f.calc is not None and references(f.calc) & ids:
                ids.add(f.id)
                grew = True
    return frozenset(ids)
