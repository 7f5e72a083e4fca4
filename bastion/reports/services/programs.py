"""Programs and assets: the terms reports are worked under, changed by admins only."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from bastion.accounts.models import User
from bastion.accounts.permissions import is_admin
from bastion.audit.events import Event
from bastion.audit.services import record
from bastion.reports.models import DEFAULT_TARGETS, Asset, Program, Severity
from bastion.reports.working_time import validate_business_hours, validate_holidays

# An hour is the unit; ten years is past any target anyone means (and fits Clock.target_seconds).
MAX_TARGET_HOURS = 24 * 365 * 10


def check_terms(program: Program) -> None:
    """ValidationError keyed by field unless ``program``'s targets, hours and bounty table hold."""
    errors: dict[str, list[str]] = {}
    for name, value in program.targets.items():
        values = value.values() if isinstance(value, dict) else [value]
        if name not in DEFAULT_TARGETS or any(not _is_hours(v) for v in values):
            errors.setdefault("targets", []).append(
                f"{name}: a target is a number of hours between 1 and {MAX_TARGET_HOURS:,}."
            )
    for field, check in (("business_hours", validate_business_hours), ("holidays", validate_holidays)):
        try:
            check(getattr(program, field))
        except ValueError as error:
            errors.setdefault(field, []).append(str(error))
    for severity, bounds in program.bounty_table.items():
        if severity not in Severity.values or not _is_range(bounds):
            errors.setdefault("bounty_table", []).append(
                f"{severity}: a bounty range is [minimum, maximum], both 0 or more, minimum first."
            )
    if len(program.currency) != 3 or not program.currency.isalpha() or not program.currency.isupper():
        errors.setdefault("currency", []).append("Use a three-letter ISO 4217 code such as USD or EUR.")
    if program.needs_info_warn_hours >= program.needs_info_close_hours:
        errors.setdefault("needs_info_warn_hours", []).append(
            "The reporter is warned before the report is closed: warn sooner than you close."
        )
    if errors:
        raise ValidationError(errors)


def _is_hours(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 1 <= value <= MAX_TARGET_HOURS


def _is_range(bounds: object) -> bool:
    if not isinstance(bounds, list | tuple) or len(bounds) != 2:
        return False
    low, high = (Decimal(str(b)) if isinstance(b, int | float | str) else None for b in bounds)
    return low is not None and high is not None and 0 <= low <= high


def save_program(*, program: Program, actor: User) -> Program:
    """Create or update ``program`` (admins only), after :func:`check_terms`; audited.

    The new terms apply to clocks started from now on; running clocks keep the target they were
    started with, so a report's due time never jumps because someone edited the settings.
    """
    if not is_admin(actor):
        raise PermissionDenied("Only admins change a program's terms.")
    check_terms(program)
    with transaction.atomic():
        program.save()
        data = {
            "program": program.slug,
            "offers_bounty": program.offers_bounty,
            "calendar": program.business_hours is None,
        }
        record(event=Event.PROGRAM_UPDATED, actor=actor, target=program, data=data)
    return program


def save_asset(*, asset: Asset, actor: User) -> Asset:
    """Create or update ``asset`` (admins only). Archived: kept on old reports, not offered."""
    if not is_admin(actor):
        raise PermissionDenied("Only admins change the list of assets.")
    with transaction.atomic():
        asset.save()
        data = {"asset": asset.name, "program": asset.program.slug, "archived": asset.archived}
        record(event=Event.ASSET_SAVED, actor=actor, target=asset, data=data)
    return asset
