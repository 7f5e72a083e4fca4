"""The shape of an advisory's content, shared by the drafts, the hand-off packet and every export.

One plain, frozen value: the advisory services seal it (``to_json``), the exporters read it, and
the hand-off builds one from a report for its CSAF draft. Credits are not part of it: they come
from the credit ledger at publication (:class:`PublicCredit`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class AffectedPackage:
    """One affected product or package, and the versions it concerns.

    ``ecosystem`` and ``package`` name an OSV package (``RubyGems``/``actionpack``); both are empty
    for a product that is no package (a hosted service). ``introduced`` is the first affected
    version (``"0"``: every version before the fix); ``fixed`` the first fixed one (``""``: no fix
    yet). ``affected_versions`` is the human statement shown on the page (``"< 7.1.3.1"``).
    """

    product: str
    vendor: str = ""
    ecosystem: str = ""
    package: str = ""
    introduced: str = "0"
    fixed: str = ""
    affected_versions: str = ""

    @property
    def is_package(self) -> bool:
        """Whether this names a package in an ecosystem (what OSV can describe)."""
        return bool(self.ecosystem and self.package)


@dataclass(frozen=True)
class AdvisoryContent:
    """Everything an advisory says, as staff write it (Markdown in the long text fields)."""

    title: str = ""
    summary: str = ""
    description: str = ""
    affected: tuple[AffectedPackage, ...] = ()
    cvss_v3: str = ""
    cvss_v4: str = ""
    cwe_id: int | None = None
    cve_id: str = ""
    references: tuple[str, ...] = ()
    workaround: str = ""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (what is sealed, and what ``from_json`` reads back)."""
        data = asdict(self)
        data["affected"] = [asdict(item) for item in self.affected]
        data["references"] = list(self.references)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AdvisoryContent:
        """The content stored by ``to_json``; unknown keys are ignored (older or newer drafts)."""
        known = set(cls.__dataclass_fields__)
        values = {key: value for key, value in data.items() if key in known}
        values["affected"] = tuple(AffectedPackage(**item) for item in values.get("affected", ()))
        values["references"] = tuple(values.get("references", ()))
        return cls(**values)


@dataclass(frozen=True)
class PublicCredit:
    """A credit as published: the name shown (already reduced to what the person chose), a link."""

    name: str
    credit_type: str = "finder"  # a reports.CreditType value
    link: str = ""


@dataclass(frozen=True)
class RevisionEntry:
    """One line of an advisory's public revision history."""

    number: int
    date: str  # ISO 8601 UTC
    summary: str


@dataclass(frozen=True)
class PublicationMeta:
    """What an export needs beside the content: the advisory's name, dates, history and status.

    ``status`` is CSAF's ``tracking.status`` (``draft``, ``interim``, ``final``); ``tlp`` its TLP
    label (``WHITE`` for a published advisory, ``AMBER`` for a hand-off draft). A withdrawn
    advisory keeps ``status`` ``final``; ``revisions`` should end with the withdrawal (the CSAF
    builder adds one, dated ``current_release``, when the last entry does not say "Withdrawn").
    """

    identifier: str
    initial_release: str  # ISO 8601 UTC
    current_release: str  # ISO 8601 UTC
    revisions: tuple[RevisionEntry, ...] = ()
    credits: tuple[PublicCredit, ...] = ()
    status: str = "final"
    tlp: str = "WHITE"
    withdrawn: bool = False
    url: str = ""  # the advisory's public page
    withdrawn_reason: str = ""  # public, said in every export of a withdrawn advisory
    extra: dict[str, Any] = field(default_factory=dict)
