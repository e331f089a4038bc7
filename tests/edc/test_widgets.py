"""The CRF inputs write their attributes exactly as WTForms would, only faster."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from wtforms.widgets.core import html_params

from edc.widgets import attributes

NAMES = st.sampled_from(
    ["name", "id", "value", "class_", "for_", "data_row", "aria_describedby", "inputmode",
     "hx_post", "checked", "disabled", "required", "placeholder"]
)  # fmt: skip
VALUES = st.one_of(st.booleans(), st.text(), st.integers())


@given(st.dictionaries(NAMES, VALUES, max_size=8))
def test_attributes_are_those_wtforms_writes(kwargs):
    assert attributes(**kwargs) == html_params(**kwargs)


def test_values_are_escaped_and_booleans_are_bare_or_absent():
    written = attributes(value='"><script>x</script>', checked=True, disabled=False)
    assert written == 'checked value="&#34;&gt;&lt;script&gt;x&lt;/script&gt;"'
    assert "<script>" not in written
