"""What changed between two versions of a form, and which changes touch data already stored."""

from __future__ import annotations

from dataclasses import dataclass

from forms_dsl.model import Field, Form


@dataclass(frozen=True)
class FieldChange:
    field: str
    what: str  # e.g. "type integer → decimal", "choice code removed: L3"
    affects_data: bool


@dataclass(frozen=True)
class FormDiff:
    old_version: int
    new_version: int
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[FieldChange, ...]

    @property
    def affects_data(self) -> bool:
        """True when stored records need review or migration before the new version goes live."""
        return bool(self.removed) or any(c.affects_data for c in self.changed)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def diff(old: Form, new: Form) -> FormDiff:
    """Added, removed and changed fields; removing a field or code orphans stored data."""
    before, after = old.fields, new.fields
    changed: list[FieldChange] = []
    for fid in before.keys() & after.keys():
        changed.extend(_field_changes(before[fid], after[fid]))
    return FormDiff(
        old_version=old.version,
        new_version=new.version,
        added=tuple(f for f in after if f not in before),
        removed=tuple(f for f in before if f not in after),
        changed=tuple(sorted(changed, key=lambda c: (c.field, c.what))),
    )


def _field_changes(a: Field, b: Field) -> list[FieldChange]:
    out: list[FieldChange] = []

    def note(what: str, affects: bool) -> None:
        out.append(FieldChange(a.id, what, affects))

    if a.type != b.type:
        note(f"type {a.type.value} → {b.type.value}", True)
    if a.repeat != b.repeat:
        note(f"moved from {a.repeat or 'the form'} to {b.repeat or 'the form'}", True)
    old_codes = a.choices.codes if a.choices else frozenset()
    new_codes = b.choices.codes if b.choices else frozenset()
    for code in sorted(old_codes - new_codes):
        note(f"choice code removed: {code}", True)
    for code in sorted(new_codes - old_codes):
        note(f"choice code added: {code}", False)
    if a.decimals is not None and (b.decimals or 0) < a.decimals:
        note(f"decimals {a.decimals} → {b.decimals or 0}", True)
    if (
        a.max_length != b.max_length
        and b.max_length is not None
        and (a.max_length is None or b.max_length < a.max_length)
    ):
        note(f"max length {a.max_length} → {b.max_length}", True)
    if a.identifier != b.identifier:
        note(f"identifier {a.identifier} → {b.identifier}", True)
    if a.required != b.required:
        note(f"required {a.required} → {b.required}", False)
    if a.required_if_text != b.required_if_text:
        was, now = a.required_if_text or "–", b.required_if_text or "–"
        note(f"required when {was} → {now}", False)
    for key in ("min", "max"):
        old_b, new_b = getattr(a, key), getattr(b, key)
        if (old_b.text if old_b else "") != (new_b.text if new_b else ""):
            note(f"{key} {old_b.text if old_b else '–'} → {new_b.text if new_b else '–'}", False)
    if a.show_if_text != b.show_if_text:
        note(f"show_if {a.show_if_text or '–'} → {b.show_if_text or '–'}", False)
    if a.calc_text != b.calc_text:
        note(f"calculation {a.calc_text} → {b.calc_text}", True)
    if [c.when_text for c in a.checks] != [c.when_text for c in b.checks]:
        note("edit checks changed", False)
    if a.label != b.label:
        note("label changed", False)
    if a.unit != b.unit:
        note(f"unit {a.unit or '–'} → {b.unit or '–'}", True)
    return out
