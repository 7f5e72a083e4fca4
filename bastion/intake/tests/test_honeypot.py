"""The honeypot field: filled means a bot; empty, missing or blank means nothing."""

from __future__ import annotations

import pytest
from django import forms
from django.http import QueryDict

from bastion.intake.honeypot import HONEYPOT_FIELD, HoneypotMixin, honeypot_tripped


class ReportishForm(HoneypotMixin, forms.Form):
    title = forms.CharField()


@pytest.mark.parametrize(
    ("data", "tripped"),
    [
        ({}, False),
        ({HONEYPOT_FIELD: ""}, False),
        ({HONEYPOT_FIELD: "   "}, False),
        ({HONEYPOT_FIELD: None}, False),
        ({HONEYPOT_FIELD: "http://spam.example"}, True),
        ({HONEYPOT_FIELD: 0}, True),
        ({HONEYPOT_FIELD: ["", "x"]}, True),
        ({HONEYPOT_FIELD: ["", " "]}, False),
    ],
)
def test_it_trips_only_when_the_field_has_content(data, tripped):
    assert honeypot_tripped(data) is tripped


def test_it_reads_a_query_dict():
    assert honeypot_tripped(QueryDict(f"title=x&{HONEYPOT_FIELD}=buy+now"))
    assert not honeypot_tripped(QueryDict("title=x"))


def test_the_form_mixin_flags_bots_but_stays_valid():
    bot = ReportishForm({"title": "XSS", HONEYPOT_FIELD: "http://spam.example"})
    person = ReportishForm({"title": "XSS"})

    assert bot.is_valid()
    assert person.is_valid()
    assert bot.is_bot is True
    assert person.is_bot is False
    assert ReportishForm().is_bot is False


def test_the_field_is_kept_out_of_reach_of_people():
    html = str(ReportishForm()[HONEYPOT_FIELD])

    assert 'tabindex="-1"' in html
    assert 'autocomplete="off"' in html
    assert 'class="hp-input"' in html
    assert 'type="text"' in html  # not type=hidden, which bots skip
