"""The LMTP listener (RFC 2033, aiosmtpd): the MTA hands us each message and keeps it until we answer.

LMTP rather than SMTP because it answers once *per recipient* after the data, and because the MTA
keeps its queue: we say 250 only after ``receive_email`` returned (the report is committed), 451 when
it may work later (the MTA retries; nothing is lost), and 5xx with a text the sender can act on.

- RCPT: addresses ``accepts_recipient`` does not know get 550 at once, so the MTA bounces them
  without queueing a message we would refuse anyway.
- DATA: aiosmtpd stops buffering past ``BASTION_MAIL_MAX_BYTES``; the refusal names the limit and
  the web form. Lines may be as long as the limit allows (real reports break RFC 5322's 998). The
  limit is also announced as SIZE, and Postfix then bounces larger mail itself, in its own words
  ("message size ... exceeds size limit ... of server", 5.3.4), without sending it.
- ``receive_email`` is synchronous Django ORM code: it runs in a small thread pool, never in the
  event loop's thread, with the stale-connection cleanup Django does around a request.
- Any unexpected error answers 451 and is logged by class and traceback frames only: exception
  messages can quote mail, and nothing from a message reaches the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import textwrap
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import AnyStr, TypeVar

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.db import close_old_connections, connections

from bastion.intake.mail import receive
from bastion.intake.mail.receive import MailRefused, MailSource, TemporaryMailFailure

logger = logging.getLogger(__name__)

# aiosmtpd logs every sender and recipient address at INFO and whole protocol lines at DEBUG, on
# this logger. Reporter addresses are stored sealed; they must not sit in a log in clear.
logging.getLogger("mail.log").setLevel(logging.WARNING)

# Deliveries run at most this many at a time. More would only queue on the database's write lock.
DELIVERY_THREADS = 4
# On SIGTERM, deliveries in progress get this long to commit and be answered: less than the 15 s
# `bastion run` waits before it kills its children.
DRAIN_SECONDS = 10.0
# aiosmtpd's own replies when a message is over the limit (at MAIL ... SIZE=, or while reading DATA).
_AIOSMTPD_SIZE_REPLIES = (
    "552 Error: message size exceeds fixed maximum",
    "552 Error: Too much mail data",
    "500 Line too long",
)

T = TypeVar("T")


def smtp_reply(code: int, dsn: str, text: str) -> str:
    """One reply, ASCII and wrapped into lines well under RFC 5321's 512 octets.

    Whitespace is collapsed first, so no CR or LF from a bounce text can end the reply early.
    """
    clean = " ".join(text.split()).encode("ascii", "replace").decode("ascii")
    lines = textwrap.wrap(clean, 400) or [""]
    last = len(lines) - 1
    return "\r\n".join(f"{code}{'-' if i < last else ' '}{dsn} {line}" for i, line in enumerate(lines))


def too_big_reply(limit: int) -> str:
    """The refusal for a message over ``limit`` bytes: what happened, and what to do instead."""
    mib = limit / (1024 * 1024)
    size = f"{mib:.0f} MiB" if mib >= 1 else f"{limit // 1024} KiB"
    return smtp_reply(
        552,
        "5.3.4",
        f"Message too big: this address accepts messages of up to {size}. Please send a shorter "
        f"message, or use the report form at {settings.BASE_URL}/security/report to upload files.",
    )


def _with_fresh_connections(func: Callable[[], T]) -> T:
    # What Django does around each request: a pooled thread must not reuse a connection the
    # database closed, nor keep one past CONN_MAX_AGE.
    close_old_connections()
    try:
        return func()
    finally:
        close_old_connections()


def _log_failure(what: str, exc: BaseException) -> None:
    receive.log_fault(logger, what, exc, then="answered 451")


class IntakeHandler:
    """aiosmtpd hooks: recipients checked at RCPT, each recipient's copy received after DATA."""

    def __init__(self, *, max_bytes: int, executor: ThreadPoolExecutor) -> None:
        self.max_bytes = max_bytes
        self.too_big = too_big_reply(max_bytes)
        self.executor = executor
        # Deliveries between DATA's final dot and its replies; shutdown waits for them.
        self.busy = 0
        self.connections: set[asyncio.BaseTransport] = set()

    async def _in_thread(self, func: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, _with_fresh_connections, func)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        try:
            known = receive.accepts_recipient(address)  # settings only: no database, no thread hop
        except Exception as exc:
            _log_failure("Recipient check", exc)
            return smtp_reply(451, "4.3.0", "Temporary failure checking the recipient; try again later")
        if not known:
            return smtp_reply(550, "5.1.1", "No such mailbox here")
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # Within the size limit: aiosmtpd refused anything larger while reading it (see push).
        raw = envelope.original_content or b""
        # RFC 2033 §4.2: one reply per accepted recipient, in RCPT order.
        return "\r\n".join([await self._deliver(raw, recipient) for recipient in envelope.rcpt_tos])

    async def _deliver(self, raw: bytes, recipient: str) -> str:
        """Each recipient is its own delivery: the address may select the channel (security@, urgent@)."""
        try:
            await self._in_thread(
                lambda: receive.receive_email(raw, source=MailSource.LMTP, recipient=recipient)
            )
        except MailRefused as exc:
            return smtp_reply(554, "5.6.0", str(exc) or "Message refused")
        except TemporaryMailFailure:
            return smtp_reply(451, "4.3.0", "Temporary failure; the message will be accepted on a later try")
        except Exception as exc:
            # An error we did not foresee: not committed, so the MTA must keep the message.
            _log_failure("LMTP delivery", exc)
            return smtp_reply(451, "4.3.0", "Temporary failure; the message will be accepted on a later try")
        # Not the outcome: a sender who asks for a success notice would learn whether it counted
        # as a duplicate or a flood.
        return "250 2.0.0 Delivered"

    async def handle_exception(self, error: Exception) -> str:
        # Called by aiosmtpd for errors outside our hooks; its default would put the message in the log
        # and in the reply.
        _log_failure("LMTP session", error)
        return smtp_reply(451, "4.3.0", "Temporary failure; try again later")


class IntakeLMTP(LMTP):
    """aiosmtpd's LMTP server with per-recipient size refusals and lines as long as the size limit."""

    def __init__(self, handler: IntakeHandler, *, loop: asyncio.AbstractEventLoop) -> None:
        # The reader's line limit is also the longest line it buffers, so memory stays bounded by the
        # size limit; aiosmtpd's default of 1001 octets would refuse real mail with long lines.
        self.line_length_limit = handler.max_bytes + 2
        super().__init__(
            handler,
            data_size_limit=handler.max_bytes,
            enable_SMTPUTF8=True,
            # gethostname, not aiosmtpd's default getfqdn: no DNS lookup per connection.
            hostname=socket.gethostname(),
            ident="Bastion LMTP",
            loop=loop,
        )
        self.intake = handler

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.connection = transport
        self.intake.connections.add(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self.intake.connections.discard(self.connection)
        super().connection_lost(error)

    async def smtp_DATA(self, arg: str) -> None:
        self.intake.busy += 1
        try:
            await super().smtp_DATA(arg)
        finally:
            self.intake.busy -= 1

    async def push(self, status: AnyStr) -> None:
        if isinstance(status, str) and status.startswith(_AIOSMTPD_SIZE_REPLIES):
            # aiosmtpd refuses an oversize message itself, with one terse line. After DATA, LMTP
            # owes one reply per recipient (else the client waits for the rest); the sender is owed
            # a reason. rcpt_tos is still filled here, and empty at MAIL.
            count = max(1, len(self.envelope.rcpt_tos)) if self.envelope else 1
            await super().push("\r\n".join([self.intake.too_big] * count))
            return
        await super().push(status)


async def serve(
    host: str,
    port: int,
    *,
    max_bytes: int,
    stop: asyncio.Event,
    ready: Callable[[tuple[str, int]], None],
) -> None:
    """Listen on ``host:port`` until ``stop`` is set, then let deliveries in progress finish.

    ``ready`` is called with the bound address (``port=0`` picks a free one). Deliveries still in
    progress get ``DRAIN_SECONDS`` to commit and be answered.
    """
    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(max_workers=DELIVERY_THREADS, thread_name_prefix="bastion-lmtp")
    handler = IntakeHandler(max_bytes=max_bytes, executor=executor)
    server = await loop.create_server(lambda: IntakeLMTP(handler, loop=loop), host, port)
    try:
        ready(server.sockets[0].getsockname()[:2])
        await stop.wait()
        server.close()
        deadline = loop.time() + DRAIN_SECONDS
        while handler.busy and loop.time() < deadline:
            await asyncio.sleep(0.05)
    finally:
        server.close()
        # Idle sessions end here, and so would a delivery past the deadline: it was not acknowledged,
        # so the MTA offers it again (and the core recognises its Message-ID if it did commit).
        for transport in list(handler.connections):
            transport.close()
        await asyncio.sleep(0.1)  # the closed sessions' tasks finish cancelling
        await server.wait_closed()
        await _close_database_connections(executor)
        executor.shutdown(wait=False)


async def _close_database_connections(executor: ThreadPoolExecutor) -> None:
    """Close the database connection each delivery thread holds (Django keeps one per thread).

    One closing task per thread: each waits at a barrier until all have started, so no thread can
    take two of them. A thread still stuck in a delivery past the drain deadline breaks the barrier
    (the others close theirs anyway) and keeps its connection until the process ends.
    """
    barrier = threading.Barrier(DELIVERY_THREADS)

    def close() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=DRAIN_SECONDS)
        connections.close_all()

    closing = [asyncio.wrap_future(executor.submit(close)) for _ in range(DELIVERY_THREADS)]
    await asyncio.wait(closing, timeout=DRAIN_SECONDS + 1)
