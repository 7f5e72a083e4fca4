"""Shared bits of intake's report tests: a valid form post, and a solved challenge."""

from __future__ import annotations

import base64
import json
from typing import Any

import altcha
from django.test import Client


def form_data(client: Client, **fields: Any) -> dict[str, Any]:
    """A valid report form post, with the per-render token from a fresh GET of the form."""
    response = client.get("/security/report")
    data: dict[str, Any] = {
        "title": "Stored XSS in the profile page",
        "description": "The *bio* field is rendered without escaping.",
        "credit_preference": "anonymous",
        "form_token": response.context["form"].initial["form_token"],
    }
    data.update(fields)
    return data


def solve(challenge: dict[str, Any]) -> str:
    """What the browser solver does, with altcha's own Python solver."""
    solution = altcha.solve_challenge(altcha.Challenge.from_dict(challenge), timeout=30)
    assert solution is not None
    payload = {"challenge": challenge, "solution": solution.to_dict()}
    return base64.b64encode(json.dumps(payload).encode()).decode()
