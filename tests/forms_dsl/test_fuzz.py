"""Random documents never break the loader: it either builds a form or raises FormsDslError."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forms_dsl import FormsDslError, evaluate, load_form_text
from tests.forms_dsl.helpers import wrap

KEYS = st.sampled_from(
    ["form", "version", "title", "sections", "id", "type", "label", "fields", "choices", "code",
     "show_if", "calc", "checks", "when", "min", "max", "repeat", "decimals", "pattern", "en",
     "decision_tables", "inputs", "rows", "then", "default", "x"]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.sampled_from(["integer", "choice", "calc", "text", "a", "x > 1", "today()", "L1", "[", "'"]),
    st.text(max_size=20),
)
DOCS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=30,
)


def _load(text: str) -> None:
    """Either a form, or the library's error listing located problems; nothing else."""
    problems = ()
    try:
        load_form_text(text, "fuzz.yaml")
    except FormsDslError as err:
        problems = err.errors
        assert problems
    for problem in problems:
        assert problem.location.line >= 1
        assert str(problem)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCS)
def test_random_yaml_documents_raise_only_the_library_error(doc):
    _load(yaml.safe_dump(doc, allow_unicode=True))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_random_text_raises_only_the_library_error(text):
    _load(text)


FIELD = """\
- id: a
  type: integer
  label: A
- id: b
  type: choice
  label: B
  choices: [{code: x, label: X}, {code: y, label: Y}]
  show_if: "a > 2"
- id: c
  type: calc
  label: C
  calc: "a * 2"
"""


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(FIELD) - 1), st.text(max_size=8))
def test_a_valid_form_with_random_damage_raises_only_the_library_error(position, junk):
    _load(wrap(FIELD[:position] + junk + FIELD[position:]))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "c", "zz", "main-0-a"]), st.text(max_size=12)))
def test_random_posts_never_break_the_engine(posted):
    form = load_form_text(wrap(FIELD), "f.yaml").value
    result = evaluate(form, posted)
    a, c = result.values.get("a"), result.values.get("c")
    assert c == (a * 2 if a is not None else None)  # computed, never taken from the post
