"""What a dashboard covers for its reader: one study, and the sites of it where they may read
subjects (a data manager: all of the study's; a monitor or a nurse: their own).

Both dashboards (record status, study) start here, so that they scope alike: the sites come from
the reader's grants (`edc.access`), never from the request; a site or study asked for in the
address that the reader may not read is ignored, as if it had not been asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import joinedload

import forms_dsl
from edc import access
from edc.access import Permission
from edc.context import Context
from edc.models.studies import Site, Study
from edc.services.definitions import study_model

#: The largest id a column of ours holds (PostgreSQL `integer`): a bigger one names nothing.
ID_MAX = 2**31 - 1


def bounded_int(text: str) -> int | None:
    """An id typed in the address (`?site=3`), or None for anything else: empty, not digits,
    negative, or more than a column holds (never converted when absurdly long)."""
    text = text.strip()
    if not text or len(text) > len(str(ID_MAX)) or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if 0 < value <= ID_MAX else None


@dataclass(frozen=True)
class StudyScope:
    """The study shown, its sites the reader may read (by id, ordered by code), and the one
    site asked for (None: all of them)."""

    study: Study | None
    model: forms_dsl.Study | None
    sites: dict[int, Site]
    studies: tuple[Study, ...]  # every study the reader may read, for a choice when several
    site_id: int | None = None

    @property
    def site_ids(self) -> list[int]:
        """The sites whose subjects are shown: the one asked for, or all in scope."""
        return [self.site_id] if self.site_id is not None else sorted(self.sites)


def study_scope(ctx: Context, study_id: int | None, site_id: int | None) -> StudyScope:
    """The study (asked for, else the asked site's, else the first) and the reader's sites of
    it: two queries (the sites, the study's definition)."""
    ctx.require(Permission.SUBJECT_VIEW)
    ids = access.site_ids_for(ctx.grants, Permission.SUBJECT_VIEW)
    every = (
        list(
            ctx.session.scalars(
                select(Site).where(Site.id.in_(sorted(ids))).options(joinedload(Site.study))
            )
        )
        if ids
        else []
    )
    studies = tuple(sorted({s.study.id: s.study for s in every}.values(), key=lambda s: s.id))
    by_id = {s.id: s for s in studies}
    asked_site = next((s for s in every if s.id == site_id), None)
    if asked_site is not None:
        study: Study | None = asked_site.study
    else:
        study = by_id.get(study_id or 0) or (studies[0] if studies else None)
    if study is None:
        return StudyScope(None, None, {}, studies)
    sites = {s.id: s for s in sorted(every, key=lambda s: s.code) if s.study_id == study.id}
    return StudyScope(
        study,
        study_model(ctx.session, study.id),
        sites,
        studies,
        asked_site.id if asked_site is not None and asked_site.id in sites else None,
    )
