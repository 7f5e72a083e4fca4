"""The report page and its actions: thin views over the reports services.

Every view loads its rows through :mod:`bastion.triage.access` first, then calls one service.
Every response carries ``Cache-Control: no-store`` (``never_cache``): these pages hold decrypted
report content, which must not be kept by the browser's cache or any proxy on the way.

The inbox lists without decrypting. Opening every listed report to show its title would be a read
of each one; recording 50 audit rows per page view would drown the trail that is meant to catch a
mass read, and not recording them would hide exactly that. So the list shows what is stored in
clear (tracking ID, status, severity, assignee, dates, counts) and the title appears on the report
page, whose one opening is audited by ``open_report``. Only an explicit search inside report text
opens reports from the inbox: a narrowed set of at most 500, recorded as one REPORTS_SEARCHED row
(see ``triage.filters``). The emails a report came with are shown on that page
too: their envelopes are opened as part of the same audited read, and fetching an original email
is a read of its own (MAIL_ORIGINAL_OPENED).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import cast

from axes.helpers import get_client_ip_address
from django import forms
from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from bastion.accounts.permissions import triager_required
from bastion.reports.errors import ReportRejected, StaleEdit, TransitionRefused
from bastion.reports.models import ReceivedMail, Report, Visibility
from bastion.reports.services import (
    IncomingFile,
    Tombstone,
    change_status,
    open_attachment,
    open_report,
    post_message,
    tombstone,
)
from bastion.reports.services.inbound import open_received_mail
from bastion.reports.services.mail_view import mail_details, mail_number
from bastion.reports.workflow import Status, allowed_next
from bastion.triage.access import attachment_for, embargoed_from, report_for
from bastion.triage.canned import default_message, responses_for
from bastion.triage.forms import NoteForm, ReplyForm, StatusForm
from bastion.triage.panels import PANELS
from bastion.triage.panels.embargo import break_glass_page
from bastion.triage.views.deletion import deletion_context

# Path separators, quotes and control characters: a download name is a name, never a path.
_UNSAFE_FILENAME = re.compile(r'[\\/"\x00-\x1f\x7f]')


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as the audit trail records it (django-axes reads proxies as configured)."""
    return get_client_ip_address(request)


def back_to(report: Report, anchor: str) -> HttpResponse:
    """303 See Other to the report page: a reload after a POST must not post again."""
    return HttpResponseRedirect(f"{reverse('triage:report', args=[report.tracking_id])}#{anchor}", status=303)


def safe_filename(name: str) -> str:
    """The reporter's file name, fit for Content-Disposition: no path, no quotes, no leading dots."""
    return _UNSAFE_FILENAME.sub("_", name).strip().lstrip(".") or "attachment"


def render_report(
    request: HttpRequest,
    report: Report,
    *,
    reply_form: ReplyForm | None = None,
    note_form: NoteForm | None = None,
    status_form: StatusForm | None = None,
    bound: Mapping[str, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The report page, opened (and so audited) for ``request.user``, with any bound forms' errors.

    Each side panel (clocks, scoring, duplicates, bounty, assignment) adds its own context through
    :data:`bastion.triage.panels.PANELS`; ``bound`` carries a panel's form back with its errors,
    keyed by the panel's name. A shredded report shows its tombstone instead: there is nothing to open.
    """
    grave = tombstone(report)
    if grave is not None:
        return render_tombstone(request, grave, bound=bound or {}, status=status)
    opened = open_report(report=report, actor=request.user, ip=client_ip(request))
    # Marking a duplicate names the original: the duplicates panel does that, not this select.
    moves: list[Status] = [move for move in allowed_next(report.status) if move != Status.DUPLICATE]
    # The emails' envelopes are part of the read open_report just recorded (see mail_view).
    mails = mail_details(report, report.data_key_plain())
    by_message = {detail.mail.message_id: detail for detail in mails if not detail.is_opening}
    context = {
        "report": report,
        "opened": opened,
        "opening_mails": [detail for detail in mails if detail.is_opening],
        "conversation": [(item, by_message.get(item.message.pk)) for item in opened.messages],
        "timeline": report.timeline.all(),
        "reply_form": reply_form or ReplyForm(),
        "note_form": note_form or NoteForm(),
        "status_form": (status_form or StatusForm(initial={"version": report.version})).offer(moves),
        "canned_responses": responses_for(moves, tracking_id=report.tracking_id),
    }
    for panel in PANELS:
        context.update(panel(request, report, bound or {}))
    context.update(deletion_context(request, report, opened=opened, bound=bound or {}))
    return render(request, "triage/report.html", context, status=status)


def render_tombstone(
    request: HttpRequest, grave: Tombstone, *, bound: Mapping[str, forms.Form], status: int = 200
) -> HttpResponse:
    """A shredded report's page: its clear metadata, the timeline, and when and why it was destroyed."""
    report = grave.report
    context = {
        "report": report,
        "tombstone": grave,
        "timeline": report.timeline.all(),
        **deletion_context(request, report, opened=None, bound=bound),
    }
    return render(request, "triage/report.html", context, status=status)


def refused_if_shredded(request: HttpRequest, report: Report) -> HttpResponse | None:
    """Back to the tombstone with an explanation if ``report`` was shredded; None if it was not.

    Replying, noting or moving a shredded report would need its key: it is gone, so say so
    rather than fail.
    """
    if not report.data_key.is_destroyed:
        return None
    messages.error(
        request, f"The content of {report.tracking_id} was destroyed: nothing more can be done with it."
    )
    return back_to(report, "tombstone")


def _gone(request: HttpRequest) -> HttpResponse:
    advice = "This report's content was destroyed (crypto-shredded); its files can no longer be opened."
    return render(
        request, "error.html", {"status": 410, "title": "Content destroyed", "advice": advice}, status=410
    )


@never_cache
@triager_required
@require_GET
def report_page(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """One report, decrypted for this staff member; the opening is audited as REPORT_VIEWED.

    An embargoed report a triager or admin is not granted on is a 404 that offers break-glass.
    """
    try:
        report = report_for(request.user, tracking_id)
    except Http404:
        if (hidden := embargoed_from(request.user, tracking_id)) is None:
            raise
        return break_glass_page(request, hidden, status=404)
    return render_report(request, report)


@never_cache
@triager_required
@require_GET
def download(request: HttpRequest, tracking_id: str, uid: uuid.UUID) -> HttpResponse:
    """A file, decrypted as it streams; audited as ATTACHMENT_DOWNLOADED before the first byte.

    Always ``application/octet-stream`` as an attachment with nosniff: a reporter's file is never
    rendered by the browser in Bastion's origin, whatever type its sender claimed.
    """
    attachment = attachment_for(request.user, tracking_id, uid)
    if attachment.report.data_key.is_destroyed:
        return _gone(request)
    meta, chunks = open_attachment(attachment=attachment, actor=request.user, ip=client_ip(request))
    response = StreamingHttpResponse(chunks, content_type="application/octet-stream")
    disposition = content_disposition_header(True, safe_filename(meta.filename))
    response["Content-Disposition"] = disposition or 'attachment; filename="attachment"'
    response["Content-Length"] = str(meta.size)
    response["X-Content-Type-Options"] = "nosniff"
    # accounts.permissions types views as returning HttpResponse; Django serves a streaming
    # response through the same decorators unchanged, so only the static type needs telling.
    return cast(HttpResponse, response)


@never_cache
@triager_required
@require_GET
def mail_original(request: HttpRequest, tracking_id: str, uid: uuid.UUID) -> HttpResponse:
    """An email the report came with, byte for byte; audited as MAIL_ORIGINAL_OPENED first.

    ``message/rfc822`` as an attachment with nosniff: the sender's mail may hold HTML or anything
    else, and it is for a mail client or a hex viewer, never for the browser to render here.
    """
    report = report_for(request.user, tracking_id)
    mail = get_object_or_404(ReceivedMail.objects.select_related("data_key"), report=report, uid=uid)
    if mail.data_key.is_destroyed:
        return _gone(request)
    opened = open_received_mail(mail=mail, actor=request.user, ip=client_ip(request))
    response = HttpResponse(opened.raw, content_type="message/rfc822")
    filename = f"{report.tracking_id}-{mail_number(mail, report)}.eml"
    response["Content-Disposition"] = content_disposition_header(True, filename) or "attachment"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _incoming(upload: UploadedFile) -> IncomingFile:
    return IncomingFile(
        filename=upload.name or "attachment",
        content_type=upload.content_type or "application/octet-stream",
        stream=upload,
    )


def _post(
    request: HttpRequest,
    report: Report,
    form: ReplyForm | NoteForm,
    visibility: Visibility,
    *,
    done: str,
    failed: str,
) -> HttpResponse:
    """Post ``form``'s message (and files) to the conversation, or re-show the page with its errors."""
    if (refused := refused_if_shredded(request, report)) is not None:
        return refused
    if form.is_valid():
        uploads = form.cleaned_data.get("attachments") or []
        try:
            post_message(
                report=report,
                body=form.cleaned_data["body"],
                visibility=visibility,
                actor=request.user,
                attachments=[_incoming(upload) for upload in uploads],
                ip=client_ip(request),
            )
        except ReportRejected as error:
            form.add_error(None, error.messages)
        else:
            messages.success(request, done)
            return back_to(report, "conversation")
    messages.error(request, failed)
    if isinstance(form, ReplyForm):
        return render_report(request, report, reply_form=form, status=400)
    return render_report(request, report, note_form=form, status=400)


@never_cache
@triager_required
@require_POST
def reply(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Post a public reply (the reporter is emailed after commit); form errors re-show the page."""
    report = report_for(request.user, tracking_id)
    form = ReplyForm(request.POST, request.FILES)
    done = "Reply sent. The reporter has been told by email."
    return _post(
        request,
        report,
        form,
        Visibility.PUBLIC,
        done=done,
        failed="The reply was not sent: see the reply form below.",
    )


@never_cache
@triager_required
@require_POST
def note(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Add an internal note (staff only, never mailed); form errors re-show the page."""
    report = report_for(request.user, tracking_id)
    failed = "The note was not added: see the note form below."
    return _post(
        request,
        report,
        NoteForm(request.POST),
        Visibility.INTERNAL,
        done="Internal note added.",
        failed=failed,
    )


@never_cache
@triager_required
@require_POST
def status(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Move the report to another status, as the workflow allows from where it is now."""
    report = report_for(request.user, tracking_id)
    if (refused := refused_if_shredded(request, report)) is not None:
        return refused
    form = StatusForm(request.POST)
    status_code = 400
    if form.is_valid():
        data = form.cleaned_data
        # An empty message means "the canned response as it is" (the page without JS shows none).
        message = data["reporter_message"] or default_message(data["to"], tracking_id=report.tracking_id)
        try:
            change = change_status(
                report=report,
                to=data["to"],
                actor=request.user,
                reporter_message=message,
                notify_reporter=data["notify_reporter"],
                note=data["note"] or None,
                expected_version=data["version"],
                ip=client_ip(request),
            )
        except StaleEdit as error:
            form.add_error(None, error.messages)
            status_code = 409
        except TransitionRefused as error:
            form.add_error("to", error.messages)
        except ReportRejected as error:  # the message or the note was refused: nothing changed
            form.add_error(None, error.messages)
        else:
            previous, current = Status(change.previous).label, Status(change.current).label
            messages.success(request, f"Status changed from {previous} to {current}.")
            return back_to(report, "status")
    messages.error(request, "The status was not changed: see the status form below.")
    return render_report(request, report, status_form=form, status=status_code)
