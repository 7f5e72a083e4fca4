"""The public report form, its confirmation page and signed receipt, and "email me my links".

No account is needed. Each view checks its input, calls one intake service and renders; the
service (:mod:`bastion.intake.reporting`) decides whether the request may reach the reports app.
"""

from __future__ import annotations

import secrets
from typing import Any

from axes.helpers import get_client_ip_address
from django.core.files.uploadedfile import UploadedFile
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_GET, require_http_methods

from bastion.intake.flood import peek_flood
from bastion.intake.forms import LinksForm, ReportForm
from bastion.intake.reporting import (
    ChallengeRequired,
    FloodRefused,
    Gate,
    TooLarge,
    receive_report,
    request_portal_links,
)
from bastion.reports.errors import IdempotencyConflict, ReportRejected
from bastion.reports.models import Channel, Report
from bastion.reports.services import IncomingFile, Submission, portal_url
from bastion.reports.uploads import upload_refusals

# The session remembers which reports it submitted (tracking IDs only, never the portal link:
# that is a bearer secret, rebuilt from the report when the page is shown).
SESSION_KEY = "intake_submitted"
_SESSION_MAX = 20
TEXT_FIELDS = (
    "title", "description", "product", "version", "steps", "impact",
    "reporter_name", "reporter_handle", "email", "public_key",
)  # fmt: skip


def _ip(request: HttpRequest) -> str:
    return get_client_ip_address(request) or ""


def _submission(data: dict[str, Any]) -> Submission:
    return Submission(
        **{name: data.get(name) or "" for name in TEXT_FIELDS},
        credit_preference=data.get("credit_preference") or "anonymous",
    )


def _incoming(files: list[UploadedFile]) -> list[IncomingFile]:
    return [
        IncomingFile(filename=f.name or "", content_type=f.content_type or "", stream=f.open()) for f in files
    ]


def _submit(request: HttpRequest, form: ReportForm) -> tuple[HttpResponse | None, int, bool]:
    """Hand a valid form to intake; a redirect on success, else the status to re-render with."""
    files = form.cleaned_data["attachments"]
    try:
        result = receive_report(
            submission=_submission(form.cleaned_data),
            attachments=_incoming(files),
            sizes=[f.size or 0 for f in files],
            channel=Channel.WEB,
            gate=Gate(ip=_ip(request), altcha=request.POST.get("altcha"), honeypot_tripped=form.is_bot),
            idempotency_key=form.cleaned_data["form_token"] or None,
        )
    except TooLarge as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return None, 413, False
    except FloodRefused as error:
        form.add_error(None, str(error))
        return None, 429, False
    except ChallengeRequired as error:
        form.add_error(None, str(error))
        return None, 400, True
    except ReportRejected as error:
        form.add_error(error.field if error.field in form.fields else None, error.messages)
        return None, 400, False
    except IdempotencyConflict:
        form.add_error(None, "This form was already sent with different content. Send this as a new report?")
        fresh = request.POST.copy()
        fresh["form_token"] = secrets.token_urlsafe(24)
        form.data = fresh
        return None, 409, False
    submitted = [t for t in request.session.get(SESSION_KEY, []) if t != result.report.tracking_id]
    request.session[SESSION_KEY] = [*submitted, result.report.tracking_id][-_SESSION_MAX:]
    return redirect("intake:received", tracking_id=result.report.tracking_id, permanent=False), 303, False


@require_http_methods(["GET", "POST"])
def report(request: HttpRequest) -> HttpResponse:
    """The report form. Errors re-render it with everything typed kept; success goes to the receipt."""
    status, challenge_failed = 200, False
    if request.method == "POST":
        form = ReportForm(request.POST, request.FILES)
        valid = form.is_valid()
        refusals = upload_refusals(request)
        if refusals:
            # The handler already dropped the file; the text came through and is shown again.
            for message in refusals:
                form.add_error("attachments", message)
            status = 413
        elif valid:
            response, status, challenge_failed = _submit(request, form)
            if response is not None:
                response.status_code = 303  # See Other: a reload must not resend the form
                return response
        else:
            status = 400
    else:
        form = ReportForm(initial={"form_token": secrets.token_urlsafe(24)})
    context = {
        "form": form,
        "needs_challenge": challenge_failed or peek_flood(ip=_ip(request)).needs_challenge,
    }
    return render(request, "intake/report_form.html", context, status=status)


def _submitted_report(request: HttpRequest, tracking_id: str) -> Report:
    """The report this session submitted, or 404 for anyone else (the page holds its portal link)."""
    if tracking_id not in request.session.get(SESSION_KEY, []):
        raise Http404("No such report in this browser session.")
    return get_object_or_404(Report.objects.select_related("receipt"), tracking_id=tracking_id)


@require_GET
def received(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """The confirmation: tracking ID, portal link, and the signed receipt with how to check it."""
    found = _submitted_report(request, tracking_id)
    context = {"report": found, "portal_url": portal_url(found), "receipt": found.receipt.statement}
    response = render(request, "intake/report_received.html", context)
    patch_cache_control(response, no_store=True, private=True)  # it holds a bearer link
    return response


@require_GET
def receipt(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """The signed receipt as ``receipt.asc``, for ``gpg --verify receipt.asc``."""
    found = _submitted_report(request, tracking_id)
    response = HttpResponse(found.receipt.statement, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="receipt.asc"'
    patch_cache_control(response, no_store=True, private=True)
    return response


@require_http_methods(["GET", "POST"])
def links(request: HttpRequest) -> HttpResponse:
    """ "Email me my links": the same answer whether or not the address has reports with us."""
    form = LinksForm(request.POST or None)
    sent = False
    if request.method == "POST" and form.is_valid():
        request_portal_links(email=form.cleaned_data["email"], ip=_ip(request))
        sent = True
    return render(
        request, "intake/links.html", {"form": form, "sent": sent}, status=400 if form.errors else 200
    )
