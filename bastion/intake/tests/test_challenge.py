"""The proof-of-work challenge: a solved one passes once; forged, expired, replayed or junk ones fail."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import altcha
import pytest
import time_machine
from django.utils import timezone

from bastion.intake.challenge import new_challenge, prune_used_challenges, verify_challenge
from bastion.intake.models import UsedChallenge

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def easy_challenges(settings):
    # Solving in Python is far slower than WebCrypto; the browser test uses the real default.
    settings.INTAKE_CHALLENGE_MAX_NUMBER = 2000


def solve(challenge: dict) -> str:
    """What the browser solver does, with altcha's own Python solver."""
    solution = altcha.solve_challenge(altcha.Challenge.from_dict(challenge), timeout=30)
    assert solution is not None
    return base64.b64encode(
        json.dumps({"challenge": challenge, "solution": solution.to_dict()}).encode()
    ).decode()


def reencode(payload: str, change) -> str:
    data = json.loads(base64.b64decode(payload))
    change(data)
    return base64.b64encode(json.dumps(data).encode()).decode()


def test_the_endpoint_hands_out_fresh_uncacheable_challenges(client):
    first = client.get("/security/challenge")
    second = client.get("/security/challenge")

    assert first.status_code == 200
    assert first["Content-Type"] == "application/json"
    assert "no-store" in first["Cache-Control"]
    parameters = first.json()["parameters"]
    assert parameters["algorithm"] == "SHA-256"
    assert parameters["cost"] == 1
    assert parameters["expiresAt"] > timezone.now().timestamp()
    assert parameters["nonce"] != second.json()["parameters"]["nonce"]
    assert first.json()["signature"]


def test_a_solved_challenge_passes_once(client):
    payload = solve(client.get("/security/challenge").json())

    assert verify_challenge(payload) is True
    assert verify_challenge(payload) is False  # replayed
    assert UsedChallenge.objects.count() == 1


def test_the_work_lies_between_half_and_all_of_the_maximum():
    solution = altcha.solve_challenge(altcha.Challenge.from_dict(new_challenge()), timeout=30)

    assert solution is not None
    assert 1000 <= solution.counter <= 2000


def test_an_expired_challenge_fails():
    payload = solve(new_challenge())

    with time_machine.travel(timezone.now() + timedelta(minutes=11), tick=False):
        assert verify_challenge(payload) is False
    assert UsedChallenge.objects.count() == 0


def test_a_wrong_solution_fails():
    payload = solve(new_challenge())

    assert (
        verify_challenge(
            reencode(payload, lambda d: d["solution"].update(counter=d["solution"]["counter"] + 1))
        )
        is False
    )
    assert verify_challenge(reencode(payload, lambda d: d["solution"].update(derivedKey="00" * 32))) is False


def test_an_altered_challenge_fails_its_signature():
    payload = solve(new_challenge())

    def easier(data):
        data["challenge"]["parameters"]["keyPrefix"] = "0"

    def longer(data):
        data["challenge"]["parameters"]["expiresAt"] += 86400

    assert verify_challenge(reencode(payload, easier)) is False
    assert verify_challenge(reencode(payload, longer)) is False
    assert verify_challenge(reencode(payload, lambda d: d["challenge"].pop("signature"))) is False


def test_a_challenge_signed_with_another_key_fails():
    forged = altcha.create_challenge("SHA-256", 1, counter=5, expires_at=int(timezone.now().timestamp()) + 60,
                                     hmac_secret=b"someone else's key").to_dict()  # fmt: skip

    assert verify_challenge(solve(forged)) is False


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "",
        42,
        ["a"],
        "not base64 at all!",
        b64("not json"),
        b64("[1, 2, 3]"),
        b64('"a string"'),
        b64("{}"),
        b64('{"challenge": "x", "solution": "y"}'),
        b64('{"challenge": {"parameters": []}, "solution": {}}'),
        b64('{"challenge": {"parameters": {"algorithm": "SHA-256"}}, "solution": {"counter": 1}}'),
        b64("[" * 1400 + "]" * 1400),  # nested past Python's recursion limit
        "A" * 10_000,
        "%%%%",
    ],
)
def test_junk_is_refused_without_an_error(payload):
    assert verify_challenge(payload) is False


def test_pruning_forgets_only_expired_spent_challenges():
    verify_challenge(solve(new_challenge()))

    assert prune_used_challenges() == 0
    assert prune_used_challenges(now=timezone.now() + timedelta(minutes=11)) == 1
    assert not UsedChallenge.objects.exists()


def test_a_signed_challenge_without_an_expiry_is_refused():
    # Ours always carry one; should a challenge ever be signed without, it must not live forever.
    from bastion.intake.challenge import _hmac_secret

    endless = altcha.create_challenge("SHA-256", 1, counter=5, hmac_secret=_hmac_secret()).to_dict()

    assert verify_challenge(solve(endless)) is False


def test_the_library_failing_on_odd_input_is_a_refusal_not_a_500(monkeypatch):
    payload = solve(new_challenge())

    def explode(*args, **kwargs):
        raise TypeError("unforeseen shape")

    monkeypatch.setattr(altcha, "verify_solution", explode)

    assert verify_challenge(payload) is False
