"""Background work for accounts: the invitation e-mail."""

from __future__ import annotations

from django.utils import timezone

from bastion.accounts.models import Invitation
from bastion.lib.emails import render_email
from bastion.worker.queue import retryable


@retryable(max_attempts=8)
def send_staff_invitation(invitation_id: int) -> None:
    """E-mail the invitation link. Takes the id only: the token is rebuilt here, never queued.

    Idempotent: an invitation that was already sent, accepted, revoked or has expired gets no mail.
    """
    invitation = Invitation.objects.select_related("invited_by").filter(pk=invitation_id).first()
    if invitation is None or invitation.sent_at is not None:
        return
    if invitation.status() != Invitation.Status.PENDING:
        return
    inviter = invitation.invited_by
    context = {
        "invitation": invitation,
        "inviter_name": inviter.get_full_name() if inviter else "An administrator",
        "role": invitation.get_role_display(),
        "url": invitation.link(),
        "expires_at": invitation.expires_at,
    }
    render_email("staff_invitation", context, to=[invitation.email]).send()
    # Marked after sending: a crash in between means one duplicate mail, never a lost one.
    Invitation.objects.filter(pk=invitation.pk, sent_at__isnull=True).update(sent_at=timezone.now())
