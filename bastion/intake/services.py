"""Intake services: the policy in force, publishing a new version, and the org key with its audit."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from bastion.accounts.models import User
from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.intake.models import Policy
from bastion.intake.policy_defaults import default_policy_fields
from bastion.lib import lean
from bastion.lib.openpgp import PublicKey, SecretKey
from bastion.vault import orgkey
from bastion.vault.models import OrgKey

# The fields an admin edits; everything else about a version is set by publishing.
POLICY_FIELDS = (
    "title",
    "body",
    "scope",
    "safe_harbor",
    "first_response_hours",
    "triage_days",
    "fix_targets",
)
# Publishing retries when another admin took the same version number a moment earlier.
_PUBLISH_ATTEMPTS = 3


def create_default_policy(model: Any = Policy) -> None:
    """Store the default version 1 unless a version 1 exists. Idempotent and race-safe.

    ``model`` lets the data migration pass its historical model; the text is the same either way.
    """
    try:
        with transaction.atomic():
            model.objects.create(version=1, published_by=None, **default_policy_fields())
    except IntegrityError:
        pass  # version 1 is already there, from the migration or a concurrent caller


def current_policy() -> Policy:
    """The policy in force: the newest version.

    The default version 1 comes from a data migration; should the table be empty anyway (a test
    database flushed between tests), it is recreated here, so the public page never fails.
    """
    policy = Policy.objects.newest()
    if policy is None:
        create_default_policy()
        policy = Policy.objects.newest()
        assert policy is not None
    return policy


def current_policy_version() -> int:
    """The version in force, without loading the policy's text: what each submission records."""
    newest = lean.first(Policy, ["version"], order_by="-version")  # every submission: the lean read
    return newest[0] if newest is not None else current_policy().version


def policy_fields(policy: Policy) -> dict[str, Any]:
    """The editable fields of ``policy``, e.g. to prefill the editor with the version in force."""
    return {name: getattr(policy, name) for name in POLICY_FIELDS}


def publish_policy(
    *,
    actor: User,
    title: str,
    body: str,
    scope: str,
    safe_harbor: str,
    first_response_hours: int,
    triage_days: int,
    fix_targets: str,
    ip: str | None = None,
) -> Policy:
    """Publish a new version of the policy (the newest + 1); earlier versions stay as they were.

    Raises ValidationError if nothing changed: an identical version would only add noise to the
    history reports point into. Race: two admins publishing at once both compute the same next
    number; the unique ``version`` lets one insert win, and the other retries with the next number
    (its text is then published on top, which is what its admin asked for).
    """
    fields = {
        "title": title.strip(),
        "body": body.strip() + "\n",
        "scope": scope.strip() + "\n",
        "safe_harbor": safe_harbor.strip() + "\n",
        "first_response_hours": first_response_hours,
        "triage_days": triage_days,
        "fix_targets": fix_targets.strip() + "\n",
    }
    for attempt in range(_PUBLISH_ATTEMPTS):
        try:
            with transaction.atomic():
                previous = Policy.objects.newest()
                if previous is not None and policy_fields(previous) == fields:
                    raise ValidationError("Nothing changed: this is the version already published.")
                version = previous.version + 1 if previous is not None else 1
                policy = Policy(version=version, published_by=actor, **fields)
                # Field rules only: uniqueness is the database's to enforce atomically (the retry loop).
                policy.full_clean(validate_unique=False, validate_constraints=False)
                policy.save(force_insert=True)
                record(
                    event=Event.POLICY_PUBLISHED,
                    actor=actor,
                    target=policy,
                    data={"version": version, "previous_version": previous.version if previous else None},
                    ip=ip,
                )
                return policy
        except IntegrityError:
            if attempt == _PUBLISH_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _recorder(actor: ActorArg) -> orgkey.OnCreated:
    """An ``on_created`` hook that audits a newly generated org key (inside its transaction)."""

    def audited(row: OrgKey) -> None:
        expires = row.expires_at.isoformat() if row.expires_at else None
        record(
            event=Event.ORG_KEY_GENERATED,
            actor=actor,
            target=row,
            data={
                "fingerprint": row.fingerprint,
                "expires_at": expires,
                "master_version": row.master_version,
            },
        )

    return audited


def ensure_org_key(*, actor: ActorArg = None) -> tuple[SecretKey, bool]:
    """The org key, generated (and audited as ORG_KEY_GENERATED) if there is none yet.

    ``bastion run`` and ``bastion org-key`` call this at start, so the key exists, with its audit
    event, before any request or task needs it. ``actor`` None means Bastion itself.
    """
    return orgkey.ensure_org_key(on_created=_recorder(actor))


def org_public_key() -> PublicKey:
    """The org public key for the public pages; generated (and audited) on first use."""
    return orgkey.get_org_public_key(on_created=_recorder(None))
