"""The report page's side panels. Each module gives ``context(request, report, bound)`` for its template
``triage/panels/<name>.html``; ``bound`` holds a panel's form (keyed by the panel's name) when a post
to it came back with errors, so the page shows them in place.
"""

from collections.abc import Callable, Mapping
from typing import Any

from django import forms
from django.http import HttpRequest

from bastion.reports.models import Report
from bastion.triage.panels import assignment, bounty, clocks, duplicates, embargo, scoring

Panel = Callable[[HttpRequest, Report, Mapping[str, forms.Form]], dict[str, Any]]

PANELS: list[Panel] = [
    clocks.context,
    assignment.context,
    scoring.context,
    duplicates.context,
    bounty.context,
    embargo.context,
]
