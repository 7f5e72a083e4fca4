"""What the three exporters share: package URLs, version ranges, CVSS scoring, and the document name."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from cvss import CVSS3, CVSS4
from cvss.exceptions import CVSSError

from bastion.disclosure.content import AffectedPackage

# OSV ecosystem -> package-URL type (also the ``vers`` scheme). Only ecosystems whose names map
# cleanly; a package in another ecosystem gets no PURL rather than a wrong one.
PURL_TYPES = {
    "RubyGems": "gem",
    "npm": "npm",
    "PyPI": "pypi",
    "Go": "golang",
    "Maven": "maven",
    "crates.io": "cargo",
    "NuGet": "nuget",
    "Packagist": "composer",
    "Hex": "hex",
    "Pub": "pub",
    "Hackage": "hackage",
    "CRAN": "cran",
    "SwiftURL": "swift",
}
_UNSAFE_NAME = re.compile(r"[^+\-a-z0-9]+")


def utc_timestamp(value: str) -> str:
    """An ISO 8601 instant as RFC 3339 UTC with a ``Z`` and whole seconds (``2026-03-01T12:00:00Z``).

    Every export schema accepts this one form (OSV insists on the ``Z``); a naive value is UTC.
    """
    instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def document_filename(identifier: str) -> str:
    """The file name CSAF §5.1 gives a document: its id lower-cased, other characters as ``_``."""
    return _UNSAFE_NAME.sub("_", identifier.lower()) + ".json"


def purl(item: AffectedPackage, version: str = "") -> str:
    """The package URL of an affected package (with ``version`` when given), or "" if unknown.

    Maven names are ``group:artifact``, Packagist and Go names carry slashes: those become the
    PURL namespace; each segment is percent-encoded (``@scope`` in npm becomes ``%40scope``).
    """
    kind = PURL_TYPES.get(item.ecosystem)
    if not kind or not item.package:
        return ""
    name = item.package.replace(":", "/") if kind == "maven" else item.package
    if kind == "pypi":
        # The PyPI PURL name is the normalised project name (PEP 503).
        name = re.sub(r"[-_.]+", "-", name).lower()
    path = "/".join(quote(segment, safe="") for segment in name.split("/") if segment)
    return f"pkg:{kind}/{path}" + (f"@{quote(version, safe='')}" if version else "")


def vers_range(item: AffectedPackage) -> str:
    """The affected range as a ``vers`` URI (``vers:gem/>=7.0.0|<7.1.3.1``), the form CSAF recommends.

    A product that is no package uses the ``generic`` scheme. ``*`` is every version: an
    introduced ``0`` and no fix yet.
    """
    scheme = PURL_TYPES.get(item.ecosystem, "generic") if item.is_package else "generic"
    constraints = []
    if item.introduced and item.introduced != "0":
        constraints.append(f">={item.introduced}")
    if item.fixed:
        constraints.append(f"<{item.fixed}")
    return f"vers:{scheme}/" + ("|".join(constraints) or "*")


@dataclass(frozen=True)
class Score:
    """A CVSS vector, cleaned, with its version, base score and severity."""

    version: str  # "3.0", "3.1", "4.0"
    vector: str
    base_score: float
    severity: str  # upper-case: CRITICAL, HIGH, MEDIUM, LOW, NONE


def score(vector: str) -> Score | None:
    """Score a CVSS 3.x or 4.0 vector with the ``cvss`` package; None for an empty or invalid one.

    Staff vectors are checked when the advisory is saved; an invalid one here is left out of the
    export rather than guessed at, and the schema check of the checklist says what is missing.
    """
    vector = vector.strip()
    if not vector:
        return None
    try:
        if vector.startswith("CVSS:4.0/"):
            v4 = CVSS4(vector)
            return Score("4.0", v4.clean_vector(), float(v4.base_score), v4.severity.upper())
        if vector.startswith(("CVSS:3.0/", "CVSS:3.1/")):
            v3 = CVSS3(vector)
            return Score(vector[5:8], v3.clean_vector(), float(v3.scores()[0]), v3.severities()[0].upper())
    except CVSSError:
        return None
    return None
