"""Mail to reporters: rendered from templates, and OpenPGP-encrypted (PGP/MIME) when we have their key.

Encrypted mail is RFC 3156 PGP/MIME, built with the stdlib ``email`` package and Django's own
message class: a ``multipart/encrypted; protocol="application/pgp-encrypted"`` with the version
part (``Version: 1``) and the armored message. Inside the encryption is a complete MIME entity
(``text/plain``, UTF-8, quoted-printable, CRLF) carrying the subject as a protected header. It is
signed by the org key and encrypted in one pass (``lib.openpgp.encrypt``), the combined form RFC
3156 §6.2 allows; the tests decrypt and verify it with gpg 2.2.

Rules that keep report content out of clear mail: templates never see report content unless the
mail will be encrypted (the ``private`` context is rendered only then), and a key that can no
longer be used (expired, revoked since it was given) makes the mail fall back to the clear
version, which says only that there is something to read in the portal.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from email import policy
from email.encoders import encode_7or8bit
from email.message import EmailMessage as MIMEEntity
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage

from bastion.lib.emails import render_email
from bastion.lib.openpgp import KeyRejected, OpenPGPError, PublicKey, SecretKey, encrypt, load_public_key
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
    return EncryptedEmail(
        subject=clear.subject,
        body="",
        from_email=clear.from_email,
        to=clear.to,
        reply_to=clear.reply_to,
        headers=clear.extra_headers,
        attachments=[version, payload],
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
    return render_email(name, {**context, "encrypted": False}, to=to, headers=headers)


def _usable_key(armored: str) -> PublicKey | None:
    """The stored key, or None if it can no longer be read (a newer engine may refuse an old key)."""
    try:
        return load_public_key(armored)
    except OpenPGPError as exc:
        logger.warning(
            "Stored reporter key unreadable (%s); sending the clear version", exc.reason or "error"
        )
        return None
