"""Who may do what, in one place: role predicates and the view decorators built on them.

Every app asks these questions through this module, so the meaning of a role is defined once.
Anonymous visitors are sent to sign in; signed-in staff without the role get a 403.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from bastion.accounts.models import Role, User

View = TypeVar("View", bound=Callable[..., HttpResponse])
AnyUser = User | AnonymousUser


def has_role(user: AnyUser | None, *roles: Role | str) -> bool:
    """True for an active, signed-in staff member holding one of ``roles``."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return getattr(user, "role", None) in {Role(role) for role in roles}


def is_admin(user: AnyUser | None) -> bool:
    """Security leads: manage the team, see the audit log."""
    return has_role(user, Role.ADMIN)


def is_triager(user: AnyUser | None) -> bool:
    """Work on reports: triagers and admins."""
    return has_role(user, Role.TRIAGER, Role.ADMIN)


def is_staff_member(user: AnyUser | None) -> bool:
    """Any active staff account, whatever its role (viewers included)."""
    return has_role(user, *Role)


def role_required(*roles: Role | str) -> Callable[[View], View]:
    """Decorate a view so only staff with one of ``roles`` reach it.

    Anonymous → redirect to the sign-in page (and back afterwards); wrong role → 403.
    """
    if not roles:
        raise TypeError("role_required() needs at least one role")
    allowed = tuple(Role(role) for role in roles)

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, *allowed):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


admin_required = role_required(Role.ADMIN)
triager_required = role_required(Role.TRIAGER, Role.ADMIN)
