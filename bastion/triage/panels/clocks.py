"""The clocks panel on the report page: what it shows, and its form when a post came back with errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.http import HttpRequest

from bastion.reports.models import Report


def context(request: HttpRequest, report: Report, bound: Mapping[str, forms.Form]) -> dict[str, Any]:
    """Context for ``triage/panels/clocks.html``."""
    return {}
