"""Mail to reporters: rendered from templates, and OpenPGP-encrypted (PGP/MIME) when we have their key.

Encrypted mail is RFC 3156 PGP/MIME, built with the stdlib ``email`` package and Django's own
message class: a ``multipart/encrypted; protocol="application/pgp-encrypted"`` with the version
part (``Version: 1``) and the armored message. Inside the encryption is a complete MIME entity
(``text/plain``, UTF-8, quoted-printable, CRLF) carrying the subject as a protected header. It is
signed by the org key and encrypted in one pass (``lib.openpgp.encrypt``), the combined form RFC
3156 §6.2 allows; the tests decrypt and verify it with gpg 2.2.

Mail to a reporter without a key is PGP/MIME *signed* (RFC 3156 §5, ``multipart/signed``) by the
org key, so every mail from us is verifiable either way.

Rules that keep report content out of clear mail: templates never see report content unless the
mail will be encrypted (the ``private`` context is rendered only then), and a key that can no
longer be used (expired, revoked since it was given) makes the mail fall back to the clear
version, which says only that there is something to read in the portal.
"""

from __future__ import annotations

import logging
import quopri
from collections.abc import Mapping, Sequence
from email import policy
from email.encoders import encode_7or8bit
from email.message import EmailMessage as MIMEEntity
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.nonmultipart import MIMENonMultipart
from email.parser import BytesParser
from email.policy import Policy, compat32
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage

from bastion.lib.emails import render_email
from bastion.lib.openpgp import (
    KeyRejected,
    OpenPGPError,
    PublicKey,
    SecretKey,
    detached_sign,
    encrypt,
    load_public_key,
    signature_hash_name,
)
from bastion.vault.orgkey import get_org_key

logger = logging.getLogger(__name__)


class EncryptedEmail(EmailMessage):
    """A PGP/MIME encrypted message: no clear body, the two RFC 3156 parts as its "attachments".

    Django wraps attachments in ``multipart/<mixed_subtype>`` and leaves out an empty body, so
    this only has to name the subtype and add the ``protocol`` parameter RFC 3156 requires. (Django
    6 takes ``email.message.MIMEPart`` attachments instead of ``MIMEBase``; move to them then.)
    """

    mixed_subtype = "encrypted"

    def message(self) -> Any:
        """Django's message, with ``protocol="application/pgp-encrypted"`` on its Content-Type."""
        msg = super().message()
        msg.set_param("protocol", "application/pgp-encrypted")
        return msg


def _part(data: bytes, subtype: str, description: str) -> MIMEBase:
    part = MIMEApplication(data, subtype, _encoder=encode_7or8bit)
    del part["MIME-Version"]  # only the top level carries it
    part["Content-Description"] = description
    return part


def _outer(clear: EmailMessage) -> dict[str, Any]:
    """The envelope of ``clear`` for a PGP/MIME wrapper, whose own body is empty: all is in its parts."""
    return {
        "subject": clear.subject,
        "body": "",
        "from_email": clear.from_email,
        "to": clear.to,
        "reply_to": clear.reply_to,
        "headers": clear.extra_headers,
    }


def encrypt_email(clear: EmailMessage, *, recipient: PublicKey, signer: SecretKey) -> EncryptedEmail:
    """``clear`` as PGP/MIME: its subject and body encrypted to ``recipient`` and signed by ``signer``.

    The outer message keeps the headers (the subject too, which must therefore never hold content)
    and its body is empty, so nothing of the text is readable without the key.
    """
    inner = MIMEEntity(policy=policy.SMTP)  # CRLF line endings: the canonical form RFC 3156 signs
    inner["Subject"] = clear.subject
    inner.set_content(clear.body, cte="quoted-printable")
    inner.set_param("protected-headers", "v1")
    del inner["MIME-Version"]
    armored = encrypt(inner.as_bytes(), recipients=[recipient], signer=signer)
    version = _part(b"Version: 1\r\n", "pgp-encrypted", "PGP/MIME version identification")
    payload = _part(armored, "octet-stream", "OpenPGP encrypted message")
    payload.add_header("Content-Disposition", "inline", filename="encrypted.asc")
    return EncryptedEmail(**_outer(clear), attachments=[version, payload])


class SignedEmail(EmailMessage):
    """A PGP/MIME signed message (RFC 3156 §5): the body part and its detached signature."""

    mixed_subtype = "signed"

    def __init__(self, *args: Any, micalg: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.micalg = micalg

    def message(self) -> Any:
        """Django's message, with the ``protocol`` and ``micalg`` parameters RFC 3156 requires."""
        msg = super().message()
        msg.set_param("protocol", "application/pgp-signature")
        msg.set_param("micalg", self.micalg)
        return msg


_TEXT_PART_HEADER = (
    b'Content-Type: text/plain; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n'
)


def canonical_text_part(text: str) -> bytes:
    """``text`` as a MIME entity in the canonical form RFC 3156 signs: UTF-8, quoted-printable, CRLF.

    Built byte by byte rather than by the ``email`` package, whose generators may re-fold headers
    or escape a body line starting with "From ": any such change after signing breaks the
    signature. Quoted-printable keeps every line short and 7-bit, so no relay re-encodes it;
    a line starting with "From " is written "=46rom " for the same reason.
    """
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    encoded = quopri.encodestring(normalised.encode("utf-8"))
    lines = [b"=46" + line[1:] if line.startswith(b"From ") else line for line in encoded.split(b"\n")]
    return _TEXT_PART_HEADER + b"\r\n" + b"\r\n".join(lines)


class _ParsedPart(MIMENonMultipart):
    """A MIME part parsed as it is, without the headers MIMEBase's constructor would add.

    Django attaches a part as-is only if it is a MIMEBase; anything else it wraps anew.
    """

    def __init__(self, policy: Policy = compat32) -> None:
        Message.__init__(self, policy=policy)  # not MIMEBase.__init__: it adds Content-Type


def sign_email(clear: EmailMessage, *, signer: SecretKey) -> SignedEmail:
    """``clear`` as PGP/MIME signed by ``signer``: readable by anyone, provably from us.

    For reporters without a key: the mail says nothing of the report (see ``reporter_mail``), but
    the signature lets them check that a link or a request really comes from us (phishing that
    imitates a security team is a known attack on researchers).
    """
    signed = canonical_text_part(str(clear.body))
    signature = detached_sign(signed, signer)
    # compat32 re-emits a parsed part's headers and payload as they were: the signed bytes.
    part = BytesParser(_class=_ParsedPart, policy=compat32).parsebytes(signed)
    sig = _part(signature.encode("ascii"), "pgp-signature", "OpenPGP digital signature")
    sig.add_header("Content-Disposition", "attachment", filename="signature.asc")
    return SignedEmail(
        **_outer(clear), attachments=[part, sig], micalg=f"pgp-{signature_hash_name(signature)}"
    )


def message_id(kind: str, uid: object) -> str:
    """A Message-ID fixed by the object it is about, so a resent mail is recognisably the same one."""
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2].strip(">") or "localhost"
    return f"<{kind}.{uid}@{domain}>"


def reporter_mail(
    name: str,
    context: Mapping[str, Any],
    *,
    to: Sequence[str],
    public_key: str | None,
    private: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> EmailMessage:
    """The mail ``emails/<name>/`` for a reporter: encrypted to ``public_key`` when there is one.

    ``context`` may appear in clear mail; ``private`` (report content, replies) is rendered only
    into a mail that is then encrypted. Templates see ``encrypted`` (True/False) and, when a
    stored key could not be used, ``key_unusable``.
    """
    recipient = _usable_key(public_key) if public_key else None
    if recipient is not None:
        full = {**context, **(private or {}), "encrypted": True}
        clear = render_email(name, full, to=to, headers=headers)
        try:
            return encrypt_email(clear, recipient=recipient, signer=get_org_key())
        except KeyRejected as exc:
            # Expired or revoked since it was given. (A problem with our own key is not caught:
            # it must surface and be retried, not quietly downgrade every mail to the clear form.)
            logger.warning(
                "Reporter key unusable for mail %s (%s); sending the clear version", name, exc.reason
            )
    if public_key:
        context = {**context, "key_unusable": True}
    clear = render_email(name, {**context, "encrypted": False}, to=to, headers=headers)
    return sign_email(clear, signer=get_org_key())


def _usable_key(armored: str) -> PublicKey | None:
    """The stored key, or None if it can no longer be read (a newer engine may refuse an old key)."""
    try:
        return load_public_key(armored)
    except OpenPGPError as exc:
        logger.warning(
            "Stored reporter key unreadable (%s); sending the clear version", exc.reason or "error"
        )
        return None
