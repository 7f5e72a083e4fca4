"""security.txt (RFC 9116) as text: its fields, from settings, and the body that gets signed.

Pure: no database, no key. :mod:`bastion.disclosure.services.securitytxt` decides when to sign a
new one (and signs it with the org key); this module only says what it contains.

The fields, in the order RFC 9116's own example uses:

- ``Contact``: the security mailbox (``mailto:``), then the report form: mail first, because a
  researcher who has our key can encrypt to it (§2.5.3);
- ``Expires``: when the file must no longer be trusted (``BASTION_SECURITY_TXT_DAYS`` after signing,
  never past the org key's own expiry), in UTC, ``Z``-suffixed ISO 8601 (§2.5.5);
- ``Encryption``: the org key; ``Acknowledgments``: the Hall of Thanks; ``Policy``: the policy page;
- ``Preferred-Languages``: ``BASTION_SECURITY_TXT_LANGUAGES``;
- ``Canonical``: where it is served, which a signed file should state (§2.5.2), so a copy served
  elsewhere is recognisably out of place;
- ``CSAF``: the provider metadata of our CSAF advisories (CSAF 2.0 §7.1.8).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.urls import reverse

# Where the CSAF provider metadata is served (CSAF 2.0 §7.1.1's well-known path).
CSAF_PROVIDER_METADATA = "/.well-known/csaf/provider-metadata.json"


@dataclass(frozen=True)
class SecurityTxtFields:
    """What a security.txt says, apart from its Expires (which each signing sets)."""

    contacts: tuple[str, ...]
    encryption: str
    acknowledgments: str
    policy: str
    preferred_languages: tuple[str, ...]
    canonical: str
    csaf: str
    site_name: str
    key_fingerprint: str


def security_address() -> str:
    """The address researchers write to: the sender address, or else the first mailbox intake reads."""
    return str(settings.DEFAULT_FROM_EMAIL or settings.MAIL_ADDRESSES[0])


def _url(path: str) -> str:
    return f"{settings.BASE_URL.rstrip('/')}{path}"


def fields_from_settings(*, key_fingerprint: str) -> SecurityTxtFields:
    """The fields as the current settings make them; ``key_fingerprint`` is named in a comment."""
    return SecurityTxtFields(
        contacts=(f"mailto:{security_address()}", _url(reverse("intake:report"))),
        encryption=_url(reverse("intake:security_key")),
        acknowledgments=_url(reverse("disclosure:thanks")),
        policy=_url(reverse("intake:policy")),
        preferred_languages=tuple(settings.SECURITY_TXT_LANGUAGES),
        canonical=_url(reverse("disclosure:security_txt")),
        csaf=_url(CSAF_PROVIDER_METADATA),
        site_name=str(settings.SITE_NAME),
        key_fingerprint=key_fingerprint,
    )


def format_expires(moment: datetime) -> str:
    """``2026-05-24T10:00:00Z``: the ISO 8601 form RFC 9116 asks for, always in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_body(fields: SecurityTxtFields, *, expires: datetime) -> str:
    """The unsigned security.txt, each line ending in LF (the last one too, as RFC 9116 requires)."""
    # A comment never starts with "-": the cleartext signature would dash-escape it.
    lines = [
        f"# Security contacts of {fields.site_name}. Signed with our OpenPGP key",
        f"# {fields.key_fingerprint} (see Encryption); check it with gpg --verify.",
        *(f"Contact: {contact}" for contact in fields.contacts),
        f"Expires: {format_expires(expires)}",
        f"Encryption: {fields.encryption}",
        f"Acknowledgments: {fields.acknowledgments}",
        f"Policy: {fields.policy}",
        f"Preferred-Languages: {', '.join(fields.preferred_languages)}",
        f"Canonical: {fields.canonical}",
        f"CSAF: {fields.csaf}",
    ]
    return "\n".join(lines) + "\n"


def body_sha256(body: str) -> str:
    """The digest kept beside a signed security.txt, to notice when settings would change its body."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()
