"""Reading untrusted mail without OpenPGP: raw parts, capped headers, text views and header facts.

``bastion.lib.inbound`` builds on this module; nothing here may raise on hostile input. Two rules
shape it, both measured on CPython 3.11:

- **Raw bytes are the truth.** A multipart body is split here, on its boundary lines, into each part's
  original bytes (a ``Span``): a multipart/signed signature covers the signed part exactly as sent,
  and the email package re-serialises differently (STACK-NOTES). Its parser also recurses once per
  nesting level (RecursionError near 1,000 levels), so it only ever reads one entity's header block.
- **Cap before parsing.** The email package's header parsers are super-linear (a 64 KiB Content-Type
  takes 3.7 s under ``policy.default``, an 8 MiB ``To`` runs out of memory) and recursive (a From of
  nested comments raises RecursionError). Every field is cut to ``MAX_FIELD`` bytes first, MIME
  structure is read with the compat32 policy (about 40 times faster), and only the few display fields
  go through ``policy.default``, each access guarded.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import enum
import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import Compat32
from email.utils import collapse_rfc2231_value, parsedate_to_datetime
from typing import Any, TypeVar

MAX_FIELD = 16 << 10  # one header field; an Autocrypt key of RSA-4096 fits, as does any real Content-Type
MAX_DISPLAY_FIELD = 8 << 10  # From/To/Cc/Subject/Date, parsed by the slower policy.default (~0.1 s at 8 KiB)
MAX_HEADER_BLOCK = 256 << 10
MAX_HTML_TEXT = 512 << 10  # HTML turned into the text view (~0.5 s at worst); the original is kept whole
MAX_IDS = 100  # References kept: the first (the thread's root) and the newest
DISPLAY_FIELDS = frozenset({b"from", b"to", b"cc", b"subject", b"date"})
T = TypeVar("T")


class NoReplyReason(enum.StrEnum):
    """Why we must never answer this message automatically (RFC 3834 section 2)."""

    AUTO_SUBMITTED = "auto_submitted"  # Auto-Submitted other than "no", or a vacation responder's marks
    BULK = "bulk"  # Precedence: bulk, junk or list
    LIST = "list"  # List-Id, List-Unsubscribe and the other RFC 2369/2919 list fields
    BOUNCE = "bounce"  # Return-Path <>, From MAILER-DAEMON, or a multipart/report (DSN, MDN, ARF)
    OURS = "ours"  # From is one of our own addresses: answering it would loop


class _SourceText(Compat32):
    """compat32, except that header values come back as the source text, never as Header objects
    (which compat32 makes of 8-bit values): boundaries must match the raw bytes they came from."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


_MISSING = object()


class _DisplayMessage(EmailMessage):
    """policy.default parses a field's value anew on every access (an address list: ~0.3 ms, and
    intake reads From, To and Subject more than once). The display view is only ever read, so each
    field is parsed once per message. A field that fails to parse is not kept: it fails each time."""

    def get(self, name: str, failobj: Any = None) -> Any:
        parsed: dict[str, Any] = self.__dict__.setdefault("_parsed_fields", {})
        key = name.lower()
        if key not in parsed:
            parsed[key] = super().get(key, _MISSING)
        value = parsed[key]
        return failobj if value is _MISSING else value


_STRUCTURE = BytesParser(policy=_SourceText())
_DISPLAY = BytesParser(_DisplayMessage, policy=policy.default)


# --- Raw spans ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """``buf[start:end]``: one MIME entity (or body) as sent, located without copying ``buf``."""

    buf: bytes
    start: int
    end: int

    def bytes(self) -> bytes:
        return self.buf[self.start : self.end]


_BLANK_LINE = re.compile(rb"\r?\n\r?\n")
_LEADING_EOL = re.compile(rb"\r?\n")
_FIELD_OR_MBOX_LINE = re.compile(rb"[!-9;-~]+[ \t]*:|From ")  # a field name and its colon; mbox "From "


def whole(buf: bytes) -> Span:
    return Span(buf, 0, len(buf))


def split_entity(entity: Span) -> tuple[bytes, Span]:
    """(header block, body) of an entity: they part at the first empty line. An entity that starts
    with an empty line, or with anything but a header field, has no header (as the email package
    reads it too); one without any empty line is all header."""
    buf, start, end = entity.buf, entity.start, entity.end
    if (eol := _LEADING_EOL.match(buf, start, end)) is not None:
        return b"", Span(buf, eol.end(), end)
    if _FIELD_OR_MBOX_LINE.match(buf, start, end) is None:
        return b"", entity
    blank = _BLANK_LINE.search(buf, start, end)
    if blank is None:
        return buf[start:end], Span(buf, end, end)
    return buf[start : blank.start()], Span(buf, blank.end(), end)


def split_multipart(body: Span, boundary: bytes) -> tuple[list[Span], bool]:
    """The parts of a multipart body, each exactly as sent, and whether the closing delimiter came.

    RFC 2046 section 5.1.1: a delimiter is a line of "--" and the boundary, "--" after it to close,
    then optional blanks. The line break before a delimiter belongs to the delimiter, not the part.
    A part may not contain its own delimiter line, so no lookahead is needed; no search starts twice
    at one place, so hostile input costs linear time.
    """
    delimiter = re.compile(rb"^--" + re.escape(boundary) + rb"(--)?[ \t]*\r?$", re.MULTILINE)
    parts: list[Span] = []
    opened: int | None = None  # where the current part starts, once the first delimiter is seen
    for line in delimiter.finditer(body.buf, body.start, body.end):
        if opened is not None:
            parts.append(Span(body.buf, opened, max(opened, _line_break_before(body.buf, line.start()))))
        if line.group(1):
            return parts, True
        opened = _next_line(body.buf, line.end(), body.end)
    if opened is not None:
        parts.append(Span(body.buf, opened, body.end))
    return parts, False


def _line_break_before(buf: bytes, pos: int) -> int:
    return pos - 2 if buf[pos - 2 : pos] == b"\r\n" else pos - 1


def _next_line(buf: bytes, pos: int, end: int) -> int:
    return pos + 1 if pos < end and buf[pos : pos + 1] == b"\n" else pos


def crlf(data: bytes) -> bytes:
    """Canonical CRLF line endings: what PGP/MIME signatures cover (RFC 3156 section 5)."""
    return re.sub(rb"\r?\n", b"\r\n", data)


# --- Header blocks --------------------------------------------------------------------------------------

_FIELD_START = re.compile(rb"\r?\n(?![ \t])")


def cap_header(block: bytes) -> tuple[bytes, list[str]]:
    """The header block with each field cut to its cap, and the block to MAX_HEADER_BLOCK; with notes."""
    notes = []
    if len(block) > MAX_HEADER_BLOCK:
        block = block[: block.rfind(b"\n", 0, MAX_HEADER_BLOCK) + 1 or MAX_HEADER_BLOCK]
        notes.append(f"the header is over {MAX_HEADER_BLOCK >> 10} KiB; only its start was read")
    if len(block) <= MAX_DISPLAY_FIELD:
        return block, notes
    fields = []
    for field in _FIELD_START.split(block):
        name = field.split(b":", 1)[0].strip().lower()
        cap = MAX_DISPLAY_FIELD if name in DISPLAY_FIELDS else MAX_FIELD
        if len(field) > cap:
            field = field[:cap]
            notes.append(f"a {printable(name.decode('latin-1'))[:40]} field is over {cap >> 10} KiB; cut")
        fields.append(field)
    return b"\r\n".join(fields), notes


def read_structure(block: bytes) -> Message:
    """The compat32 view of a (capped) header block: MIME structure and raw field values."""
    return _STRUCTURE.parsebytes(block + b"\r\n\r\n", headersonly=True)


def read_display(block: bytes) -> Message:
    """The policy.default view of a (capped) header block: decoded Subject, parsed addresses.
    Parsing is lazy there, so every access goes through ``guarded``."""
    return _DISPLAY.parsebytes(block + b"\r\n\r\n", headersonly=True)


def read_top(raw: bytes) -> tuple[Message, Message]:
    """The top header block of ``raw``, capped, in both views: (structure, display).

    Cheap and safe on hostile input, so intake can dedupe, throttle and quarantine by it before
    (or instead of) reading the whole message.
    """
    header, _ = split_entity(whole(raw))
    header, _ = cap_header(header)
    return read_structure(header), read_display(header)


def guarded(read: Callable[[], T], default: T) -> T:
    """``read()``, or ``default`` when the email package fails on a crafted header. Its parsers have
    raised IndexError, ValueError, RecursionError and more on such input (CPython issues); a header
    we cannot read is a defect in the message, not a reason to drop it."""
    try:
        return read()
    except Exception:
        return default


def values(msg: Message, name: str) -> list[str]:
    """Every value of field ``name``, unfolded, as sent (8-bit bytes as surrogate escapes)."""
    found: list[Any] = guarded(lambda: list(msg.get_all(name) or []), [])
    return [re.sub(r"\r?\n(?=[ \t])", "", str(v)) for v in found]


# --- Strings we hand back -------------------------------------------------------------------------------

_CONTROLS = re.compile(r"[\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]+")


def clean(text: str) -> str:
    """Valid Unicode: raw 8-bit header bytes (surrogate escapes) read as UTF-8, as SMTPUTF8 sends them."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def printable(text: str, limit: int = 998) -> str:
    """One clean line: no control or bidirectional-override characters (which disguise file names)."""
    return _CONTROLS.sub(" ", clean(text)).strip()[:limit]


# --- One entity's MIME header ---------------------------------------------------------------------------


_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")


def content_type(msg: Message) -> str:
    """The media type, lower-case; application/octet-stream for anything that is not a media type name
    (RFC 6838 section 4.2), which compat32 would otherwise pass on, comments and all."""
    found = guarded(msg.get_content_type, "text/plain")
    return found if _MEDIA_TYPE.fullmatch(found) else "application/octet-stream"


def param(msg: Message, name: str, header: str = "content-type") -> str | None:
    value = guarded(lambda: msg.get_param(name, header=header), None)
    if value is None or isinstance(value, str):
        return value
    return guarded(lambda: str(collapse_rfc2231_value(value)), None)  # an RFC 2231 (charset, lang, text)


def boundary(msg: Message) -> bytes | None:
    found = guarded(msg.get_boundary, None)
    if not found:
        return None
    return guarded(lambda: found.encode("ascii", "surrogateescape"), None)


def charset(msg: Message) -> str | None:
    return guarded(msg.get_content_charset, None)


def disposition(msg: Message) -> str | None:
    return guarded(msg.get_content_disposition, None)


def filename(msg: Message) -> str | None:
    raw = guarded(msg.get_filename, None)
    if raw is None:
        return None
    decoded = guarded(lambda: str(make_header(decode_header(raw))), raw)  # RFC 2047, as Outlook writes
    name = printable(decoded, 255).replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name or None


def payload(msg: Message, body: Span) -> bytes | None:
    """The body with its Content-Transfer-Encoding undone (damage shows in ``msg.defects``), or None
    when the email package could not undo it at all."""
    msg.set_payload(body.bytes().decode("ascii", "surrogateescape"))  # what the email parser stores
    decoded = guarded(lambda: msg.get_payload(decode=True), None)
    return decoded if isinstance(decoded, bytes) else None


# --- Text -----------------------------------------------------------------------------------------------

# Codecs that are not mail charsets: some are slow on large input (punycode is quadratic) and others
# turn text into escapes or code.
_NOT_CHARSETS = frozenset({"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined"})


def decode_text(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """Text in its declared charset; else UTF-8 (often sent as us-ascii: STACK-NOTES); else Latin-1,
    which maps every byte, so the reader sees every character rather than replacement marks.
    Returns the text and a note when the declared charset did not fit."""
    name = _codec(declared or "us-ascii")
    for candidate in (name, "utf-8"):
        if candidate is None:
            continue
        try:
            return data.decode(candidate), None if candidate == name else _misfit(declared, "UTF-8")
        except (UnicodeError, LookupError):
            continue
    return data.decode("latin-1"), _misfit(declared, "Latin-1")


def _codec(name: str) -> str | None:
    try:
        codec = codecs.lookup(name).name
    except (LookupError, ValueError, TypeError):
        return None
    return None if codec in _NOT_CHARSETS else codec


def _misfit(declared: str | None, used: str) -> str:
    return f"text declared as {printable(declared or 'us-ascii', 40)!r} is not; read as {used}"


_BLOCK_TAGS = frozenset(
    {"address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "footer", "form", "h1"}
    | {"h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section"}
    | {"table", "tr", "ul"}
)
_ITEM_TAGS = frozenset({"li", "tr", "dd", "dt"})
_HIDDEN_TAGS = frozenset({"script", "style", "head", "title", "template"})
# After the name comes a blank, "/" or ">": nothing else, so a failed match backtracks in linear time.
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)(?:[\s/][^<>]*)?>")


def html_text(markup: str) -> str:
    """A plain-text view of HTML: text kept, tags and hidden elements dropped, nothing fetched.

    Not html.parser: CPython 3.11's is quadratic on unclosed constructs (256 KiB of "<!--" took 86 s
    here; CVE-2025-6069), nor nh3 (14 s for 1 MiB of "&#"). This scan never looks at a character
    twice (about 0.9 s for 1 MiB of nothing but tags). It only ever yields text, which callers escape
    like any other. Line breaks that tags stand for are private-use placeholders until whitespace is
    collapsed.
    """
    markup = _PLACEHOLDERS.sub("", markup[:MAX_HTML_TEXT])
    out: list[str] = []
    pos = 0
    while (start := _MARKUP_START.search(markup, pos)) is not None:
        out.append(markup[pos : start.start()])
        pos = _skip_markup(markup, start.start(), out)
    out.append(markup[pos:])
    text = re.sub(r"\s+", " ", html.unescape("".join(out))).replace(_BREAK, "\n").replace(_ITEM, "\n- ")
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


_MARKUP_START = re.compile(r"<(?:[A-Za-z!?]|/[A-Za-z])")  # any other "<" is text
_BREAK, _ITEM = "\ue000", "\ue001"
_PLACEHOLDERS = re.compile("[\ue000\ue001]")


def _skip_markup(markup: str, lt: int, out: list[str]) -> int:
    """Past the markup at ``lt`` (appending any line break it stands for); where to read on."""
    if markup.startswith(("<!", "<?"), lt):  # comments, doctype, CDATA, processing instructions
        closer = "-->" if markup.startswith("<!--", lt) else ">"
        closed_at = markup.find(closer, lt + 2)
        return len(markup) if closed_at < 0 else closed_at + len(closer)
    tag = _TAG.match(markup, lt)
    if tag is None:
        out.append("<")  # a tag that never closes is text
        return lt + 1
    name, closing = tag.group(2).lower(), bool(tag.group(1))
    if name in _BLOCK_TAGS and not (closing and name in _ITEM_TAGS):  # an item ends where the next begins
        out.append(_ITEM if name == "li" and not closing else _BREAK)
    if name in _HIDDEN_TAGS and not closing:
        close = re.compile(rf"</{name}\s*>", re.IGNORECASE).search(markup, tag.end())
        return len(markup) if close is None else close.end()
    return tag.end()


def default_filename(at: str, ctype: str) -> str:
    """A name for a part that gives none: its part number and an extension for its type."""
    extension = {"message/rfc822": ".eml", "application/pgp-keys": ".asc", "text/plain": ".txt"}
    return f"part-{at or '1'}{extension.get(ctype, '.bin')}"


_ARMOR_BEGIN = re.compile(rb"^-----BEGIN PGP (MESSAGE|SIGNED MESSAGE)-----[ \t]*\r?$", re.MULTILINE)
_ARMOR_END = {
    b"MESSAGE": re.compile(rb"^-----END PGP MESSAGE-----[ \t]*\r?$", re.MULTILINE),
    b"SIGNED MESSAGE": re.compile(rb"^-----END PGP SIGNATURE-----[ \t]*\r?$", re.MULTILINE),
}
_RUN_KIND = {b"MESSAGE": "encrypted", b"SIGNED MESSAGE": "signed"}


def armor_runs(data: bytes, *, limit: int) -> list[tuple[str, bytes]]:
    """Text cut into ("plain" | "encrypted" | "signed", bytes) runs, in order, with at most ``limit``
    OpenPGP blocks (later ones stay plain). Armor lines count only at the start of a line, so quoted
    blocks ("> -----BEGIN") stay plain. Linear: once a kind of block lacks its end line, later
    blocks of that kind cannot have one either, so they are not searched for again."""
    runs: list[tuple[str, bytes]] = []
    pos, search_from, unterminated = 0, 0, set()
    while len(runs) < 2 * limit and (begin := _ARMOR_BEGIN.search(data, search_from)) is not None:
        search_from = begin.end()
        kind = begin.group(1)
        end = None if kind in unterminated else _ARMOR_END[kind].search(data, begin.end())
        if end is None:
            unterminated.add(kind)
            continue
        runs += [("plain", data[pos : begin.start()]), (_RUN_KIND[kind], data[begin.start() : end.end()])]
        pos = search_from = end.end()
    return [*runs, ("plain", data[pos:])]


# --- Header facts ---------------------------------------------------------------------------------------

_MSG_ID = re.compile(r"<([^<>\s\x00-\x1f\x7f]{1,250})>")


def message_ids(value: str) -> list[str]:
    """The ``<id>`` tokens of a Message-ID, In-Reply-To or References value, in order."""
    return [f"<{clean(i)}>" for i in _MSG_ID.findall(value)]


def message_id(msg: Message) -> str | None:
    for value in values(msg, "message-id")[:1]:
        ids = message_ids(value)
        bare = value.strip()
        if ids:
            return ids[0]
        if bare and len(bare) <= 250 and not re.search(r"[\s<>\x00-\x1f\x7f]", bare):  # without brackets
            return f"<{clean(bare)}>"
    return None


def id_list(msg: Message, name: str) -> tuple[str, ...]:
    ids = [i for value in values(msg, name) for i in message_ids(value)]
    return tuple(ids if len(ids) <= MAX_IDS else ids[:1] + ids[-(MAX_IDS - 1) :])


def addresses(display: Message, name: str) -> list[tuple[str, str]]:
    """(addr-spec lower-cased, display name) of each address in field ``name``; unparseable ones skipped."""
    found: Any = guarded(lambda: display[name], None)
    parsed: list[Any] = guarded(lambda: list(found.addresses), []) if found is not None else []
    return [pair for pair in map(_address_pair, parsed) if pair is not None]


def _address_pair(address: Any) -> tuple[str, str] | None:
    spec = guarded(lambda: printable(address.addr_spec, 320).lower(), "")
    local, at, domain = spec.partition("@")
    if not (local and at and domain) or "@" in domain or " " in spec or "\ufffd" in spec:
        return None  # not an address we could ever write to
    return spec, guarded(lambda: printable(address.display_name, 200), "")


def subject(display: Message) -> str:
    return printable(guarded(lambda: str(display["subject"] or ""), ""))


def sent_at(display: Message) -> datetime | None:
    value = guarded(lambda: str(display["date"] or ""), "")
    when = guarded(lambda: parsedate_to_datetime(value), None) if value else None
    if when is None:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)  # "-0000": UTC, zone unknown


def no_reply_reason(msg: Message, *, from_address: str, own_addresses: Sequence[str]) -> NoReplyReason | None:
    """Why an automatic answer to this message is forbidden (RFC 3834), or None. Loops first."""
    fields = {name: [v.strip().lower() for v in values(msg, name)] for name in _NO_REPLY_FIELDS}
    if from_address and from_address in {a.strip().lower() for a in own_addresses}:
        return NoReplyReason.OURS
    local_part = from_address.rsplit("@", 1)[0]
    if any(re.fullmatch(r"<\s*>", v) for v in fields["return-path"]) or local_part == "mailer-daemon":
        return NoReplyReason.BOUNCE
    if content_type(msg) == "multipart/report":
        return NoReplyReason.BOUNCE
    if _auto_submitted(fields):
        return NoReplyReason.AUTO_SUBMITTED
    if any(fields[name] for name in _LIST_FIELDS):
        return NoReplyReason.LIST
    if any(_token(v) in ("bulk", "junk", "list") for v in fields["precedence"]):
        return NoReplyReason.BULK
    return None


_LIST_FIELDS = (
    "list-id",
    "list-unsubscribe",
    "list-post",
    "list-help",
    "list-subscribe",
    "list-owner",
    "list-archive",
)
_NO_REPLY_FIELDS = (
    "return-path",
    "auto-submitted",
    "precedence",
    "x-auto-response-suppress",
    "x-autoreply",
    "x-autorespond",
    *_LIST_FIELDS,
)


def _token(value: str) -> str:
    found = re.match(r"\s*([a-z0-9_-]+)", value)
    return found.group(1) if found else ""


def _auto_submitted(fields: dict[str, list[str]]) -> bool:
    # RFC 3834 section 5; plus what vacation responders that predate it write, and Exchange's request
    # not to be answered (which our own mail carries too).
    suppress = {t.strip() for v in fields["x-auto-response-suppress"] for t in v.split(",")}
    return (
        any(_token(v) not in ("", "no") for v in fields["auto-submitted"])
        or any(_token(v) == "auto_reply" for v in fields["precedence"])
        or bool(fields["x-autoreply"] or fields["x-autorespond"])
        or bool(suppress & {"all", "autoreply", "oof", "dr"})
    )


def autocrypt_keydata(msg: Message, from_address: str) -> bytes | None:
    """The key of the one valid Autocrypt header for ``from_address`` (Autocrypt Level 1 section 2.1:
    an unknown critical attribute voids a header; more than one valid header counts as none)."""
    keys = []
    for value in values(msg, "autocrypt"):
        attributes = dict(_attribute(part) for part in value.split(";") if "=" in part)
        unknown = set(attributes) - {"addr", "prefer-encrypt", "keydata"}
        if any(not name.startswith("_") for name in unknown):
            continue
        if attributes.get("addr", "").strip().lower() != from_address or "keydata" not in attributes:
            continue
        try:
            keys.append(base64.b64decode("".join(attributes["keydata"].split()), validate=True))
        except (binascii.Error, ValueError):
            continue
    return keys[0] if len(keys) == 1 and from_address else None


def _attribute(part: str) -> tuple[str, str]:
    name, _, value = part.partition("=")
    return name.strip().lower(), value.strip()
