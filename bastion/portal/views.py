"""The reporter's portal: one page per report behind its magic link, and the forms on it.

Each view is reached through :func:`~bastion.portal.http.portal_view`, which checks the link first
(a refusal is the same 404 page whatever was wrong). The reporter acts as
``reporter_actor(report)``, so the reports services see, and audit, who did what. A POST that
succeeds redirects (303) back to the page with a message; one that is refused re-renders the page
with the error beside the field and the text kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bastion.lib.forms import attach_refusal
from bastion.lib.markdown import render_markdown
from bastion.portal.forms import CreditChoiceForm, DeletionForm, PublicKeyForm, ReplyForm, TimeZoneForm
from bastion.portal.http import back_to_report, client_ip, content_disposition, portal_view
from bastion.portal.timeline import public_timeline
from bastion.reports.models import Attachment, AuthorKind, Report, Visibility
from bastion.reports.services import (
    open_attachment,
    open_report,
    portal_token,
    post_message,
    refusal_reason,
    reporter_actor,
    request_deletion,
    tombstone,
    update_reporter,
)
from bastion.reports.services.bounty import reporter_bounty
from bastion.reports.services.credits import reporter_credit
from bastion.reports.uploads import upload_refusals

# The page's sections are <h2>; anything the reporter or staff wrote starts below them.
CONTENT_TOP_HEADING = 3


def _page(request: HttpRequest, report: Report, *, status: int = 200, **bound: forms.Form) -> HttpResponse:
    """The report page, with ``bound`` forms (a refused POST's) in place of the blank ones.

    Opening the report is the audited read (REPORT_VIEWED, scope "reporter", recorded by
    ``open_report`` itself), and it leaves out internal notes and staff-only files. A shredded
    report shows its tombstone instead: nothing is left to open.
    """
    if report.data_key.is_destroyed:
        return _tombstone_page(request, report, status=status)
    opened = open_report(report=report, actor=reporter_actor(report), ip=client_ip(request))
    reporter = opened.reporter
    conversation = [
        {
            "author": "You" if item.message.author_kind == AuthorKind.REPORTER else "Security team",
            "mine": item.message.author_kind == AuthorKind.REPORTER,
            "at": item.message.created_at,
            "html": render_markdown(item.body, top_heading=CONTENT_TOP_HEADING),
            "attachments": item.attachments,
        }
        for item in opened.messages
    ]
    credit = reporter_credit(report=report, actor=reporter_actor(report))
    forms_in_use: dict[str, Any] = {
        "reply_form": ReplyForm(),
        "credit_form": CreditChoiceForm.showing(credit),
        "key_form": PublicKeyForm(),
        "time_zone_form": TimeZoneForm(initial={"time_zone": reporter.time_zone}),
        **bound,
    }
    context = {
        "report": report,
        "token": portal_token(report),
        "title": opened.title,
        "description_html": render_markdown(opened.description, top_heading=CONTENT_TOP_HEADING),
        "status_label": report.get_status_display(),
        "timeline": public_timeline(report),
        # Read within the opening above (the note is opened with its key, no second audit row).
        "bounty": reporter_bounty(opened),
        "conversation": conversation,
        "report_files": opened.attachments,
        "reporter": reporter,
        "refusal_reason": refusal_reason(opened),
        "credit": credit,
        **forms_in_use,
    }
    return render(request, "portal/report.html", context, status=status)


def _tombstone_page(request: HttpRequest, report: Report, *, status: int) -> HttpResponse:
    """What the reporter sees once the report's content was destroyed: its dates, status and timeline."""
    context = {
        "report": report,
        "token": portal_token(report),
        "tombstone": tombstone(report),
        "status_label": report.get_status_display(),
        "timeline": public_timeline(report),
        "reporter": report.reporter,
    }
    return render(request, "portal/report.html", context, status=status)


def _shredded(request: HttpRequest, report: Report) -> HttpResponse | None:
    """The tombstone (410 Gone) for a change to a shredded report, which has no key to seal it with."""
    if not report.data_key.is_destroyed:
        return None
    messages.error(request, "This report's content was destroyed, so nothing more can be added to it.")
    return _tombstone_page(request, report, status=410)


def _file_not_found(request: HttpRequest) -> HttpResponse:
    context = {"status": 404, "title": "File not found", "advice": "This report has no such file."}
    return render(request, "error.html", context, status=404)


@require_GET
@portal_view
def report_page(request: HttpRequest, report: Report) -> HttpResponse:
    """The report's status, timeline, conversation and files, and the reporter's settings."""
    return _page(request, report)


@require_POST
@portal_view
def reply(request: HttpRequest, report: Report) -> HttpResponse:
    """Post the reporter's reply (always visible to the security team) with any files."""
    if (gone := _shredded(request, report)) is not None:
        return gone
    # Reading request.FILES runs the sealed upload handler, which turns away oversized files.
    files = request.FILES
    refusals = upload_refusals(request)
    form = ReplyForm(request.POST, files, refusals=refusals)
    if form.is_valid():
        try:
            post_message(
                report=report,
                body=form.cleaned_data["body"],
                visibility=Visibility.PUBLIC,
                actor=reporter_actor(report),
                attachments=form.incoming_files(),
                ip=client_ip(request),
            )
        except ValidationError as error:
            attach_refusal(form, error)
        else:
            messages.success(request, "Your message was sent to the security team.")
            return back_to_report(report, portal_token(report), anchor="conversation")
    return _page(request, report, status=413 if refusals else 400, reply_form=form)


@require_GET
@portal_view
def download(request: HttpRequest, report: Report, uid: uuid.UUID) -> HttpResponseBase:
    """Stream one of the report's files, decrypted, as a download (never shown inline)."""
    attachment = Attachment.objects.filter(report=report, uid=uid).select_related("message", "report").first()
    # A staff-only file is "not found", like a file of another report: its existence is not news.
    # So is every file of a shredded report: its content is gone.
    if attachment is None or attachment.is_internal or report.data_key.is_destroyed:
        return _file_not_found(request)
    try:
        meta, chunks = open_attachment(
            attachment=attachment, actor=reporter_actor(report), ip=client_ip(request)
        )
    except PermissionDenied:
        return _file_not_found(request)
    # octet-stream whatever the sender claimed, so no browser ever renders a reporter's upload
    # as HTML on our origin; nosniff stops it guessing otherwise.
    response = StreamingHttpResponse(chunks, content_type="application/octet-stream")
    response["Content-Disposition"] = content_disposition(meta.filename)
    response["Content-Length"] = str(meta.size)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
@portal_view
def public_key(request: HttpRequest, report: Report) -> HttpResponse:
    """Set, replace or remove the reporter's OpenPGP key (what our mail to them is encrypted to)."""
    form = PublicKeyForm(request.POST)
    return _update_reporter(
        request,
        report,
        form,
        "key_form",
        changes=lambda: {"public_key": form.key_value()},
        success=lambda: "Your key was saved." if form.key_value() else "Your key was removed.",
        anchor="settings",
    )


@require_POST
@portal_view
def time_zone(request: HttpRequest, report: Report) -> HttpResponse:
    """Change the zone the portal shows dates in."""
    form = TimeZoneForm(request.POST)
    return _update_reporter(
        request,
        report,
        form,
        "time_zone_form",
        changes=lambda: {"time_zone": form.cleaned_data["time_zone"]},
        success=lambda: "Dates are now shown in your time zone.",
        anchor="timeline",
    )


def _update_reporter(
    request: HttpRequest,
    report: Report,
    form: forms.Form,
    form_name: str,
    *,
    changes: Callable[[], dict[str, Any]],
    success: Callable[[], str],
    anchor: str,
) -> HttpResponse:
    """The one shape of every reporter-settings POST: validate, call update_reporter, redirect back.

    A refusal from the service (an expired key, say) lands on the form beside its field, and the
    page is shown again with what the reporter typed.
    """
    if (gone := _shredded(request, report)) is not None:
        return gone
    if form.is_valid():
        try:
            update_reporter(report=report, actor=reporter_actor(report), ip=client_ip(request), **changes())
        except ValidationError as error:
            attach_refusal(form, error)
        else:
            messages.success(request, success())
            return back_to_report(report, portal_token(report), anchor=anchor)
    return _page(request, report, status=400, **{form_name: form})


@require_http_methods(["GET", "POST"])
@portal_view
def deletion(request: HttpRequest, report: Report) -> HttpResponse:
    """Ask for the report to be deleted: a confirmation page (GET), then the request (POST)."""
    if report.data_key.is_destroyed:  # already deleted, whatever the reason: show what is left
        return _tombstone_page(request, report, status=410 if request.method == "POST" else 200)
    form = DeletionForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        request_deletion(report=report, actor=reporter_actor(report), ip=client_ip(request))
        messages.success(request, "Your deletion request was recorded. The security team will review it.")
        return back_to_report(report, portal_token(report), anchor="deletion")
    context = {"report": report, "token": portal_token(report), "form": form}
    return render(request, "portal/confirm_deletion.html", context, status=400 if form.is_bound else 200)
