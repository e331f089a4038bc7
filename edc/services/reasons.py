"""Reasons for change as typed on a CRF: a study's standard reasons, free text, one for all.

A study may list standard reasons in study.yaml as the choice list `reasons_for_change`
(transcription error, source document updated, late result, …). A reason is then a standard
reason, free text, or both ("Transcription error: 12 typed for 21"); the trail keeps the standard
reason in the study's first language, so it reads the same whoever gave it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import forms_dsl

#: The study.yaml choice list that holds a study's standard reasons.
STANDARD_LIST = "reasons_for_change"
#: The path of the reason given for every change that has none of its own.
FOR_ALL = "*"
MAX_LENGTH = 500

Typed = tuple[str, str]  # (standard reason code, free text)


def standard(study: forms_dsl.Study | None, lang: str) -> list[tuple[str, str]]:
    """The study's standard reasons as (code, label in `lang`); none if it defines none."""
    found = study.choice_lists.get(STANDARD_LIST) if study is not None else None
    return [(c.code, c.label.get(lang)) for c in found.choices] if found is not None else []


def typed(fields: Iterable[tuple[str, str]]) -> dict[str, Typed]:
    """What was typed per item path, from posted `reason:<path>` and `reason-pick:<path>`."""
    found: dict[str, Typed] = {}
    for key, value in fields:
        kind, _, path = key.partition(":")
        if not path or kind not in ("reason", "reason-pick"):
            continue
        code, text = found.get(path, ("", ""))
        if kind == "reason":
            text = value.strip()[:MAX_LENGTH]
        else:
            code = value.strip()[:64]
        found[path] = (code, text)
    return found


def given(reasons: Mapping[str, Typed], study: forms_dsl.Study | None) -> dict[str, str]:
    """The reasons as the trail keeps them, by path; a code the study does not know is ignored."""
    labels = dict(standard(study, study.languages[0])) if study is not None else {}
    out: dict[str, str] = {}
    for path, (code, text) in reasons.items():
        parts = [p for p in (labels.get(code, ""), text) if p]
        if parts:
            out[path] = ": ".join(parts)[:MAX_LENGTH]
    return out
