"""The disclosure models: upstream hand-off (``upstream``), advisories (``advisory``), and what is
published in clear (``public``: export documents, imported thanks, security.txt)."""

from bastion.disclosure.models.advisory import Advisory, AdvisoryChange, AdvisoryRevision, AdvisoryState
from bastion.disclosure.models.public import DocumentKind, PublishedDocument, SecurityTxt, ThanksEntry
from bastion.disclosure.models.upstream import Channel, Handoff, HandoffStatus, UpstreamContact

__all__ = [
    "Advisory",
    "AdvisoryChange",
    "AdvisoryRevision",
    "AdvisoryState",
    "Channel",
    "DocumentKind",
    "Handoff",
    "HandoffStatus",
    "PublishedDocument",
    "SecurityTxt",
    "ThanksEntry",
    "UpstreamContact",
]
