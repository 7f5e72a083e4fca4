"""The mail gateway's staff pages: the held-mail queue, one held email, release and dismiss.

The list decrypts nothing: it shows the clear columns only (when, state, adapter, size, reason),
like the triage inbox and for the same reason (opening each listed email would be a read per
row). Opening one email's page is an audited read of the original (MAIL_ORIGINAL_OPENED), since
showing its sender and subject means unsealing it.

Only held mail (quarantined or flooded) is reached here. Mail that became a report belongs to
that report and is shown and fetched on its triage page, under whatever rules scope the report.
"""

from __future__ import annotations

import uuid

from axes.helpers import get_client_ip_address
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from bastion.accounts.models import User
from bastion.accounts.permissions import triager_required
from bastion.intake.mail.receive import Outcome, release_held_mail
from bastion.lib.openpgp import EngineError
from bastion.reports.access import visible_reports
from bastion.reports.models import MailState, ReceivedMail
from bastion.reports.services.inbound import open_received_mail, settle_held_mail
from bastion.reports.services.mail_view import encryption_label, held_mail, source_label, text_lines

PAGE_SIZE = 50


def _ip(request: HttpRequest) -> str | None:
    return get_client_ip_address(request)


def _held(uid: uuid.UUID) -> ReceivedMail:
    """Held email ``uid`` (handled or not); Http404 for accepted mail, which belongs to a report."""
    rows = ReceivedMail.objects.exclude(state=MailState.ACCEPTED).select_related("data_key")
    return get_object_or_404(rows, uid=uid)


def _lines_if_read(envelope: dict[str, object], name: str) -> list[str] | None:
    return text_lines(envelope[name]) if name in envelope else None


def _see_other(url: str) -> HttpResponse:
    """303 See Other: a reload after a POST must not post again."""
    return HttpResponseRedirect(url, status=303)


@never_cache
@triager_required
@require_GET
def mailbox(request: HttpRequest) -> HttpResponse:
    """Held mail not yet handled, newest first, 50 a page; clear metadata only."""
    # The sealed columns are left in the database: a page of mailbomb originals is megabytes that
    # this list never shows.
    rows = held_mail().defer("raw", "envelope")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "intake/mailbox.html", {"page": page})


@never_cache
@triager_required
@require_GET
def held_mail_page(request: HttpRequest, uid: uuid.UUID) -> HttpResponse:
    """One held email's envelope (sender, subject, defects...), opened as an audited read."""
    mail = _held(uid)
    opened = open_received_mail(mail=mail, actor=request.user, ip=_ip(request))
    context = {
        "mail": mail,
        "envelope": opened.envelope,
        # Lists of text, or None where the email was never read (flooded mail is not, until released).
        "authentication_results": _lines_if_read(opened.envelope, "authentication_results"),
        "defects": _lines_if_read(opened.envelope, "defects"),
        "source": source_label(mail.source),
        "encryption": encryption_label(mail.encryption) if mail.encryption else "",
        "can_release": mail.state == MailState.FLOODED and mail.handled_at is None,
    }
    return render(request, "intake/mailbox_mail.html", context)


@never_cache
@triager_required
@require_GET
def held_mail_original(request: HttpRequest, uid: uuid.UUID) -> HttpResponse:
    """The held email byte for byte, as ``message/rfc822`` to save (never to render); audited."""
    mail = _held(uid)
    opened = open_received_mail(mail=mail, actor=request.user, ip=_ip(request))
    response = HttpResponse(opened.raw, content_type="message/rfc822")
    disposition = content_disposition_header(True, f"held-{mail.uid}.eml")
    response["Content-Disposition"] = disposition or "attachment"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@never_cache
@triager_required
@require_POST
def release(request: HttpRequest, uid: uuid.UUID) -> HttpResponse:
    """Read a flooded email now; go to the report it became, or back to the queue if it became none."""
    mail = _held(uid)
    if mail.handled_at is not None:
        messages.info(request, "That email was already dismissed.")
        return _see_other(reverse("intake:held_mail", args=[mail.uid]))
    assert isinstance(request.user, User)  # triager_required let only staff through
    try:
        received = release_held_mail(mail=mail, actor=request.user, ip=_ip(request))
    except ValueError as error:  # not flooded: quarantined mail cannot be read again
        messages.error(request, str(error).capitalize() + ".")
        return _see_other(reverse("intake:held_mail", args=[mail.uid]))
    except EngineError:
        # Nothing was committed but the audit row of the opening; the email is still held.
        messages.error(
            request, "The OpenPGP engine is unavailable; the email is still held. Try again later."
        )
        return _see_other(reverse("intake:held_mail", args=[mail.uid]))
    filed_where_unseen = (
        received.tracking_id is not None
        and not visible_reports(request.user).filter(tracking_id=received.tracking_id).exists()
    )
    if filed_where_unseen:
        # A reply to a report under embargo: the releaser may not be granted on it, and while the
        # embargo runs not even its tracking ID is theirs to see. Saying only that it went to a
        # report they cannot see tells them the release worked without naming the report.
        filed = "Released: the email was filed as a reply to a report you cannot see (it is under embargo)."
        messages.success(request, filed)
        return _see_other(reverse("intake:mailbox"))
    if received.tracking_id:
        verb = "became report" if received.outcome == Outcome.REPORT else "was added as a reply to"
        messages.success(request, f"Released: the email {verb} {received.tracking_id}.")
        return _see_other(reverse("triage:report", args=[received.tracking_id]))
    if received.outcome == Outcome.QUARANTINED:
        messages.warning(request, "Released, but it could not be read or filed: it is in quarantine now.")
    else:
        messages.info(request, "That email had been received already; nothing new was filed.")
    return _see_other(reverse("intake:mailbox"))


@never_cache
@triager_required
@require_POST
def dismiss(request: HttpRequest, uid: uuid.UUID) -> HttpResponse:
    """Done with a held email without filing it; it stays (handled) so the original can be fetched."""
    mail = _held(uid)
    if mail.handled_at is None:
        settle_held_mail(mail=mail, actor=request.user, released=False, ip=_ip(request))
        messages.success(request, "Dismissed. The original is kept and can still be downloaded.")
    else:
        messages.info(request, "That email was already dismissed.")
    return _see_other(reverse("intake:mailbox"))
