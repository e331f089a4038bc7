"""Form items marked `identifier: true` (a referring physician's name, a local number...).

They follow the identity vault's rules: only staff who may open the subject's identity at its
site see them (`subjects.may_read_identity`, the one rule), each page that shows them to such
staff records an `identity.read` event shaped like the vault's, and everyone else (monitors,
data managers, central roles) sees a mask in their place on every page, history included. A
masked item is never taken from a request: the stored answer stays as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import forms_dsl
from edc.context import Context
from edc.i18n import _
from edc.item_address import field_of
from edc.models.subjects import Subject
from edc.services import subjects
from edc.services.crf_values import Stored, posted_from_stored
from forms_dsl.identifiers import identifier_closure

Posted = Mapping[str, "str | Sequence[str]"]


def masked_text() -> str:
    """What stands in a masked item's place, in the reader's language."""
    return _("Hidden: identifying information")


_CACHED = "_identifier_ids"


def field_ids(form: forms_dsl.Form) -> frozenset[str]:
    """The ids of the form's identifier fields, and of the calculations reading them (however
    indirectly): a calculation can copy or spell out what it reads, so it is masked alike.

    Worked out once per form model (models are frozen and shared; every page asks)."""
    cached: frozenset[str] | None = form.__dict__.get(_CACHED)
    if cached is None:
        cached = identifier_closure(form)
        object.__setattr__(form, _CACHED, cached)  # how a frozen dataclass sets its own state
    return cached


def is_identifier(form: forms_dsl.Form, path: str) -> bool:
    """Whether an item path (`field` or `group-row-field`) holds an identifier item."""
    return field_of(path) in field_ids(form)


def may_see(ctx: Context, subject: Subject) -> bool:
    """Whether the actor sees the subject's identifier items: the vault's rule, nothing else."""
    return subjects.may_read_identity(ctx, subject)


def hidden_from(ctx: Context, subject: Subject, form: forms_dsl.Form) -> frozenset[str]:
    """The identifier field ids of `form` to mask for the actor (none for site staff)."""
    ids = field_ids(form)
    if not ids or may_see(ctx, subject):
        return frozenset()
    return ids


def kept_as_stored(
    form: forms_dsl.Form, posted: Posted, stored: Mapping[str, Stored]
) -> dict[str, str | Sequence[str]]:
    """`posted` with every identifier answer replaced by the stored one: what someone who
    cannot see those items posts never changes (nor empties) them."""
    ids = field_ids(form)
    kept: dict[str, str | Sequence[str]] = {
        key: value for key, value in posted.items() if field_of(key) not in ids
    }
    for path, value in posted_from_stored(form, stored).items():
        if field_of(path) in ids:
            kept[path] = value
    return kept


def shown_items(form: forms_dsl.Form, paths: Iterable[str]) -> list[str]:
    """The identifier items among `paths` (the items whose stored answers a page shows)."""
    return sorted({p for p in paths if is_identifier(form, p)})


def record_read(
    ctx: Context, subject: Subject, purpose: str, form_id: str, items: list[str]
) -> None:
    """One `identity.read` event for a page showing stored identifier items, like the vault's:
    same action and entity, the purpose, and which items (never their values)."""
    if items:
        subjects.record_identity_read(
            ctx, subject, {"purpose": purpose, "form": form_id, "items": items}
        )
