"""Every staff page, for every persona: found by walking the URL map, so a new view is covered at once.

The hand-written matrix in ``test_access.py`` checks what each refusal leaves untouched; this one
checks that no view in the ``triage`` namespace forgets its guard. Anonymous visitors are sent to
sign in, viewers (charlie) are refused, triagers (alice) reach everything but the admin pages,
and admins (dave) reach everything. "Reach" means the guard let the request through: the view may
still answer 400, 404 or 405 to an empty request, which is its own business.
"""

from __future__ import annotations

import uuid

from django.http import HttpResponse
from django.urls import URLPattern, URLResolver, get_resolver, reverse

ADMIN_ONLY = {
    "programs",
    "program_new",
    "program_edit",
    "asset_new",
    "asset_edit",
    "deletion_approve",
    "deletion_refuse",
    "vault",
    "vault_backup_now",
}


def triage_patterns() -> list[URLPattern]:
    resolver = next(
        entry
        for entry in get_resolver().url_patterns
        if isinstance(entry, URLResolver) and entry.namespace == "triage"
    )
    return [entry for entry in resolver.url_patterns if isinstance(entry, URLPattern) and entry.name]


def kwargs_for(pattern: URLPattern, tracking_id: str) -> dict[str, object]:
    values: dict[str, object] = {}
    for name, converter in pattern.pattern.converters.items():
        kind = type(converter).__name__
        values[name] = {"UUIDConverter": uuid.uuid4(), "IntConverter": 1}.get(kind, tracking_id)
    return values


NAMES = sorted(pattern.name for pattern in triage_patterns() if pattern.name)


def url_for(name: str, report) -> str:
    pattern = next(p for p in triage_patterns() if p.name == name)
    return reverse(f"triage:{name}", kwargs=kwargs_for(pattern, report.tracking_id))


def answers(client, report, methods=("get", "post")) -> dict[tuple[str, str], HttpResponse]:
    """(name, method) → response, for every page. One report and one sign-in serve them all."""
    return {(name, m): getattr(client, m)(url_for(name, report)) for name in NAMES for m in methods}


def test_the_matrix_knows_every_admin_page():
    assert set(NAMES) >= ADMIN_ONLY


def test_it_rejects_anonymous_visitors_with_a_sign_in_redirect(client, report):
    login = reverse("account_login")
    let_through = [
        key
        for key, response in answers(client, report).items()
        if response.status_code != 302 or not response["Location"].startswith(login)
    ]

    assert let_through == []


def test_it_rejects_viewers(client_as, charlie, report):
    let_through = [
        key for key, response in answers(client_as(charlie), report).items() if response.status_code != 403
    ]

    assert let_through == []


def test_triagers_reach_every_page_but_the_admin_ones(client_as, alice, report):
    results = answers(client_as(alice), report, methods=("get",))

    refused = [name for (name, _), response in results.items() if response.status_code in {302, 403}]
    assert sorted(refused) == sorted(ADMIN_ONLY)


def test_admins_reach_every_page(client_as, dave, report):
    results = answers(client_as(dave), report, methods=("get",))

    assert [name for (name, _), response in results.items() if response.status_code in {302, 403}] == []
