"""Test personas (DESIGN.md §1) and helpers to turn them into staff accounts with MFA.

- **rita** reports vulnerabilities; **erin** is a customer under attack; **uma** maintains an upstream
  project. None of them has an account: they are plain ``Persona`` records (name, e-mail).
- **alice** and **bob** are triagers on the same team; **charlie** is a viewer on another team;
  **dave** is the security lead (admin). ``make_staff("alice")`` creates the account, with an
  authenticator app whose secret is fixed per persona, so ``totp_code(user)`` can answer MFA.

Never import this module outside tests.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage as MIMEEntity
from typing import TypeVar

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value
from allauth.mfa.utils import decrypt
from django.core.mail import EmailMessage
from django.db import connections

from bastion.accounts.models import Role, User

T = TypeVar("T")

# Long enough for the password validators (min 12, not common, not numeric, not like the e-mail).
PASSWORD = "plum-lantern-orbit-47"
TOTP_PERIOD = 30  # seconds; allauth's default (MFA_TOTP_PERIOD)
# Where tests that stop the clock (the ``clock`` fixture) start: a Monday, 09:00 UTC.
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Persona:
    """Someone from the design's cast. ``role`` is None for people without a staff account."""

    name: str
    email: str
    full_name: str
    role: Role | None = None


PERSONAS: dict[str, Persona] = {
    persona.name: persona
    for persona in [
        Persona("rita", "rita@researcher.example", "Rita Researcher"),
        Persona("alice", "alice@bastion.example", "Alice Triager", Role.TRIAGER),
        Persona("bob", "bob@bastion.example", "Bob Triager", Role.TRIAGER),
        Persona("charlie", "charlie@bastion.example", "Charlie Otherteam", Role.VIEWER),
        Persona("dave", "dave@bastion.example", "Dave Lead", Role.ADMIN),
        Persona("erin", "erin@customer.example", "Erin Customer"),
        Persona("uma", "uma@upstream.example", "Uma Maintainer"),
    ]
}
rita = PERSONAS["rita"]
erin = PERSONAS["erin"]
uma = PERSONAS["uma"]


def totp_secret(name: str) -> str:
    """A fixed base32 TOTP secret per persona, so a failing test can be replayed by hand."""
    return base64.b32encode(hashlib.sha256(f"bastion persona {name}".encode()).digest()[:20]).decode("ascii")


def make_staff(name: str, *, mfa: bool = True, password: str = PASSWORD) -> User:
    """Create the staff persona ``name`` (alice, bob, charlie, dave), with TOTP unless ``mfa=False``."""
    persona = PERSONAS[name]
    if persona.role is None:
        raise ValueError(f"{name} has no staff account in the design: use the Persona record instead")
    user = User.objects.create_user(persona.email, password, full_name=persona.full_name, role=persona.role)
    if mfa:
        # allauth's own API, so the stored row is exactly what enrolment through the UI makes.
        TOTP.activate(user, totp_secret(name))
    return user


def totp_code(user: User, *, at: float | None = None) -> str:
    """The code ``user``'s authenticator app shows now (or at the Unix time ``at``).

    allauth refuses a code that was already accepted in the same period, so a test that needs two
    codes in a row passes ``at=time.time() + 30`` for the second (allauth accepts one period of
    drift either way).
    """
    authenticator = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP)
    secret = decrypt(authenticator.data["secret"])
    counter = int(time.time() if at is None else at) // TOTP_PERIOD
    return format_hotp_value(hotp_value(secret, counter))


def run_at_once(action: Callable[[], T], *, times: int) -> list[T]:
    """Call ``action`` from ``times`` threads released together; their results, or the first error.

    For race tests: a barrier lines the threads up so they really overlap, and each closes its own
    database connections at the end (Django opens one per thread, and a test database with open
    connections cannot be dropped).
    """
    start = threading.Barrier(times)
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            results.append(action())
        except BaseException as exc:  # reported to the calling thread below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def mail_text(message: EmailMessage) -> str:
    """The readable text of a mail we sent, as the recipient's client shows it.

    Clear mail to reporters is PGP/MIME signed (``multipart/signed``), so its text is in the first
    part, not in ``message.body``. Reading the wire form also checks that it parses.
    """
    parsed = message_from_bytes(message.message().as_bytes(), policy=policy.default)
    assert isinstance(parsed, MIMEEntity)
    # get_body() does not look inside multipart/signed: walk to the first text part instead.
    part = next((p for p in parsed.walk() if p.get_content_type() == "text/plain"), None)
    assert isinstance(part, MIMEEntity), "the mail has no text part"
    return str(part.get_content())
