"""The staff forms of the upstream hand-off: the directory entry, the hand-off, and its follow-up.

Shape and size only: what a value must be (a usable key, an OSV ecosystem, a GHSA ID) is the
services' to decide, and their refusals are shown beside the field.
"""

from __future__ import annotations

from typing import Any

from django import forms

from bastion.disclosure.fields import InstantField
from bastion.disclosure.handoff import SECTION_LABELS, STATUS_ORDER
from bastion.disclosure.models import Channel, UpstreamContact
from bastion.disclosure.services.upstream import OSV_ECOSYSTEMS, ContactDetails

MAX_KEY = 200_000


class LocalDateTimeInput(forms.DateTimeInput):
    """A browser date-and-time picker; the value is read in the staff member's own time zone."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class UpstreamContactForm(forms.Form):
    """An upstream project's security contact, as staff enter it."""

    project = forms.CharField(max_length=200, help_text="As people name it: Ruby on Rails, libxml2.")
    ecosystem = forms.ChoiceField(
        required=False,
        choices=[("", "None (not a package)"), *((name, name) for name in OSV_ECOSYSTEMS)],
        help_text="The OSV ecosystem its packages are published in.",
    )
    packages = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One package name per line, as published (actionpack, activerecord).",
    )
    contact_name = forms.CharField(label="Contact name", required=False, max_length=200)
    email = forms.CharField(label="Email address", required=False, max_length=254)
    public_key = forms.CharField(
        label="OpenPGP public key",
        required=False,
        max_length=MAX_KEY,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="The armored block (-----BEGIN PGP PUBLIC KEY BLOCK-----). Packets go out "
        "encrypted to it, never in clear.",
    )
    channel = forms.ChoiceField(label="Preferred channel", choices=Channel.choices)
    channel_url = forms.CharField(
        label="Channel address",
        required=False,
        max_length=500,
        help_text="Their HackerOne program, GitHub 'report a vulnerability' page, or CERT form.",
    )
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    active = forms.BooleanField(required=False, initial=True, help_text="Offered for new hand-offs.")
    seen_updated_at = forms.CharField(required=False, widget=forms.HiddenInput)

    @classmethod
    def for_contact(cls, contact: UpstreamContact, data: Any = None) -> UpstreamContactForm:
        """The form for ``contact`` (blank for a new one), bound to ``data`` when posted."""
        initial = {}
        if contact.pk:
            names = ("project", "ecosystem", "packages", "contact_name", "email", "public_key")
            initial = {name: getattr(contact, name) for name in names}
            initial.update(
                channel=contact.channel,
                channel_url=contact.channel_url,
                notes=contact.notes,
                active=contact.active,
                seen_updated_at=contact.updated_at.isoformat(),
            )
        return cls(data, initial=initial)

    def details(self) -> ContactDetails:
        """The cleaned values, as the directory service takes them."""
        data = self.cleaned_data
        names = ("project", "ecosystem", "packages", "contact_name", "email", "public_key")
        return ContactDetails(
            **{name: data[name] for name in names},
            channel=data["channel"],
            channel_url=data["channel_url"],
            notes=data["notes"],
            active=data["active"],
        )


class HandoffForm(forms.Form):
    """One hand-off: to whom, which sections, whether the reporter is named, and by when."""

    contact = forms.ModelChoiceField(
        label="Upstream", queryset=UpstreamContact.objects.none(), to_field_name="uid", empty_label=None
    )
    sections = forms.MultipleChoiceField(
        label="Share",
        choices=list(SECTION_LABELS.items()),
        initial=["summary", "reproduction", "versions"],
        widget=forms.CheckboxSelectMultiple,
    )
    include_identity = forms.BooleanField(label="Name the reporter", required=False)
    deadline = InstantField(
        required=False,
        widget=LocalDateTimeInput(),
        help_text="When we ask for a fix or an update by, in your time zone. Reminders run before it.",
    )

    def __init__(self, *args: Any, consent: bool | None = None, **kwargs: Any) -> None:
        """``consent``: the reporter's answer; without a yes, naming them is not offered."""
        super().__init__(*args, **kwargs)
        contacts = UpstreamContact.objects.filter(active=True).order_by("project")
        field = self.fields["contact"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = contacts
        identity = self.fields["include_identity"]
        if consent is True:
            identity.help_text = "The reporter agreed to be named upstream (name and handle, never email)."
        else:
            identity.disabled = True
            identity.help_text = (
                "The reporter has not agreed to be named upstream"
                + (" (they said no)." if consent is False else " (not asked yet).")
                + " Their name, handle and address are removed from the text."
            )


class HandoffUpdateForm(forms.Form):
    """Where the upstream is: status, deadline, their IDs and tracker."""

    status = forms.ChoiceField(choices=[(status.value, status.label) for status in STATUS_ORDER])
    deadline = InstantField(required=False, widget=LocalDateTimeInput())
    ghsa_id = forms.CharField(label="GHSA ID", required=False, max_length=40)
    cve_id = forms.CharField(label="CVE ID", required=False, max_length=30)
    tracking_url = forms.CharField(label="Their tracking URL", required=False, max_length=500)
    reason = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed to move the status back. Kept as an internal note on the report.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput)
