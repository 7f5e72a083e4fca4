"""Forms for the account pages. They validate input; services make the changes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation

from bastion.accounts.models import Role, User, normalize_email_address, time_zone_names


class _Form(forms.Form):
    """Labels without Django's trailing colon, like every other form in the product."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class NewPasswordForm(_Form):
    """Full name and a new password, typed twice and checked by Django's validators."""

    full_name = forms.CharField(
        max_length=150, label="Full name", widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password (again)",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def account_email(self) -> str:
        """The address of the account being made: the form's own email field, where it has one."""
        return str(self.cleaned_data.get("email", ""))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", "The two passwords do not match.")
        elif password1 and not self.has_error("email"):
            # Checked against the would-be account, so "similar to your e-mail" is caught too.
            candidate = User(email=self.account_email(), full_name=cleaned.get("full_name", ""))
            try:
                password_validation.validate_password(password1, candidate)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class SetupForm(NewPasswordForm):
    """The first admin's e-mail, name and password."""

    email = forms.EmailField(label="Email address", widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    field_order = ["email", "full_name", "password1", "password2"]

    def clean_email(self) -> str:
        email = normalize_email_address(self.cleaned_data["email"])
        if User.objects.filter(email=email).exists():
            raise forms.ValidationError("An account with this address already exists.")
        return email


class AcceptInvitationForm(NewPasswordForm):
    """The invitee's name and password; the address comes from the invitation."""

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def account_email(self) -> str:
        return self.email


class InviteForm(_Form):
    """Who to invite, and with which role."""

    email = forms.EmailField(label="Email address", widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    role = forms.ChoiceField(choices=Role.choices, initial=Role.TRIAGER)

    def clean_email(self) -> str:
        email = normalize_email_address(self.cleaned_data["email"])
        if User.objects.filter(email=email).exists():
            raise forms.ValidationError("A staff account with this address already exists.")
        return email


class RoleForm(_Form):
    role = forms.ChoiceField(choices=Role.choices)


class ProfileForm(_Form):
    """A staff member's display name and the time zone dates are shown in."""

    full_name = forms.CharField(
        max_length=150, label="Full name", widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    time_zone = forms.ChoiceField(
        label="Time zone",
        help_text="Dates and deadlines are shown in this zone.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Built per form, not at import: the tz database is read lazily (and cached) on first use.
        self.fields["time_zone"].choices = [(name, name.replace("_", " ")) for name in time_zone_names()]  # type: ignore[attr-defined]
