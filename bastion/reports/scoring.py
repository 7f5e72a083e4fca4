"""CVSS vectors: validated, normalised and scored by the ``cvss`` package (never by tables of our own).

A report stores the vector staff chose, never only a number: the score is derived from it and can
be checked by anyone with a calculator.

Rules, and why:

- **The prefix is required** (``CVSS:3.1/`` or ``CVSS:4.0/``). Both specifications define the
  vector string as starting with it, and a bare ``AV:N/AC:L/...`` does not say which version it was
  scored under: 3.0 and 3.1 read the same string with different rounding, and a CVSS 4.0 base
  vector shares most of its metric names with 3.1. Guessing would store a number nobody chose.
- **CVSS 3.1 only, not 3.0**, in the 3.x field. 3.1 superseded 3.0 in 2019 (it fixed the rounding
  and the environmental formula); keeping one 3.x version means every stored vector has one meaning.
  A 3.0 vector is refused with a message saying how to restate it as 3.1 (check the metrics, then
  change the prefix).
- **Letters are made upper case** before parsing: the metric and value abbreviations are all upper
  case, so ``cvss:3.1/av:n/...`` can only mean one thing.
- **The stored form is the package's clean vector**: metrics in the specification's order, and
  "Not Defined" (``X``) values dropped, so the same assessment is always the same string.
- **The score is the score of everything the vector says.** CVSS 4.0 has one score for whatever
  metric groups a vector carries (CVSS-B, -BT, -BE, -BTE). For 3.1 that is the environmental score,
  which equals the temporal score when no environmental metric is set, and the base score when only
  base metrics are: a plain base vector (what most reports carry) scores its base score, and a
  triager who adds ``E:U`` sees the severity move, as the 4.0 score would.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cvss import CVSS3, CVSS4
from cvss import constants3 as cvss3_metrics
from cvss.exceptions import CVSSError

from bastion.reports.errors import ReportRejected
from bastion.reports.models import Severity

V3_PREFIX = "CVSS:3.1/"
V4_PREFIX = "CVSS:4.0/"
# The model's columns (Report.cvss_v3, Report.cvss_v4); a full 4.0 vector is about 200 characters.
V3_MAX_LENGTH = 200
V4_MAX_LENGTH = 300
_EXAMPLE_V3 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
_EXAMPLE_V4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
_TENTH = Decimal("0.1")


@dataclass(frozen=True)
class Scored:
    """A valid vector: its version ("3.1" or "4.0"), its normalised form, its score and severity."""

    version: str
    vector: str
    score: Decimal
    severity: Severity


def severity_for(score: Decimal | float | None) -> Severity | None:
    """The CVSS qualitative rating for ``score`` (the same scale in 3.1 and 4.0); None for no score.

    0.0 none, 0.1-3.9 low, 4.0-6.9 medium, 7.0-8.9 high, 9.0-10.0 critical.
    """
    if score is None:
        return None
    value = Decimal(str(score)).quantize(_TENTH)
    if value < 0 or value > 10:
        raise ValueError(f"a CVSS score lies between 0.0 and 10.0, not {value}")
    if value == 0:
        return Severity.NONE
    if value < 4:
        return Severity.LOW
    if value < 7:
        return Severity.MEDIUM
    if value < 9:
        return Severity.HIGH
    return Severity.CRITICAL


def score_v3(vector: str) -> Scored:
    """``vector`` as a valid CVSS 3.1 vector, scored; ReportRejected naming ``cvss_v3`` if it is not."""
    text = _prepared(vector, field="cvss_v3", version="3.1", prefix=V3_PREFIX, max_length=V3_MAX_LENGTH)
    if text.startswith("CVSS:3.0/"):
        raise ReportRejected(
            "cvss_v3",
            "This is a CVSS 3.0 vector; Bastion keeps CVSS 3.1. Check each metric against the 3.1 "
            'definitions (they are the same metrics), then change the prefix to "CVSS:3.1/".',
            code="cvss_version",
        )
    if text.startswith("CVSS:4.0/"):
        raise ReportRejected(
            "cvss_v3", "This is a CVSS 4.0 vector: put it in the CVSS 4.0 field.", code="cvss_version"
        )
    _require_prefix(text, field="cvss_v3", version="3.1", prefix=V3_PREFIX, example=_EXAMPLE_V3)
    try:
        parsed = CVSS3(text)
    except CVSSError as error:
        raise _rejected("cvss_v3", "3.1", error) from error
    # Base, temporal, environmental: the last is the most specific the vector supports.
    score = Decimal(str(parsed.scores()[2])).quantize(_TENTH)
    return _scored("3.1", parsed.clean_vector(), score)


def score_v4(vector: str) -> Scored:
    """``vector`` as a valid CVSS 4.0 vector, scored; ReportRejected naming ``cvss_v4`` if it is not."""
    text = _prepared(vector, field="cvss_v4", version="4.0", prefix=V4_PREFIX, max_length=V4_MAX_LENGTH)
    if text.startswith("CVSS:3."):
        raise ReportRejected(
            "cvss_v4", "This is a CVSS 3.x vector: put it in the CVSS 3.1 field.", code="cvss_version"
        )
    _require_prefix(text, field="cvss_v4", version="4.0", prefix=V4_PREFIX, example=_EXAMPLE_V4)
    try:
        parsed = CVSS4(text)
    except CVSSError as error:
        raise _rejected("cvss_v4", "4.0", error) from error
    score = Decimal(str(parsed.base_score)).quantize(_TENTH)
    return _scored("4.0", parsed.clean_vector(), score)


def score_vector(vector: str) -> Scored:
    """Either version, told apart by the prefix (for the calculator); ReportRejected naming ``vector``."""
    text = (vector or "").strip().upper()
    try:
        return score_v4(text) if text.startswith("CVSS:4") else score_v3(text)
    except ReportRejected as error:
        raise ReportRejected("vector", error.messages[0], code=error.reason) from error


def clean_cvss_v3(vector: str) -> str:
    """The normalised CVSS 3.1 vector, or "" for an empty one (clearing it); ReportRejected if invalid."""
    return score_v3(vector).vector if (vector or "").strip() else ""


def clean_cvss_v4(vector: str) -> str:
    """The normalised CVSS 4.0 vector, or "" for an empty one (clearing it); ReportRejected if invalid."""
    return score_v4(vector).vector if (vector or "").strip() else ""


def v3_base_metrics() -> list[dict[str, Any]]:
    """CVSS 3.1's base metrics and their values, named as the ``cvss`` package names them.

    What the calculator widget draws its buttons from, so the page holds no metric table of its own.
    """
    names = cvss3_metrics.METRICS_ABBREVIATIONS
    values = cvss3_metrics.METRICS_VALUE_NAMES
    return [
        {"key": key, "name": names[key], "values": [[value, label] for value, label in values[key].items()]}
        for key in cvss3_metrics.METRICS_MANDATORY
    ]


def _prepared(vector: str, *, field: str, version: str, prefix: str, max_length: int) -> str:
    if not isinstance(vector, str):
        raise ReportRejected(field, f"A CVSS {version} vector is text, such as {prefix}AV:N/...")
    text = vector.strip().upper()
    if len(text) > max_length:
        raise ReportRejected(
            field,
            f"This is {len(text)} characters long; a CVSS {version} vector is at most {max_length}.",
            code="too_long",
        )
    return text


def _require_prefix(text: str, *, field: str, version: str, prefix: str, example: str) -> None:
    if not text.startswith(prefix):
        raise ReportRejected(
            field,
            f'A CVSS {version} vector starts with "{prefix}", for example {example}. '
            "Paste the whole vector, prefix included, or build it with the calculator.",
            code="cvss_prefix",
        )
    if not text[len(prefix) :].strip("/"):
        raise ReportRejected(
            field,
            f"This vector has only its prefix. Add the base metrics, for example {example}.",
            code="cvss_empty",
        )


def _rejected(field: str, version: str, error: CVSSError) -> ReportRejected:
    # The package's messages name the problem (unknown metric "XX", missing mandatory metrics
    # "AC, PR", duplicate metric "AV", unknown value "Q" in "AV:Q"); they quote only the vector.
    detail = str(error).strip().rstrip(".")
    detail = detail[:1].lower() + detail[1:]
    return ReportRejected(field, f"This is not a valid CVSS {version} vector: {detail}.", code="cvss_invalid")


def _scored(version: str, vector: str, score: Decimal) -> Scored:
    severity = severity_for(score)
    assert severity is not None
    return Scored(version=version, vector=vector, score=score, severity=severity)
