"""YAML-in-a-string helpers: build a form from text, or collect the problems it has."""

from __future__ import annotations

import textwrap

import pytest

from forms_dsl import FormsDslError, load_form_text
from forms_dsl.errors import DslError
from forms_dsl.model import Form
from forms_dsl.types import VType

FILE = "forms/test.yaml"


def form(text: str, languages=("en",), context=None) -> Form:
    result = load_form_text(textwrap.dedent(text), FILE, tuple(languages), context=context or {})
    assert isinstance(result.value, Form)
    return result.value


def problems(text: str, languages=("en",), context=None) -> list[DslError]:
    with pytest.raises(FormsDslError) as caught:
        load_form_text(textwrap.dedent(text), FILE, tuple(languages), context=context or {})
    return list(caught.value.errors)


def located(text: str, **kwargs) -> list[tuple[str, int, int]]:
    """(code, line, column) of every problem, for precise assertions."""
    return [(p.code.id, p.location.line, p.location.column) for p in problems(text, **kwargs)]


def one_field(body: str, **kwargs) -> Form:
    """A form with one section holding the given field(s) (indented YAML list items)."""
    return form(wrap(body, kwargs.get("languages", ("en",))), **kwargs)


def wrap(body: str, languages=("en",)) -> str:
    fields = textwrap.indent(textwrap.dedent(body).strip("\n"), "      ")
    title = "Test" if len(languages) == 1 else "{" + ", ".join(f"{x}: T" for x in languages) + "}"
    return f"""\
form: test
version: 1
title: {title}
sections:
  - id: main
    title: {title}
    fields:
{fields}
"""


CONTEXT = {"date_of_birth": VType.DATE}
