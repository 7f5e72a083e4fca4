"""The upstream contact directory: who to hand a flaw to, how, and the OpenPGP key to encrypt it to.

A contact's key is checked when it is saved (``lib.openpgp.parse_public_key``: an expired,
revoked, v6 or encryption-less key is refused with the parser's reason) and its fingerprint and
expiry are stored beside it, so the directory can flag keys about to lapse and a hand-off can
refuse an expired one by date without parsing anything. Keys expire while they sit in the
directory: that is checked again at hand-off time, and shown on the list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from bastion.accounts.models import User
from bastion.accounts.permissions import is_triager
from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.disclosure.handoff import HandoffRefused, clean_url
from bastion.disclosure.models import Channel, UpstreamContact
from bastion.lib.openpgp import KeyRejected, parse_public_key

# The OSV ecosystems (OSV schema 1.7), spelled as OSV spells them: the CSAF and OSV exports read
# the ecosystem to build package URLs, so a misspelt one would silently lose them.
OSV_ECOSYSTEMS = (
    *("AlmaLinux", "Alpine", "Android", "Bioconductor", "Bitnami", "Chainguard", "ConanCenter", "CRAN"),
    *("crates.io", "Debian", "GHC", "GitHub Actions", "Go", "Hackage", "Hex", "Linux", "Mageia"),
    *("Maven", "npm", "NuGet", "openSUSE", "OSS-Fuzz", "Packagist", "Photon OS", "Pub", "PyPI"),
    *("Red Hat", "Rocky Linux", "RubyGems", "SUSE", "SwiftURL", "Ubuntu", "Wolfi"),
)
# A key this close to its expiry is flagged on the list: long enough to ask for a new one.
KEY_WARNING = timedelta(days=30)
MAX_PACKAGES = 200
MAX_NOTES = 5000
# Channels that are a web form or platform: the address of it is how the packet gets there.
URL_CHANNELS = (Channel.HACKERONE, Channel.GITHUB)


@dataclass(frozen=True)
class ContactDetails:
    """What staff enter for an upstream contact (``packages``: one name per line)."""

    project: str
    ecosystem: str = ""
    packages: str = ""
    contact_name: str = ""
    email: str = ""
    public_key: str = ""
    channel: str = Channel.EMAIL
    channel_url: str = ""
    notes: str = ""
    active: bool = True


@dataclass(frozen=True)
class KeyStatus:
    """A contact's key as of now: ``state`` is none, ok, expiring (within KEY_WARNING) or expired."""

    state: str
    expires_at: datetime | None

    @property
    def needs_attention(self) -> bool:
        """Whether the directory should flag it (expired, or about to be)."""
        return self.state in ("expiring", "expired")


def key_status(contact: UpstreamContact, now: datetime | None = None) -> KeyStatus:
    """Where ``contact``'s key stands at ``now``, from the stored expiry (nothing is parsed)."""
    at = now or timezone.now()
    if not contact.key_fingerprint:
        return KeyStatus("none", None)
    expires = contact.key_expires_at
    if expires is None:
        return KeyStatus("ok", None)
    if expires <= at:
        return KeyStatus("expired", expires)
    return KeyStatus("expiring" if expires - at <= KEY_WARNING else "ok", expires)


def directory() -> QuerySet[UpstreamContact]:
    """Every contact, active ones first, by project."""
    return UpstreamContact.objects.order_by("-active", "project", "pk")


def _require_staff(actor: ActorArg) -> None:
    if not (isinstance(actor, User) and is_triager(actor)):
        raise PermissionDenied("Only triagers and admins keep the upstream directory.")


def _clean_packages(value: str) -> str:
    names = []
    for line in value.replace("\r\n", "\n").split("\n"):
        name = line.strip()
        if not name:
            continue
        if any(ch.isspace() for ch in name):
            raise HandoffRefused("packages", f"{name!r} has a space in it: put one package name per line.")
        if len(name) > 200:
            raise HandoffRefused("packages", "A package name is over 200 characters; check the list.")
        if name not in names:
            names.append(name)
    if len(names) > MAX_PACKAGES:
        raise HandoffRefused("packages", f"List at most {MAX_PACKAGES} packages per contact.")
    return "\n".join(names)


def _one_line(value: str, *, field: str, required: bool = False, limit: int = 200) -> str:
    text = " ".join(value.split())
    if required and not text:
        raise HandoffRefused(field, "This field is required.", code="required")
    if len(text) > limit:
        raise HandoffRefused(field, f"This is {len(text):,} characters long; the limit is {limit:,}.")
    return text


def _clean_notes(value: str) -> str:
    """The notes as typed; too long is refused, never cut (cutting would lose what was typed)."""
    text = value.strip()
    if len(text) > MAX_NOTES:
        raise HandoffRefused("notes", f"This is {len(text):,} characters long; the limit is {MAX_NOTES:,}.")
    return text


def _clean_ecosystem(value: str) -> str:
    text = value.strip()
    if not text:
        return ""
    known = {name.lower(): name for name in OSV_ECOSYSTEMS}
    if text.lower() not in known:
        raise HandoffRefused(
            "ecosystem",
            f"{text!r} is not an OSV ecosystem. Use the OSV name (RubyGems, npm, PyPI, Go, crates.io, "
            "Maven, …), or leave it empty for a project that ships no packages.",
        )
    return known[text.lower()]


def _clean_email(value: str) -> str:
    text = value.strip()
    if not text:
        return ""
    try:
        validate_email(text)
    except ValidationError:
        raise HandoffRefused("email", "This is not an email address (name@example.org).") from None
    return text


def _clean_key(contact: UpstreamContact, armored: str) -> tuple[str, str, datetime | None]:
    """The key to store, its fingerprint and expiry. The stored key re-submitted unchanged is kept as
    it is, without re-checking: editing a contact's address must not fail because their key has
    lapsed since (the list flags that, and a hand-off refuses it)."""
    text = armored.strip()
    if not text:
        return "", "", None
    if contact.pk and text == contact.public_key.strip():
        return contact.public_key, contact.key_fingerprint, contact.key_expires_at
    try:
        key = parse_public_key(text)
    except KeyRejected as exc:
        raise HandoffRefused("public_key", f"This key was not saved. {exc}", code=exc.reason) from None
    return key.armored_public(), key.fingerprint, key.expires_at


def clean_contact(contact: UpstreamContact, data: ContactDetails) -> dict[str, object]:
    """The values to store for ``data``, or HandoffRefused naming the first field at fault."""
    channel = str(data.channel)
    if channel not in Channel.values:
        raise HandoffRefused("channel", "Choose one of the listed channels.")
    values: dict[str, object] = {
        "project": _one_line(data.project, field="project", required=True),
        "ecosystem": _clean_ecosystem(data.ecosystem),
        "packages": _clean_packages(data.packages),
        "contact_name": _one_line(data.contact_name, field="contact_name"),
        "email": _clean_email(data.email),
        "channel": channel,
        "channel_url": clean_url(data.channel_url, field="channel_url"),
        "notes": _clean_notes(data.notes),
        "active": bool(data.active),
    }
    armored, fingerprint, expires = _clean_key(contact, data.public_key)
    values.update(public_key=armored, key_fingerprint=fingerprint, key_expires_at=expires)
    if channel == Channel.EMAIL and not values["email"]:
        raise HandoffRefused("email", "Encrypted email needs the address the packet goes to.")
    if channel in URL_CHANNELS and not values["channel_url"]:
        label = Channel(channel).label
        raise HandoffRefused(
            "channel_url", f"{label} needs the address of the upstream's page there, to hand the packet in."
        )
    if channel in (Channel.CERT, Channel.OTHER) and not (values["email"] or values["channel_url"]):
        raise HandoffRefused("channel_url", "Give their address or the web address of their channel.")
    return values


def save_upstream_contact(
    *,
    contact: UpstreamContact | None,
    data: ContactDetails,
    actor: ActorArg,
    seen_updated_at: datetime | None = None,
    ip: str | None = None,
) -> UpstreamContact:
    """Create (``contact=None``) or update an upstream contact; audited UPSTREAM_CONTACT_SAVED.

    Triagers and admins only. ``seen_updated_at`` is when the editor's form was loaded: a contact
    saved by someone else since is a stale edit (ValidationError, code ``stale_edit``), never a
    silent overwrite. A key is parsed and refused with the parser's reason (HandoffRefused naming
    ``public_key``); nothing is saved when anything is refused.
    """
    _require_staff(actor)
    row = contact or UpstreamContact()
    values = clean_contact(row, data)
    with transaction.atomic():
        if row.pk:
            locked = UpstreamContact.objects.select_for_update().get(pk=row.pk)
            if seen_updated_at is not None and locked.updated_at != seen_updated_at:
                raise ValidationError(
                    "Someone else saved this contact while you were editing it. Nothing was saved: "
                    "reload the page, check their change, then make yours again.",
                    code="stale_edit",
                )
        created = row.pk is None
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = timezone.now()
        row.save()
        expires = row.key_expires_at.isoformat() if row.key_expires_at else None
        data_row = {
            "contact": str(row.uid),
            "project": row.project,
            "created": created,
            "channel": row.channel,
            "key_fingerprint": row.key_fingerprint,
            "key_expires_at": expires,
            "active": row.active,
        }
        record(event=Event.UPSTREAM_CONTACT_SAVED, actor=actor, target=row, data=data_row, ip=ip)
    return row
