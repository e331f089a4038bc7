"""Consent texts are shown as HTML on the signer's tablet: nothing an author typed can run."""

from __future__ import annotations

import pytest

from econsent.documents import markdown

HOSTILE = """\
# Information

<script>alert("x")</script>

Read <img src=x onerror=alert(1)> this, [click](javascript:alert(1)) and
[also](JAVASCRIPT:alert(2)), <javascript:alert(3)>, [data](data:text/html;base64,PHNjcmlwdD4=)
and [vb](vbscript:msgbox) or [file](file:///etc/passwd).
"""


def test_script_tags_come_out_as_visible_text():
    html = markdown.render(HOSTILE)
    assert "<script" not in html
    assert "&lt;script&gt;" in html
    assert "<img" not in html


@pytest.mark.parametrize("scheme", ["javascript:", "JAVASCRIPT:", "data:", "vbscript:", "file:"])
def test_links_to_other_schemes_are_not_made(scheme):
    html = markdown.render(HOSTILE)
    assert f'href="{scheme}' not in html
    assert f"href='{scheme}" not in html
    assert "<a " not in html


def test_http_https_and_mailto_links_are_made_and_open_nothing_else():
    html = markdown.render(
        "See [site](https://example.org), [old](http://example.org) or "
        "[write](mailto:office@example.org)."
    )
    assert html.count("<a ") == 3
    assert 'href="https://example.org"' in html
    assert 'href="mailto:office@example.org"' in html
    assert 'rel="noopener noreferrer"' in html


def test_markdown_formatting_is_kept():
    html = markdown.render("Some **bold** text\n\n- one\n- two\n")
    assert "<strong>bold</strong>" in html
    assert "<li>one</li>" in html


def test_inline_labels_have_no_paragraph_and_are_escaped():
    assert markdown.render_inline("I *agree* <b>") == "I <em>agree</em> &lt;b&gt;"


def test_images_are_not_fetched():
    assert "<img" not in markdown.render("![tracker](https://example.org/pixel.png)")


def test_the_checker_names_raw_html_and_refused_links_with_their_line():
    found = markdown.problems(HOSTILE)
    assert [(kind, line) for kind, _what, line in found if kind == "html"] == [
        ("html", 3),
        ("html", 5),
    ]
    links = [(what, line) for kind, what, line in found if kind == "link"]
    assert [what.split(":")[0].lower() for what, _line in links] == [
        "javascript", "javascript", "javascript", "data", "vbscript", "file",
    ]  # fmt: skip
    assert {line for _what, line in links} == {5}  # the paragraph's first line
    assert markdown.problems("Plain [site](https://example.org).") == []
