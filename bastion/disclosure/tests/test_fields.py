"""The disclosure forms' instant field: a year that would overflow is refused, not a crash."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from bastion.disclosure.fields import InstantField


class DeadlineForm(forms.Form):
    deadline = InstantField(required=False)


def test_a_year_at_the_calendars_edge_is_refused_with_a_message():
    with timezone.override("America/Los_Angeles"):
        form = DeadlineForm({"deadline": "9999-12-31T23:00"})

        assert not form.is_valid()
        assert form.errors["deadline"] == ["Give a year between 1971 and 8999."]


def test_an_ordinary_instant_and_an_empty_one_pass():
    with timezone.override("America/Los_Angeles"):
        assert DeadlineForm({"deadline": "2027-03-14T16:00"}).is_valid()
        assert DeadlineForm({"deadline": ""}).is_valid()
