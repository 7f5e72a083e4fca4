"""Rendering Markdown that anyone may have written (reports, messages, the policy) into safe HTML.

Two layers, each enough on its own for the common attacks, together for the uncommon ones:

1. markdown-it-py (CommonMark + tables + strikethrough) with ``html=False``: raw HTML in the
   source is escaped, never passed through, and only ``http``, ``https`` and ``mailto`` links are
   turned into links (anything else stays literal text). Linkify and typographer are off: bare
   URLs stay text, so staff only ever follow links the author marked up, and text reads as sent.
2. nh3 (ammonia) enforces an allow-list on the result: tags, attributes, URL schemes; relative
   URLs are dropped; every link gets ``rel="nofollow noopener noreferrer"``.

Images are never rendered as ``<img>``: a remote image in a report would fetch from an
attacker's server as soon as a staff member opened it (tracking, IP disclosure, and whatever the
image decoder has to parse). They become a plain link labelled "image: <alt text>" instead.

Headings are clamped to a top level (``#`` and ``##`` become ``<h3>`` by default, ``####`` stays
``<h4>``): the content always sits inside a page that has its own ``<h1>`` and section ``<h2>``s,
and a report must not outrank them. Clamping rather than shifting every level keeps the outline
free of skipped levels for the common case of an author who starts sections at ``##``.

Callers cap the input size (intake does); the parser is linear-time, but megabytes of Markdown
are never a legitimate report field.
"""

from __future__ import annotations

import re
from typing import Any

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.token import Token

ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
_SCHEME = re.compile(r"^\s*([a-z][a-z0-9+.-]*):", re.IGNORECASE)
# A fence's info string is the author's: only a plain language name survives as a class.
_LANGUAGE_CLASS = re.compile(r"^language-[A-Za-z0-9_+#-]{1,40}$")

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "strong", "em", "s", "del", "code", "pre", "blockquote", "hr",
        "ul", "ol", "li", "a",
        "h1", "h2", "h3", "h4", "h5", "h6",
        "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href"},
    "code": {"class"},
    # An ordered list may start at any number ("3. foo"): harmless, and keeps numbering right.
    "ol": {"start"},
}
LINK_REL = "nofollow noopener noreferrer"
DEFAULT_TOP_HEADING = 3


def is_allowed_url(url: str) -> bool:
    """True for an absolute ``http``, ``https`` or ``mailto`` URL; everything else is refused.

    Relative URLs are refused too: in a report they could only point into Bastion itself, which is
    a phishing aid (a link to a staff page dressed up as something else), never a need.
    """
    match = _SCHEME.match(url)
    return match is not None and match.group(1).lower() in ALLOWED_SCHEMES


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    """nh3's per-attribute hook: the last word on hrefs and code classes."""
    if attribute == "href":
        return value if is_allowed_url(value) else None
    if tag == "code" and attribute == "class":
        return value if _LANGUAGE_CLASS.match(value) else None
    return value


def _build_parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.enable(["table", "strikethrough"])
    # markdown-it's own check refuses javascript:, vbscript:, file: and most data: URLs; ours is
    # an allow-list instead, applied to links, autolinks and images alike.
    parser.validateLink = is_allowed_url  # type: ignore[method-assign]
    return parser


_parser = _build_parser()
# One Cleaner, built once: ammonia compiles its rules up front and is safe to share across threads.
_cleaner = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
    attribute_filter=_attribute_filter,
    url_schemes=set(ALLOWED_SCHEMES),
    url_relative="deny",
    link_rel=LINK_REL,
    strip_comments=True,
)


def _image_as_link(image: Token) -> list[Token]:
    """The tokens of a link to the image's URL, labelled with its alt text; never an ``<img>``."""
    alt = "".join(child.content for child in image.children or []) or image.content
    label = Token("text", "", 0, content=f"image: {alt}" if alt.strip() else "image")
    opening = Token("link_open", "a", 1, attrs={"href": str(image.attrGet("src") or "")})
    return [opening, label, Token("link_close", "a", -1)]


def _rewrite(tokens: list[Token], *, top_heading: int) -> None:
    """Clamp heading levels and replace images, in place."""
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{max(top_heading, int(token.tag[1]))}"
        elif token.type == "inline" and token.children:
            children: list[Token] = []
            for child in token.children:
                children.extend(_image_as_link(child) if child.type == "image" else [child])
            token.children = children


def render_markdown(text: str, *, top_heading: int = DEFAULT_TOP_HEADING) -> SafeString:
    """``text`` (untrusted Markdown) as sanitised HTML, safe to put in a page as is.

    Headings above level ``top_heading`` are lowered to it (pass the level below the page's own
    section headings). Never raises on odd input: any string has a rendering (CommonMark has no
    syntax errors).
    """
    if not 1 <= top_heading <= 6:
        raise ValueError("top_heading must be between 1 and 6")
    env: dict[str, Any] = {}
    tokens = _parser.parse(text, env)
    _rewrite(tokens, top_heading=top_heading)
    html = _parser.renderer.render(tokens, _parser.options, env)
    # mark_safe only after nh3: its output is the allow-list, whatever the parser produced.
    return mark_safe(_cleaner.clean(html))  # noqa: S308
