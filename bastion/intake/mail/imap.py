"""Polling a hosted security@ mailbox over IMAP (imap-tools): each message in, and only then out of the way.

Per message, in this order: read its size, fetch its bytes with ``BODY.PEEK[]`` (nothing marked
read), ``receive_email`` (returns after commit), and only then move it to the done folder. A crash
between commit and move leaves it in place; the next poll offers it again and the core recognises
its Message-ID. Nothing is ever deleted:

- committed: moved to ``BASTION_IMAP_DONE_FOLDER``;
- refused (too big, ``MailRefused``): moved to ``BASTION_IMAP_REFUSED_FOLDER`` for staff to see;
  there is no envelope sender to bounce to;
- ``TemporaryMailFailure`` or an unexpected error: left untouched for the next poll. The poll goes
  on with the next message, so one message the core keeps failing on cannot hold up the rest.

Moving needs the server's MOVE (RFC 6851). imap-tools would otherwise copy and then EXPUNGE the
whole folder, which also removes messages someone else marked deleted; without MOVE (or with an
empty folder setting) the message is flagged instead, ``\\Seen`` when done and ``\\Seen \\Flagged``
when refused, and later polls skip seen mail. The capability is asked for again after login: imaplib
keeps the list from before login, which on Dovecot lacks MOVE.

The raw bytes are the server's, as fetched: imap-tools' ``MailMessage`` keeps only a parsed copy,
and re-serialising it changes headers and breaks signatures (STACK-NOTES.md, Mail).
"""

from __future__ import annotations

import logging
import re
import ssl
from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from imap_tools import BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import MailboxFolderCreateError
from imap_tools.utils import encode_folder

from bastion.intake.mail import receive
from bastion.intake.mail.receive import MailRefused, MailSource, TemporaryMailFailure

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 60
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")

Disposition = Literal["received", "refused", "deferred"]


@dataclass
class PollResult:
    """How many messages went which way in one poll (logged, and returned by the task)."""

    received: int = 0
    refused: int = 0
    deferred: int = 0


def poll_mailbox() -> PollResult:
    """Receive up to ``BASTION_IMAP_BATCH`` waiting messages from ``BASTION_IMAP_FOLDER``.

    Connection and login errors propagate (the task fails visibly and the next poll retries); errors
    about one message never do.
    """
    result = PollResult()
    with _connect() as mailbox:
        mailbox.login(settings.IMAP_USER, settings.IMAP_PASSWORD, initial_folder=None)
        listed = mailbox.folder.list("", "INBOX")
        # Settings write "/" between levels; the server may use another delimiter (Dovecot: ".").
        delimiter = listed[0].delim if listed and listed[0].delim not in ("", "NIL") else "/"
        mailbox.folder.set(settings.IMAP_FOLDER.replace("/", delimiter))
        can_move = _has_capability(mailbox, "MOVE")
        done = _prepare_folder(mailbox, settings.IMAP_DONE_FOLDER, delimiter) if can_move else None
        refused = _prepare_folder(mailbox, settings.IMAP_REFUSED_FOLDER, delimiter) if can_move else None
        # Moved-away mail is gone from the folder, so everything left is waiting. Flagged mail stays,
        # so then only unseen mail is waiting. Deleted-but-not-expunged mail is someone's to expunge.
        criteria = "UNDELETED" if done and refused else "UNSEEN UNDELETED"
        # No CHARSET in the search: the criteria are plain keywords, and some servers reject one.
        for uid in mailbox.uids(criteria, charset=None)[: settings.IMAP_BATCH]:
            outcome = _receive_one(mailbox, uid)
            if outcome == "received":
                result.received += 1
                _put_away(mailbox, uid, done, flags=r"\Seen")
            elif outcome == "refused":
                result.refused += 1
                _put_away(mailbox, uid, refused, flags=r"\Seen \Flagged")
            else:
                result.deferred += 1
    if result.received or result.refused or result.deferred:
        logger.info(
            "IMAP poll: %d received, %d refused, %d left for the next poll",
            result.received,
            result.refused,
            result.deferred,
        )
    return result


def _connect() -> BaseMailBox:
    host, port = settings.IMAP_HOST, settings.IMAP_PORT
    if settings.IMAP_SECURITY == "plain":  # loopback only; settings refuse it for other hosts
        return MailBoxUnencrypted(host, port, timeout=TIMEOUT_SECONDS)
    # Verified against the system CAs (or BASTION_IMAP_CA_FILE), host name included.
    context = ssl.create_default_context(cafile=settings.IMAP_CA_FILE or None)
    if settings.IMAP_SECURITY == "starttls":
        return MailBoxStartTls(host, port, timeout=TIMEOUT_SECONDS, ssl_context=context)
    return MailBox(host, port, timeout=TIMEOUT_SECONDS, ssl_context=context)


def _has_capability(mailbox: BaseMailBox, name: str) -> bool:
    status, data = mailbox.client.capability()
    return status == "OK" and name.encode() in (data[0] or b"").upper().split()


def _prepare_folder(mailbox: BaseMailBox, name: str, delimiter: str) -> str | None:
    """The folder's name on this server, created if missing; None if unset or not creatable."""
    if not name:
        return None
    server_name = name.replace("/", delimiter)
    if not mailbox.folder.exists(server_name):
        try:
            mailbox.folder.create(server_name)
        except MailboxFolderCreateError:
            # Not allowed to make folders here: flag instead of moving, and keep the mail flowing.
            logger.warning("IMAP folder %r could not be created; flagging messages instead", server_name)
            return None
        # Subscribed, so that the mail clients staff use show it.
        mailbox.folder.subscribe(server_name, True)
    return server_name


def _receive_one(mailbox: BaseMailBox, uid: str) -> Disposition:
    """Hand one message to ``receive_email``; say what to do with it."""
    try:
        sizes = [
            _SIZE.search(part) for part in _fetch(mailbox, uid, "RFC822.SIZE") if isinstance(part, bytes)
        ]
        size = next((int(match.group(1)) for match in sizes if match), None)
        if size is not None and size > settings.MAIL_MAX_BYTES:
            # Not even downloaded. Staff find it in the refused folder.
            logger.warning("IMAP message uid %s is over the size limit (%d bytes); put aside", uid, size)
            return "refused"
        raw = next((part[1] for part in _fetch(mailbox, uid, "BODY.PEEK[]") if isinstance(part, tuple)), None)
        if size is None or raw is None:
            return "deferred"  # gone meanwhile (another poll, or a person, moved it)
        receive.receive_email(raw, source=MailSource.IMAP)
    except MailRefused:
        logger.warning("IMAP message uid %s was refused; put aside", uid)
        return "refused"
    except TemporaryMailFailure:
        return "deferred"
    except Exception as exc:
        # Not committed: it stays, and the next poll tries again.
        receive.log_fault(logger, f"IMAP message uid {uid}", exc, then="left for the next poll")
        return "deferred"
    return "received"


def _fetch(mailbox: BaseMailBox, uid: str, item: str) -> list[bytes | tuple[bytes, bytes]]:
    """The parts of a UID FETCH answer; none for a message that is no longer there."""
    status, data = mailbox.client.uid("FETCH", uid, f"({item})")
    return [part for part in data if part] if status == "OK" else []


def _put_away(mailbox: BaseMailBox, uid: str, folder: str | None, *, flags: str) -> None:
    """Move the message to ``folder``, or flag it when there is none.

    If the server says no (the folder was deleted meanwhile), the message stays where it is: the
    next poll offers it again and the core answers DUPLICATE for a Message-ID it has. A dropped
    connection ends the poll the same way.
    """
    if folder:
        # imaplib passes bytes arguments through; encode_folder quotes and UTF-7-encodes the name.
        status, _ = mailbox.client.uid("MOVE", uid, encode_folder(folder))  # type: ignore[arg-type]
    else:
        # Straight STORE, not imap-tools' flag(): that one EXPUNGEs the folder afterwards.
        status, _ = mailbox.client.uid("STORE", uid, "+FLAGS", f"({flags})")
    if status != "OK":
        logger.warning("IMAP message uid %s could not be put away (server said %s)", uid, status)
