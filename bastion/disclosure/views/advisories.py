"""The staff's advisory pages: list, draft, edit, revisions with diffs, review, schedule, publish.

Thin views: each loads its advisory through ``advisory_for`` first (an advisory about a report the
user may not see is a 404, as the report itself is), validates, calls one service, and redirects
(303) or renders the page again with the form bound, the text kept and the refusal beside it.
Every response is ``never_cache``: these pages hold embargoed, decrypted content.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bastion.accounts.models import User
from bastion.accounts.permissions import is_admin, triager_required
from bastion.disclosure.forms import (
    AdvisoryForm,
    AffectedFormSet,
    NewAdvisoryForm,
    RepublishForm,
    ScheduleForm,
    SendBackForm,
    VersionedForm,
    WithdrawForm,
    affected_initial,
)
from bastion.disclosure.models import Advisory, AdvisoryState
from bastion.disclosure.services.advisories import (
    AdvisoryRejected,
    PublicationBlocked,
    StaleAdvisoryEdit,
    advisories_for,
    advisory_for,
    approve_advisory,
    create_advisory,
    default_publish_at,
    draft_from_reports,
    edit_advisory,
    open_advisory,
    prepublish_checklist,
    publish_advisory,
    review_note,
    revision_diff,
    revisions_of,
    schedule_publication,
    send_back,
    submit_for_review,
    update_published_advisory,
    withdraw_advisory,
)
from bastion.disclosure.services.advisories.rules import describe_affected
from bastion.disclosure.views._shared import client_ip
from bastion.lib.markdown import render_markdown
from bastion.reports.access import visible_reports
from bastion.reports.cwe import cwe_name

PAGE_SIZE = 100


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # triager_required let only staff through
    return request.user


def _to_page(advisory: Advisory, anchor: str = "") -> HttpResponse:
    """303 See Other to the advisory's page: a reload after a POST must not post again."""
    url = reverse("disclosure_staff:advisory", args=[advisory.identifier])
    return HttpResponseRedirect(f"{url}#{anchor}" if anchor else url, status=303)


def _refusal(form: Form, error: AdvisoryRejected | StaleAdvisoryEdit) -> None:
    """Put a service's refusal beside the field it names, or above the form."""
    field = getattr(error, "field", None)
    form.add_error(field if field in form.fields else None, error.messages)


@never_cache
@triager_required
@require_GET
def advisory_list(request: HttpRequest) -> HttpResponse:
    """The advisories the user may see (those whose every report they may see), newest first.

    Drafts show clear metadata only (identifier, state, reports, dates): opening each title would
    be an audited read per row. A published advisory shows its public title.
    """
    rows = list(
        advisories_for(request.user).select_related("created_by").prefetch_related("reports")[:PAGE_SIZE]
    )
    return render(request, "disclosure/advisory_list.html", {"advisories": rows})


@never_cache
@triager_required
@require_http_methods(["GET", "POST"])
def advisory_new(request: HttpRequest) -> HttpResponse:
    """Draft an advisory from reports picked by tracking ID (``?reports=ABCD-1234`` fills the field)."""
    if request.method == "POST":
        form = NewAdvisoryForm(request.POST)
        if form.is_valid():
            ids = form.cleaned_data["reports"]
            found = {r.tracking_id: r for r in visible_reports(request.user).filter(tracking_id__in=ids)}
            missing = [tracking_id for tracking_id in ids if tracking_id not in found]
            if missing:
                form.add_error("reports", f"No report {', '.join(missing)} that you may see: check the IDs.")
            else:
                reports = [found[tracking_id] for tracking_id in ids]
                try:
                    content = draft_from_reports(reports, request.user, ip=client_ip(request))
                    advisory = create_advisory(
                        reports=reports, content=content, actor=request.user, ip=client_ip(request)
                    )
                except AdvisoryRejected as error:
                    _refusal(form, error)
                else:
                    messages.success(
                        request, f"{advisory.identifier} drafted. Write it, then submit it for review."
                    )
                    url = reverse("disclosure_staff:advisory_edit", args=[advisory.identifier])
                    return HttpResponseRedirect(url, status=303)
        return render(request, "disclosure/advisory_new.html", {"form": form}, status=400)
    form = NewAdvisoryForm(initial={"reports": request.GET.get("reports", "")[:2000]})
    return render(request, "disclosure/advisory_new.html", {"form": form})


def _detail_context(request: HttpRequest, advisory: Advisory, bound: dict[str, Form]) -> dict[str, Any]:
    content = open_advisory(advisory=advisory, actor=request.user, ip=client_ip(request))
    user = _user(request)
    now = timezone.now()
    version = {"version": advisory.version}
    forms: dict[str, Form] = {
        "send_back": SendBackForm(initial=version),
        "schedule": ScheduleForm(initial={**version, "publish_at": _local_input(advisory, now)}),
        "republish": RepublishForm(initial=version),
        "withdraw": WithdrawForm(initial=version),
        "action": VersionedForm(initial=version),
    }
    forms.update(bound)
    # The checklist matters while a publication is ahead: the first one, or an update in review.
    settled = advisory.state == AdvisoryState.PUBLISHED or advisory.state == AdvisoryState.WITHDRAWN
    return {
        "advisory": advisory,
        "content": content,
        "affected_lines": [describe_affected(item) for item in content.affected],
        "cwe_name": cwe_name(content.cwe_id),
        "description_html": render_markdown(content.description, top_heading=4),
        "workaround_html": render_markdown(content.workaround, top_heading=4),
        "reports": list(advisory.reports.order_by("received_at")),
        "revisions": revisions_of(advisory),
        "changes": list(advisory.changes.all()),
        "checklist": None if settled else prepublish_checklist(advisory, now=now),
        "review_note": review_note(advisory=advisory, actor=user)
        if advisory.state == AdvisoryState.DRAFT
        else "",
        "default_publish_at": default_publish_at(advisory, now=now),
        "is_admin": is_admin(user),
        "forms": forms,
        "user_zone": user.time_zone,
    }


def _local_input(advisory: Advisory, now: Any) -> Any:
    """The schedule form's starting value: the planned instant, else the default one, in the viewer's zone."""
    at = advisory.publish_at or default_publish_at(advisory, now=now)
    return timezone.localtime(at).replace(second=0, microsecond=0, tzinfo=None)


def render_detail(
    request: HttpRequest, advisory: Advisory, *, bound: dict[str, Form] | None = None, status: int = 200
) -> HttpResponse:
    """The advisory's page, with any bound form shown again (its text kept, its errors beside it)."""
    context = _detail_context(request, advisory, bound or {})
    return render(request, "disclosure/advisory_detail.html", context, status=status)


@never_cache
@triager_required
@require_GET
def advisory_detail(request: HttpRequest, identifier: str) -> HttpResponse:
    """One advisory: its content (an audited read), state, checklist, revisions, change log and actions."""
    advisory = advisory_for(request.user, identifier)
    return render_detail(request, advisory)


@never_cache
@triager_required
@require_http_methods(["GET", "POST"])
def advisory_edit(request: HttpRequest, identifier: str) -> HttpResponse:
    """Edit every field; saving makes the next revision. A stale save is refused with the text kept."""
    advisory = advisory_for(request.user, identifier)
    status = 200
    if request.method == "POST":
        form = AdvisoryForm(request.POST)
        rows = AffectedFormSet(request.POST, prefix="affected")
        if form.is_valid() and rows.is_valid():
            affected = [row.to_package() for row in rows]
            try:
                edit_advisory(
                    advisory=advisory,
                    content=form.to_content(affected),
                    actor=request.user,
                    seen_version=form.cleaned_data["version"],
                    ip=client_ip(request),
                )
            except StaleAdvisoryEdit as error:
                # The text stays; the form now carries the current version, so saving again is a
                # deliberate choice to replace the newer revision (which stays in the history).
                data = request.POST.copy()
                current = Advisory.objects.values_list("version", flat=True).get(pk=advisory.pk)
                data["version"] = str(current)
                form = AdvisoryForm(data)
                form.is_valid()
                form.add_error(None, error.messages)
                form.add_error(None, "Save again to replace their revision with yours (theirs is kept).")
                status = 409
            except AdvisoryRejected as error:
                _refusal(form, error)
                status = 400
            else:
                messages.success(request, f"{advisory.identifier} saved as a new revision.")
                return _to_page(advisory)
        else:
            status = 400
    else:
        content = open_advisory(advisory=advisory, actor=request.user, ip=client_ip(request))
        form = AdvisoryForm(initial=AdvisoryForm.initial_for(content, advisory.version))
        rows = AffectedFormSet(initial=affected_initial(content), prefix="affected")
    context = {"advisory": advisory, "form": form, "rows": rows}
    return render(request, "disclosure/advisory_edit.html", context, status=status)


@never_cache
@triager_required
@require_GET
def advisory_revisions(request: HttpRequest, identifier: str) -> HttpResponse:
    """The revisions, and the diff between two of them (``?a=1&b=3``; default: the last two)."""
    advisory = advisory_for(request.user, identifier)
    revisions = revisions_of(advisory)
    numbers = [r.number for r in revisions]
    latest = numbers[0]
    a, b = _number(request.GET.get("a"), max(latest - 1, 1)), _number(request.GET.get("b"), latest)
    diffs, error, status = [], "", 200
    if a != b:
        try:
            diffs = revision_diff(advisory, a, b, request.user, ip=client_ip(request))
        except AdvisoryRejected as refused:
            error, status = refused.messages[0], 400
    context = {"advisory": advisory, "revisions": revisions, "a": a, "b": b, "diffs": diffs, "error": error}
    return render(request, "disclosure/advisory_revisions.html", context, status=status)


def _number(value: str | None, default: int) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


# A step runs one service on the advisory with the POSTed form's cleaned data and says what it did.
AdvisoryStep = Callable[[HttpRequest, Advisory, dict[str, Any]], str]


def _act(
    request: HttpRequest, identifier: str, form_class: type[Form], name: str, step: AdvisoryStep
) -> HttpResponse:
    """Run one service on a POSTed action form; the page again with the refusal if it is refused."""
    advisory = advisory_for(request.user, identifier)
    form = form_class(request.POST)
    status = 400
    if form.is_valid():
        try:
            done = step(request, advisory, form.cleaned_data)
        except StaleAdvisoryEdit as error:
            form.add_error(None, error.messages)
            status = 409
        except PublicationBlocked as blocked:
            form.add_error(
                None, f"Not published: {len(blocked.checklist.failing)} check(s) failed; see the checklist."
            )
            status = 409
        except AdvisoryRejected as error:
            _refusal(form, error)
        else:
            messages.success(request, done)
            return _to_page(advisory, name)
    messages.error(request, "Nothing was changed: see the form below.")
    return render_detail(request, advisory, bound={name: form}, status=status)


def _advisory_action(
    form_class: type[Form], name: str, *, admin_only: str | None = None
) -> Callable[[AdvisoryStep], Callable[[HttpRequest, str], HttpResponse]]:
    """Make a step into an action on the advisory's page: a staff-only, uncached POST view.

    The view answers as :func:`_act` does; the form it reads is ``form_class``, shown as ``name`` on
    the page. ``admin_only`` is the refusal (403) for anyone but the lead, for an action only an
    admin may take; it comes after the 404 of an advisory the user may not see, since a 403 would
    confirm that the advisory exists.
    """

    def view_of(step: AdvisoryStep) -> Callable[[HttpRequest, str], HttpResponse]:
        @never_cache
        @triager_required
        @require_POST
        @functools.wraps(step)
        def view(request: HttpRequest, identifier: str) -> HttpResponse:
            if admin_only is not None:
                advisory_for(request.user, identifier)
                if not is_admin(request.user):
                    raise PermissionDenied(admin_only)
            return _act(request, identifier, form_class, name, step)

        return view

    return view_of


@_advisory_action(VersionedForm, "action")
def advisory_submit(request: HttpRequest, advisory: Advisory, data: dict[str, Any]) -> str:
    """Submit the draft for review by a second staff member."""
    submit_for_review(
        advisory=advisory, actor=request.user, seen_version=data["version"], ip=client_ip(request)
    )
    return f"{advisory.identifier} is in review: a second staff member approves it."


@_advisory_action(VersionedForm, "action")
def advisory_approve(request: HttpRequest, advisory: Advisory, data: dict[str, Any]) -> str:
    """Approve the latest revision (refused to its author and its submitter)."""
    approve_advisory(
        advisory=advisory, actor=request.user, seen_version=data["version"], ip=client_ip(request)
    )
    return f"{advisory.identifier} approved."


@_advisory_action(SendBackForm, "send_back")
def advisory_send_back(request: HttpRequest, advisory: Advisory, data: dict[str, Any]) -> str:
    """Send it back to its author as a draft, with what needs to change."""
    send_back(
        advisory=advisory,
        actor=request.user,
        reason=data["reason"],
        seen_version=data["version"],
        ip=client_ip(request),
    )
    return f"{advisory.identifier} was sent back to its author."


@_advisory_action(ScheduleForm, "schedule")
def advisory_schedule(request: HttpRequest, advisory: Advisory, data: dict[str, Any]) -> str:
    """Plan the publication (default: the embargo's end) and tell the reporters the date."""
    schedule_publication(
        advisory=advisory,
        actor=request.user,
        publish_at=data["publish_at"],
        override_reason=data["override_reason"] or None,
        seen_version=data["version"],
        ip=client_ip(request),
    )
    return f"{advisory.identifier} is planned; its reporters were told the date."


@_advisory_action(VersionedForm, "action")
def advisory_publish(request: HttpRequest, advisory: Advisory, data: dict[str, Any]) -> str:
    """Publish now, if every item of the checklist holds (the scheduled task does the same on time)."""
    if data["version"] != advisory.version:
        raise StaleAdvisoryEdit(advisory, seen=data["version"], reader=_user(request))
    publish_advisory(advisory=advisory, actor=request.user, ip=client_ip(request))
    return f"{advisory.identifier} is published."


@_advisory_action(RepublishForm, "republish")
def advisory_republish(request: HttpRequest, advisory: Advisory, data: dict[str, Any]) -> str:
    """Republish a published advisory (an approved update, or corrected credits) with a public note."""
    update_published_advisory(
        advisory=advisory,
        summary=data["summary"],
        actor=request.user,
        seen_version=data["version"],
        ip=client_ip(request),
    )
    return f"{advisory.identifier} was republished; the change log says so."


@_advisory_action(
    WithdrawForm, "withdraw", admin_only="Only the security lead (an admin) may withdraw an advisory."
)
def advisory_withdraw(request: HttpRequest, advisory: Advisory, data: dict[str, Any]) -> str:
    """Withdraw the advisory, with a public reason (the lead only)."""
    withdraw_advisory(
        advisory=advisory,
        actor=request.user,
        reason=data["reason"],
        seen_version=data["version"],
        ip=client_ip(request),
    )
    return f"{advisory.identifier} was withdrawn."
