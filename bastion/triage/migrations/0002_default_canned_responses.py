"""One starting message per state a report can move to; the team edits them on the canned-responses page."""

from django.db import migrations

DEFAULTS = {
    "new": (
        "Back in the queue",
        "Thank you for the details. Your report {tracking_id} is back in our queue and we will look at it again.",
    ),
    "needs_more_info": (
        "We need more information",
        "Thank you for your report {tracking_id}. To confirm it we need more from you:\n\n- \n\n"
        "Please reply in the portal or by email. While we wait for you, the report is paused; "
        "if we do not hear back, it will be closed after a while (we will warn you first).",
    ),
    "triaged": (
        "Confirmed",
        "We have reproduced the issue in your report {tracking_id} and confirmed it. "
        "It is now with the team that will fix it; we will keep you posted here.",
    ),
    "retesting": (
        "Fix ready for retest",
        "A fix for {tracking_id} is in place and we are checking it. "
        "If you can, please retest and tell us whether the issue is gone.",
    ),
    "resolved": (
        "Resolved",
        "The issue in your report {tracking_id} is fixed. Thank you for reporting it to us "
        "and for giving us the time to fix it before it was public.",
    ),
    "informative": (
        "Informative",
        "Thank you for your report {tracking_id}. We looked at it carefully: it does not show a "
        "vulnerability we will fix, but the information is useful and we have kept it.",
    ),
    "duplicate": (
        "Duplicate",
        "Thank you for your report {tracking_id}. The same issue was reported to us before yours; "
        "the earlier report is already being handled.",
    ),
    "not_applicable": (
        "Not applicable",
        "Thank you for your report {tracking_id}. After review it is out of our scope or not a "
        "security issue, so we are closing it. Our policy page explains what is in scope.",
    ),
    "spam": ("Spam", "This report ({tracking_id}) has been closed as spam."),
}


def add_defaults(apps, schema_editor):
    CannedResponse = apps.get_model("triage", "CannedResponse")
    for status, (title, body) in DEFAULTS.items():
        if not CannedResponse.objects.filter(status=status, is_default=True).exists():
            CannedResponse.objects.create(status=status, title=title, body=body, is_default=True)


class Migration(migrations.Migration):
    dependencies = [("triage", "0001_initial")]

    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
