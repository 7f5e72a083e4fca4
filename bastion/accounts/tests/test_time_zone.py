"""Dates are shown in the signed-in staff member's time zone."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.utils import timezone

from bastion.accounts.middleware import UserTimeZoneMiddleware

pytestmark = pytest.mark.django_db


def zone_seen_by_view(rf, user):
    seen = []

    def view(request):
        seen.append(timezone.get_current_timezone_name())
        return HttpResponse()

    request = rf.get("/")
    request.user = user
    UserTimeZoneMiddleware(view)(request)
    return seen[0]


def test_it_activates_the_users_time_zone_for_the_request(rf, alice, settings):
    alice.time_zone = "Asia/Tokyo"

    assert zone_seen_by_view(rf, alice) == "Asia/Tokyo"
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE


def test_anonymous_visitors_and_unknown_zones_get_the_default(rf, alice, settings):
    alice.time_zone = "Gone/Away"

    assert zone_seen_by_view(rf, AnonymousUser()) == settings.TIME_ZONE
    assert zone_seen_by_view(rf, alice) == settings.TIME_ZONE
