"""``bastion lmtp``: take mail from the MTA over LMTP until SIGTERM or Ctrl-C (``bastion run`` starts it)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from bastion.intake.mail.lmtp import serve


class Command(BaseCommand):
    help = "Accept security@ mail over LMTP on BASTION_LMTP_LISTEN (loopback by default)."

    listening = False

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = settings.LMTP_LISTEN
        try:
            asyncio.run(self._serve(host, port))
        except OSError as exc:
            if self.listening:
                raise
            # The port is taken, or the address is not one of this machine's: say which setting.
            raise CommandError(
                f"BASTION_LMTP_LISTEN={host}:{port}: cannot listen there ({exc.strerror})"
            ) from exc

    async def _serve(self, host: str, port: int) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)

        def ready(address: tuple[str, int]) -> None:
            self.listening = True
            shown = f"[{address[0]}]" if ":" in address[0] else address[0]
            self.stdout.write(f"LMTP listening on {shown}:{address[1]}")
            self.stdout.flush()

        await serve(host, port, max_bytes=settings.MAIL_MAX_BYTES, stop=stop, ready=ready)
