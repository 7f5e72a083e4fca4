"""Inbound mail: raw RFC 5322 bytes in, a structured and safe ``InboundMail`` out.

``read_mail`` decides nothing about storage: the caller seals what it returns (and the raw message).
It never renders HTML, never fetches anything, and raises only ``UndecryptableMail`` (encrypted mail
we cannot read) or ``openpgp.EngineError`` (the OpenPGP engine is down: retry later). Hostile MIME
(truncated, mis-declared, nested without end, zero-byte parts, huge headers) still yields a result,
with what was odd listed in ``defects``. MIME reading itself is in ``bastion.lib.mailparse``.

Shapes read:

- Plain, HTML-only, multipart/alternative, mixed, related, digest. Attachments are every part that
  is not body text, message/* parts included (kept whole, not descended into).
- PGP/MIME encrypted (RFC 3156 section 4): part 2 is decrypted and its MIME read like the rest,
  recursively, so it may be signed or hold attachments. Its Subject, when it has one, replaces the
  outer one (protected headers: clients put "..." outside).
- PGP/MIME signed (RFC 3156 section 5). **The raw-bytes rule**: the signature is checked over the
  signed part's original bytes, cut from the message on its boundary lines (never re-serialised by
  the email package, which changes headers), with CRLF line endings.
- Signed inside the encryption (one OpenPGP message): checked by ``decrypt_and_verify``.
- Inline PGP in text/plain parts: ``BEGIN PGP MESSAGE`` blocks decrypted in place (their plaintext
  is read as UTF-8 first, whatever the part declares), ``BEGIN PGP SIGNED MESSAGE`` blocks checked.
- Offered keys: application/pgp-keys parts and an Autocrypt header for the From address.

Signatures are judged last, once every key the message offers is known: a key attached inside the
signed (or encrypted) part is the usual first-contact case. ``signature`` speaks for the whole message:
GOOD only when every piece of content (text, HTML, attachment) sits under a good signature by one key.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import Message

from bastion.lib import mailauth, mailparse, openpgp
from bastion.lib.mailauth import DnsLookup
from bastion.lib.mailparse import NoReplyReason, Span
from bastion.lib.openpgp import PublicKey, SecretKey

__all__ = [
    "Encryption",
    "InboundMail",
    "MailPart",
    "NoReplyReason",
    "SignatureStatus",
    "UndecryptableMail",
    "read_mail",
]

MAX_DEPTH = 16  # nesting levels read; real mail, PGP/MIME included, stays under 8
MAX_PARTS = 500
MAX_DECRYPTIONS = 8  # each one runs sqop: a message of many encrypted blocks must not tie up a worker
MAX_CLEARTEXT_BLOCKS = 8
MAX_OFFERED_KEYS = 4
MAX_DEFECTS = 50


class SignatureStatus(enum.StrEnum):
    """What the message's OpenPGP signatures say about all of its content (module docstring)."""

    NONE = "none"  # unsigned, signed over part of the content only, or by several different keys
    GOOD = "good"  # every piece of content is under a good signature by ``signer_fingerprint``
    BAD = "bad"  # a signature by a key we know does not verify, or is unreadable: tampered or broken
    UNKNOWN_KEY = "unknown_key"  # signed by a key that neither sender_keys nor the message offers


class Encryption(enum.StrEnum):
    NONE = "none"
    PGP_MIME = "pgp_mime"  # RFC 3156 multipart/encrypted (wins when both shapes occur)
    INLINE = "inline"  # -----BEGIN PGP MESSAGE----- blocks in text parts


@dataclass(frozen=True)
class MailPart:
    """An attachment. ``filename`` is for display only: no path, no control characters; never use it
    as a path. ``content_type`` is "type/subtype", lower-case, as declared (unverified)."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)  # report plaintext never goes into a repr, log or traceback


@dataclass(frozen=True)
class InboundMail:
    """One message, read. Fields holding content are left out of the repr."""

    message_id: str | None  # "<id>", or None when absent or unreadable
    in_reply_to: tuple[str, ...]  # "<id>" each
    references: tuple[str, ...]  # "<id>" each; of a very long list, the first and the newest
    subject: str = field(repr=False)  # decoded, one line; the protected (encrypted) Subject if any
    from_address: str  # lower-cased addr-spec of the first From address; "" if none parses
    from_name: str = field(repr=False)
    to: tuple[str, ...]  # lower-cased addr-specs
    cc: tuple[str, ...]
    date: datetime | None  # timezone-aware (UTC when the Date header gives no zone)
    text: str = field(repr=False)  # the text/plain body parts joined, else a text view of the HTML
    html: tuple[bytes, ...] = field(repr=False)  # the HTML parts as sent (transfer encoding undone)
    attachments: tuple[MailPart, ...]  # every non-body part, those inside encryption too; zero-byte too
    encryption: Encryption
    signature: SignatureStatus
    signer_fingerprint: str | None  # the certificate's fingerprint, set only when GOOD
    signer_was_offered: bool  # GOOD by a key that came with this message only: no proof of who sent it
    offered_keys: tuple[PublicKey, ...]  # keys the message offers that we could encrypt to
    no_reply: NoReplyReason | None  # set: never answer automatically (RFC 3834)
    defects: tuple[str, ...]  # what was malformed, cut or guessed; no content in them
    dkim: str  # pass, fail, none, temperror, permerror, policy (l= tag), unchecked (no dns given)
    dkim_domains: tuple[str, ...]  # the d= domains whose DKIM signatures pass
    authentication_results: tuple[str, ...]  # e.g. "dkim=pass header.d=example.org", trusted MTAs only


class UndecryptableMail(Exception):
    """Encrypted mail we cannot read: quarantine it. ``str()`` is meant for the sender; ``reason`` is
    a stable code (not_for_us, damaged, malformed, too_large, too_complex, no_key, unsupported,
    failed); ``detail`` is the engine's own words, for staff (never plaintext)."""

    def __init__(self, reason: str, *, detail: str = "") -> None:
        super().__init__(_UNDECRYPTABLE.get(reason, _UNDECRYPTABLE["failed"]))
        self.reason = reason
        self.detail = detail


_UNDECRYPTABLE = {
    "not_for_us": "Your message was encrypted, but not to our current key, so we cannot read it. "
    "Please encrypt it to the key we publish and send it again.",
    "damaged": "Your encrypted message arrived damaged or altered (its integrity check failed), so we "
    "cannot read it. Please send it again.",
    "malformed": "Your message is marked as encrypted, but it is not a readable OpenPGP message. "
    "Please send it again.",
    "too_large": "Your encrypted message is too large once decrypted. Please send less in one message.",
    "too_complex": f"Your message holds more than {MAX_DECRYPTIONS} encrypted parts. Please send it "
    "in fewer parts.",
    "no_key": "This address cannot read encrypted mail. Please send your report through our web form.",
    "unsupported": "Your message is encrypted with S/MIME, which we cannot read. Please use OpenPGP "
    "or our web form.",
    "failed": "We could not decrypt your message. Please send it again.",
}


def read_mail(
    raw: bytes,
    *,
    org_key: SecretKey | None,
    sender_keys: Callable[[str], Sequence[PublicKey]],
    own_addresses: Sequence[str] = (),
    trusted_authserv_ids: Sequence[str] = (),
    dns: DnsLookup | None = None,
    max_plaintext: int = openpgp.MAX_PLAINTEXT,
    headers: tuple[Message, Message] | None = None,
) -> InboundMail:
    """Read one raw message (module docstring).

    ``sender_keys(from_address)`` returns the keys the caller already trusts for that sender; it is
    not called when From has no address. Signatures are checked against those and the keys the
    message offers. ``dns(name: bytes, timeout=...)`` returns a TXT record (or None) for DKIM; without
    it DKIM is "unchecked". ``max_plaintext`` caps all decrypted bytes together. ``headers``
    is ``mailparse.read_top(raw)`` when the caller has read it already (the header parser is costly).
    """
    top, display = headers or mailparse.read_top(raw)
    senders = mailparse.addresses(display, "from")
    from_address, from_name = senders[0] if senders else ("", "")
    reader = _Reader(org_key, sender_keys(from_address) if from_address else (), max_plaintext)
    if len(mailparse.values(top, "from")) > 1:  # what a DKIM check and a reader see may differ
        reader.note("", "several From fields; the first is used")
    if (keydata := mailparse.autocrypt_keydata(top, from_address)) is not None:
        reader.offer(keydata)
    reader.entity(mailparse.whole(raw), _Where())
    reader.judge()
    verdict, encryption, text = reader.verdict(), reader.encryption(), reader.text_view()  # these note too
    dkim, dkim_domains = mailauth.dkim_result(raw, top, dns)
    return InboundMail(
        message_id=mailparse.message_id(top),
        in_reply_to=mailparse.id_list(top, "in-reply-to"),
        references=mailparse.id_list(top, "references"),
        subject=reader.protected_subject or mailparse.subject(display),
        from_address=from_address,
        from_name=from_name,
        to=tuple(a for a, _ in mailparse.addresses(display, "to")),
        cc=tuple(a for a, _ in mailparse.addresses(display, "cc")),
        date=mailparse.sent_at(display),
        text=text,
        html=tuple(p.data for p in reader.pieces if p.kind == "html"),
        attachments=tuple(p.part for p in reader.pieces if p.part is not None),
        encryption=encryption,
        signature=verdict.status,
        signer_fingerprint=verdict.signer,
        signer_was_offered=verdict.signer is not None and verdict.signer not in reader.known_fingerprints,
        offered_keys=tuple(reader.offered.values()),
        no_reply=mailparse.no_reply_reason(top, from_address=from_address, own_addresses=own_addresses),
        defects=tuple(reader.defects),
        dkim=dkim,
        dkim_domains=dkim_domains,
        authentication_results=mailauth.trusted_results(top, trusted_authserv_ids),
    )


# --- Signatures, judged once every offered key is known -------------------------------------------------


@dataclass(frozen=True)
class _Verdict:
    status: SignatureStatus
    signer: str | None = None


_UNJUDGED = _Verdict(SignatureStatus.NONE)


class _Check(abc.ABC):
    """A signature over some content; ``judge`` runs after the walk, with every key."""

    verdict = _UNJUDGED

    @abc.abstractmethod
    def judge(self, reader: _Reader, keys: list[PublicKey]) -> _Verdict:
        """The verdict on this signature, given every key known once the whole mail was read."""


def _by_issuer(issuers: Sequence[str] | None, keys: list[PublicKey]) -> _Verdict:
    """The verdict on a signature that did not verify, from the keys it names as its makers."""
    if issuers is None:
        return _Verdict(SignatureStatus.BAD)  # a signature is there but cannot be read: it proves nothing
    if issuers and openpgp.issued_by(issuers, keys) is not None:
        return _Verdict(SignatureStatus.BAD)  # a key we know, and it does not verify: altered content
    return _Verdict(SignatureStatus.UNKNOWN_KEY)


@dataclass(eq=False)
class _Detached(_Check):
    """multipart/signed: ``data`` is the signed part's raw bytes, CRLF-canonical."""

    data: bytes = field(repr=False)
    signature: bytes

    def judge(self, reader: _Reader, keys: list[PublicKey]) -> _Verdict:
        signer = openpgp.verify_detached(self.data, self.signature, signers=keys)
        if signer is not None:
            return _Verdict(SignatureStatus.GOOD, signer)
        return _by_issuer(openpgp.signature_issuers(self.signature), keys)


@dataclass(eq=False)
class _Decryption(_Check):
    """An encrypted message (PGP/MIME part or inline block), decrypted during the walk."""

    message: bytes = field(repr=False)
    result: openpgp.Decrypted
    tried: frozenset[str]  # fingerprints of the keys it was first verified with

    def judge(self, reader: _Reader, keys: list[PublicKey]) -> _Verdict:
        result = self.result
        if not result.good_signature and {k.fingerprint for k in keys} - self.tried:
            result = reader.run_decrypt(self.message, keys, len(result.plaintext))  # keys found after it
        if result.good_signature:
            return _Verdict(SignatureStatus.GOOD, result.signed_by)
        assert reader.org_key is not None  # we decrypted with it
        issuers = openpgp.encrypted_signature_issuers(self.message, reader.org_key)
        if issuers is None:  # pysequoia cannot read what sqop could: say so, and claim no signature
            reader.note("", "could not tell whether the encrypted content is signed")
            return _Verdict(SignatureStatus.NONE)
        return _by_issuer(issuers, keys) if issuers else _Verdict(SignatureStatus.NONE)


@dataclass(eq=False)
class _Cleartext(_Check):
    """An inline ``BEGIN PGP SIGNED MESSAGE`` block; its text is known once judged."""

    block: bytes = field(repr=False)
    charset: str | None
    text: str = field(default="", repr=False)

    def judge(self, reader: _Reader, keys: list[PublicKey]) -> _Verdict:
        try:
            result = openpgp.verify_cleartext(self.block, signers=keys)
        except openpgp.OpenPGPError:  # not a readable signed message: show it as sent
            self.text = reader.decode(self.block, self.charset, "")
            return _by_issuer(None, keys)
        self.text = reader.decode(result.text, self.charset, "")
        if result.signed_by is not None:
            return _Verdict(SignatureStatus.GOOD, result.signed_by)
        return _by_issuer(result.issuers, keys)


# --- The walk -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Where:
    """Where an entity sits: its part number ("1.2"), depth, and the protection around it."""

    at: str = ""
    depth: int = 0
    checks: tuple[_Check, ...] = ()
    encryption: Encryption = Encryption.NONE

    def child(self, number: int) -> _Where:
        return replace(self, at=f"{self.at}.{number}".lstrip("."), depth=self.depth + 1)

    def inside(self, check: _Check, encryption: Encryption | None = None) -> _Where:
        return replace(self, checks=(*self.checks, check), encryption=encryption or self.encryption)


@dataclass(eq=False)
class _Piece:
    """One piece of content, in message order, with the protection it arrived under."""

    where: _Where
    kind: str  # "text", "html" or "attachment"
    text: str = field(default="", repr=False)
    cleartext: _Cleartext | None = None  # text pieces whose text is only known once judged
    data: bytes = field(default=b"", repr=False)  # html
    charset: str | None = None  # html
    part: MailPart | None = None  # attachment

    def content(self) -> str:
        return self.cleartext.text if self.cleartext is not None else self.text

    def substantive(self) -> bool:
        return self.kind == "attachment" or bool(self.content().strip() or self.data.strip())


class _Reader:
    """Walks one message's MIME tree, decrypting as it goes, and collects its content."""

    def __init__(self, org_key: SecretKey | None, known: Sequence[PublicKey], max_plaintext: int) -> None:
        self.org_key = org_key
        self.known = list({k.fingerprint: k for k in known}.values())
        self.known_fingerprints = frozenset(k.fingerprint for k in self.known)
        self.offered: dict[str, PublicKey] = {}
        self.pieces: list[_Piece] = []
        self.checks: list[_Check] = []
        self.defects: list[str] = []
        self.encryptions: set[Encryption] = set()
        self.protected_subject = ""
        self.parts = self.decryptions = self.cleartexts = 0
        self.plaintext_left = max_plaintext

    def note(self, at: str, what: str) -> None:
        if len(self.defects) < MAX_DEFECTS:
            self.defects.append(f"{f'part {at}' if at else 'the message'}: {what}")
        elif len(self.defects) == MAX_DEFECTS:
            self.defects.append(f"more than {MAX_DEFECTS} defects; the rest are not listed")

    def keys(self) -> list[PublicKey]:
        return self.known + [k for f, k in self.offered.items() if f not in self.known_fingerprints]

    def offer(self, data: bytes) -> None:
        if len(self.offered) >= MAX_OFFERED_KEYS:
            return
        try:
            key = openpgp.parse_public_key(data)
        # A key we cannot use is no offer (the part stays an attachment).
        except openpgp.OpenPGPError:
            return
        self.offered.setdefault(key.fingerprint, key)

    def decode(self, data: bytes, charset: str | None, at: str) -> str:
        text, misfit = mailparse.decode_text(data, charset)
        if misfit is not None:
            self.note(at, misfit)
        return text

    def entity(self, span: Span, where: _Where, default_type: str = "text/plain") -> None:
        if where.depth > MAX_DEPTH:
            self.note(where.at, f"nested deeper than {MAX_DEPTH} levels; not read (the raw mail keeps it)")
            return
        self.parts += 1
        if self.parts > MAX_PARTS:
            if self.parts == MAX_PARTS + 1:
                self.note(
                    where.at, f"over {MAX_PARTS} parts; the rest are not read (the raw mail keeps them)"
                )
            return
        header, body = mailparse.split_entity(span)
        header, notes = mailparse.cap_header(header)
        for what in notes:
            self.note(where.at, what)
        msg = mailparse.read_structure(header)
        msg.set_default_type(default_type)
        ctype = mailparse.content_type(msg)
        if ctype.startswith("multipart/"):
            self.multipart(msg, ctype, body, where)
        elif ctype in _SMIME and (mailparse.param(msg, "smime-type") or "enveloped-data").lower() in _SEALED:
            raise UndecryptableMail("unsupported")
        else:
            self.leaf(msg, ctype, body, where)
        self.email_defects(msg, where.at)

    def email_defects(self, msg: Message, at: str) -> None:
        for defect in msg.defects:  # the class docstrings explain without quoting the message
            self.note(at, (type(defect).__doc__ or type(defect).__name__).strip().splitlines()[0])

    def multipart(self, msg: Message, ctype: str, body: Span, where: _Where) -> None:
        boundary = mailparse.boundary(msg)
        if boundary is None:
            self.note(where.at, f"{ctype} without a boundary; read as text")
            self.leaf(msg, "text/plain", body, where)
            return
        parts, closed = mailparse.split_multipart(body, boundary)
        if not parts:
            self.note(where.at, f"{ctype} in which no boundary line appears; read as text")
            self.leaf(msg, "text/plain", body, where)
            return
        if not closed:
            self.note(where.at, "the closing boundary is missing: the message may be cut short")
        protocol = (mailparse.param(msg, "protocol") or "").strip().lower()
        if ctype == "multipart/encrypted" and protocol == "application/pgp-encrypted":
            self.pgp_mime_encrypted(parts, where)
        elif ctype == "multipart/signed" and protocol == "application/pgp-signature" and len(parts) >= 2:
            self.pgp_mime_signed(parts, where)
        else:
            if ctype == "multipart/signed" and protocol == "application/pgp-signature":
                self.note(where.at, "signed, but the signature part is missing")
            self.parts_of(ctype, parts, where)

    def parts_of(self, ctype: str, parts: list[Span], where: _Where) -> None:
        default = "message/rfc822" if ctype == "multipart/digest" else "text/plain"
        for number, part in enumerate(parts, 1):
            self.entity(part, where.child(number), default)

    def pgp_mime_signed(self, parts: list[Span], where: _Where) -> None:
        # The raw-bytes rule (module docstring): the part as sent, only its line endings made CRLF.
        signature = self.body_of(parts[1])
        check = _Detached(data=mailparse.crlf(parts[0].bytes()), signature=signature)
        self.checks.append(check)
        self.entity(parts[0], where.child(1).inside(check))
        for number, extra in enumerate(parts[2:], 3):  # RFC 3156 allows two parts; read, unsigned
            self.entity(extra, where.child(number))

    def pgp_mime_encrypted(self, parts: list[Span], where: _Where) -> None:
        if len(parts) < 2:
            raise UndecryptableMail("malformed", detail="multipart/encrypted without its encrypted part")
        decryption = self.decrypt(self.body_of(parts[1]), Encryption.PGP_MIME)
        inner = mailparse.whole(decryption.result.plaintext)
        if where.depth == 0:  # protected headers: the real Subject travels inside the encryption
            header, _ = mailparse.split_entity(inner)
            self.protected_subject = mailparse.subject(
                mailparse.read_display(mailparse.cap_header(header)[0])
            )
        self.entity(inner, where.child(2).inside(decryption, Encryption.PGP_MIME))

    def body_of(self, part: Span) -> bytes:
        header, body = mailparse.split_entity(part)
        decoded = mailparse.payload(mailparse.read_structure(mailparse.cap_header(header)[0]), body)
        return body.bytes() if decoded is None else decoded

    def decrypt(self, message: bytes, shape: Encryption) -> _Decryption:
        if self.org_key is None:
            raise UndecryptableMail("no_key")
        if self.decryptions >= MAX_DECRYPTIONS:
            raise UndecryptableMail("too_complex")
        self.decryptions += 1
        keys = self.keys()
        result = self.run_decrypt(message, keys, max(self.plaintext_left, 0))
        self.plaintext_left -= len(result.plaintext)
        self.encryptions.add(shape)
        check = _Decryption(message=message, result=result, tried=frozenset(k.fingerprint for k in keys))
        self.checks.append(check)
        return check

    def run_decrypt(self, message: bytes, keys: list[PublicKey], max_size: int) -> openpgp.Decrypted:
        assert self.org_key is not None
        try:
            return openpgp.decrypt_and_verify(message, key=self.org_key, verify_with=keys, max_size=max_size)
        except openpgp.DecryptError as exc:
            raise UndecryptableMail(exc.reason or "failed", detail=exc.detail) from exc

    def leaf(self, msg: Message, ctype: str, body: Span, where: _Where) -> None:
        data = mailparse.payload(msg, body)
        if data is None:
            self.note(where.at, "its transfer encoding could not be undone; kept as sent")
            data = body.bytes()
        name = mailparse.filename(msg)
        is_body = name is None and mailparse.disposition(msg) != "attachment"
        if ctype == "text/plain" and is_body:
            self.text(data, mailparse.charset(msg), where)
        elif ctype == "text/html" and is_body:
            self.pieces.append(_Piece(where, "html", data=data, charset=mailparse.charset(msg)))
        else:
            if ctype == "application/pgp-keys":
                self.offer(data)
            name = name or mailparse.default_filename(where.at, ctype)
            part = MailPart(filename=name, content_type=ctype, data=data)
            self.pieces.append(_Piece(where, "attachment", part=part))

    def text(self, data: bytes, charset: str | None, where: _Where) -> None:
        for kind, chunk in mailparse.armor_runs(data, limit=MAX_DECRYPTIONS + MAX_CLEARTEXT_BLOCKS):
            if kind == "encrypted":
                decryption = self.decrypt(chunk, Encryption.INLINE)
                text = self.inline_plaintext(decryption.result.plaintext, charset, where.at)
                self.pieces.append(_Piece(where.inside(decryption, Encryption.INLINE), "text", text=text))
            elif kind == "signed" and self.cleartexts < MAX_CLEARTEXT_BLOCKS:
                self.cleartexts += 1
                check = _Cleartext(block=chunk, charset=charset)
                self.checks.append(check)
                self.pieces.append(_Piece(where.inside(check), "text", cleartext=check))
            else:
                self.pieces.append(_Piece(where, "text", text=self.decode(chunk, charset, where.at)))

    def inline_plaintext(self, plaintext: bytes, charset: str | None, at: str) -> str:
        # Clients declare the outer part us-ascii (it is armor) while the plaintext is UTF-8.
        try:
            return plaintext.decode("utf-8")
        except UnicodeDecodeError:
            return self.decode(plaintext, charset, at)

    # --- After the walk ---------------------------------------------------------------------------------

    def judge(self) -> None:
        keys = self.keys()
        for check in self.checks:
            check.verdict = check.judge(self, keys)

    def verdict(self) -> _Verdict:
        """One verdict for the whole message, from each content piece's best verdict."""
        content = [p for p in self.pieces if p.substantive()]
        verdicts = [_best(p.where.checks) for p in content] or [c.verdict for c in self.checks]
        statuses = {v.status for v in verdicts}
        signers = {v.signer for v in verdicts if v.status is SignatureStatus.GOOD}
        if SignatureStatus.BAD in statuses:
            return _Verdict(SignatureStatus.BAD)
        if statuses == {SignatureStatus.GOOD} and len(signers) == 1:
            return verdicts[0]
        if SignatureStatus.GOOD in statuses:
            self.note("", "only part of the content is signed, or by different keys: counted as unsigned")
            return _Verdict(SignatureStatus.NONE)
        return _Verdict(
            SignatureStatus.UNKNOWN_KEY if SignatureStatus.UNKNOWN_KEY in statuses else SignatureStatus.NONE
        )

    def encryption(self) -> Encryption:
        shape = next(
            (e for e in (Encryption.PGP_MIME, Encryption.INLINE) if e in self.encryptions), Encryption.NONE
        )
        if shape is not Encryption.NONE and any(
            p.where.encryption is Encryption.NONE for p in self.pieces if p.substantive()
        ):
            self.note("", "part of the content was not encrypted")
        return shape

    def text_view(self) -> str:
        texts: dict[str, list[str]] = {}
        for piece in self.pieces:
            if piece.kind == "text":
                texts.setdefault(piece.where.at, []).append(piece.content())
        joined = ["".join(chunks) for chunks in texts.values()]
        if not any(t.strip() for t in joined):
            joined = [self.html_view(p) for p in self.pieces if p.kind == "html"]
        text = "\n\n".join(t.replace("\r\n", "\n").strip("\n") for t in joined if t.strip())
        return text.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL

    def html_view(self, piece: _Piece) -> str:
        if len(piece.data) > mailparse.MAX_HTML_TEXT:
            self.note(piece.where.at, f"HTML over {mailparse.MAX_HTML_TEXT >> 10} KiB; its text view is cut")
        return mailparse.html_text(self.decode(piece.data, piece.charset, piece.where.at))


def _best(checks: tuple[_Check, ...]) -> _Verdict:
    """A piece's verdict: vouched for by any good signature around it (the innermost), else the worst."""
    verdicts = [c.verdict for c in checks]
    good = [v for v in verdicts if v.status is SignatureStatus.GOOD]
    if good:
        return good[-1]
    for status in (SignatureStatus.BAD, SignatureStatus.UNKNOWN_KEY):
        if any(v.status is status for v in verdicts):
            return _Verdict(status)
    return _UNJUDGED


_SMIME = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})
_SEALED = frozenset({"enveloped-data", "authenveloped-data"})
