"""render_markdown: what survives, what is refused, and that no input breaks it or gets script in."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.utils.safestring import SafeString
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bastion.lib.markdown import ALLOWED_TAGS, render_markdown

REL = 'rel="nofollow noopener noreferrer"'


class _Collector(HTMLParser):
    """Every start tag and its attributes, as a browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def tags_in(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector.tags


def assert_harmless(html: str) -> None:
    lowered = html.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered
    for tag, attrs in tags_in(html):
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs:
            assert not name.lower().startswith("on"), (tag, name)
            assert name in {"href", "rel", "class", "start"}, (tag, name)
            if name == "href":
                assert (value or "").lower().startswith(("http:", "https:", "mailto:")), value


def test_it_renders_commonmark_with_tables_and_strikethrough():
    html = render_markdown(
        "**bold** _em_ ~~gone~~ `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n> quoted\n\n---"
    )

    assert isinstance(html, SafeString)
    assert "<strong>bold</strong>" in html
    assert "<em>em</em>" in html
    assert "<s>gone</s>" in html
    assert "<code>code</code>" in html
    assert "<table>" in html
    assert "<td>1</td>" in html
    assert "<blockquote>" in html
    assert "<hr>" in html


def test_headings_never_outrank_the_page_own():
    html = render_markdown("# Title\n\n## Part\n\n#### Detail\n\n###### Deepest")

    assert "<h3>Title</h3>" in html
    assert "<h3>Part</h3>" in html
    assert "<h4>Detail</h4>" in html
    assert "<h6>Deepest</h6>" in html
    assert "<h1" not in html
    assert "<h2" not in html
    assert render_markdown("# Title\n\n### Sub", top_heading=2) == "<h2>Title</h2>\n<h3>Sub</h3>\n"
    assert render_markdown("# Title", top_heading=1) == "<h1>Title</h1>\n"


@pytest.mark.parametrize("level", [0, 7])
def test_it_refuses_a_top_heading_out_of_range(level):
    with pytest.raises(ValueError, match="top_heading"):
        render_markdown("# x", top_heading=level)


@pytest.mark.parametrize(
    "url", ["https://example.org/a?b=1", "http://example.org", "mailto:security@example.org"]
)
def test_links_to_the_web_and_mail_get_a_rel_that_leaks_nothing(url):
    html = render_markdown(f"[here]({url})")

    assert f'<a href="{url.replace("&", "&amp;")}" {REL}>here</a>' in html


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "file:///etc/passwd",
        "/accounts/team/",
        "#top",
        "ftp://example.org/x",
    ],
)
def test_it_does_not_link_other_schemes_or_relative_urls(url):
    html = render_markdown(f"[click]({url}) and <{url}>")

    assert "<a" not in html
    assert_harmless(html)


def test_raw_html_is_shown_as_text_not_run():
    html = render_markdown(
        '<script>alert(1)</script>\n\n<a href="x" onclick="y">z</a> <b onmouseover=1>b</b>'
    )

    assert "&lt;script&gt;" in html
    assert "<b" not in html
    assert_harmless(html)


def test_images_become_links_so_nothing_is_fetched_when_staff_read_it():
    html = render_markdown(
        "![a *screenshot*](https://evil.example/track.png) ![](https://evil.example/x.gif)"
    )

    assert "<img" not in html
    assert f'<a href="https://evil.example/track.png" {REL}>image: a screenshot</a>' in html
    assert f'<a href="https://evil.example/x.gif" {REL}>image</a>' in html


def test_a_data_image_is_neither_shown_nor_linked():
    html = render_markdown("![x](data:image/png;base64,iVBORw0KGgo=)")

    assert "<a" not in html
    assert "<img" not in html


def test_only_a_plain_language_name_survives_on_code_blocks():
    assert '<code class="language-python">' in render_markdown("```python\nx = 1\n```")
    html = render_markdown('```py" onclick="alert(1)\nx\n```')
    assert "<pre><code>x" in html
    assert_harmless(html)


def test_bare_urls_stay_text():
    html = render_markdown("see https://example.org for details")

    assert "<a" not in html
    assert "https://example.org" in html


# Fragments, not single characters: joined at random they make links, images, fences and tags
# that a character-level strategy would almost never assemble.
FRAGMENTS = [
    *"<>[]()!*_~`#|-:=\"'/\\&;\n \t",
    "javascript:", "JAVASCRIPT:", "data:", "http://", "mailto:", "onerror", "onclick=", "<img",
    "<script", "<svg", "src=", "&#x6a;", "&#106;", "```", "    ", "1.", "> ", "a", "x", "](", "![",
]  # fmt: skip
MARKDOWNISH = st.lists(st.sampled_from(FRAGMENTS), max_size=80).map("".join)


@hypothesis_settings(max_examples=300, deadline=None)
@given(MARKDOWNISH)
def test_no_markdown_can_smuggle_in_script_handlers_or_images(text):
    assert_harmless(render_markdown(text))


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_renders_without_raising(text):
    assert_harmless(render_markdown(text))
