"""Who sent an inbound message, as far as mail can tell: DKIM, and our MTA's Authentication-Results.

Split from ``mailparse`` (the MIME side). Neither proves much alone: DKIM vouches for a domain, not
a person, and Authentication-Results is only as trustworthy as the MTA that writes it (and strips
forged copies). Both are shown to staff, and a DKIM pass for the From domain is one of the proofs
that lets an emailed reply join its report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from email.message import Message
from typing import Any

import authres  # type: ignore[import-untyped]
import dkim  # type: ignore[import-untyped]

from bastion.lib.mailparse import guarded, printable, values

MAX_DKIM_SIGNATURES = 4  # each costs a DNS lookup: a message must not make us query without end
MAX_AUTH_RESULTS = 32
DnsLookup = Callable[..., bytes | str | None]
# dkimpy logs each failed check at ERROR (domain and selector only, no content); under our name, so
# the project's logging settings decide where a sender's stream of bad signatures goes.
_DKIM_LOG = logging.getLogger(f"{__name__}.dkim")


def trusted_results(msg: Message, trusted_authserv_ids: Sequence[str]) -> tuple[str, ...]:
    """Results of the Authentication-Results fields our own MTA (or provider) wrote: those whose
    authserv-id is trusted. The MTA must strip fields bearing its id from incoming mail (RFC 8601
    section 5), or a sender could forge them."""
    trusted = {t.strip().lower() for t in trusted_authserv_ids}
    results: list[str] = []
    for value in values(msg, "authentication-results") if trusted else []:
        header = _auth_results(value)
        if header is not None and str(header.authserv_id).lower() in trusted:
            results.extend(printable(str(result), 500) for result in header.results)
    return tuple(results[:MAX_AUTH_RESULTS])


def _auth_results(value: str) -> Any:
    try:
        return authres.AuthenticationResultsHeader.parse_value(value)
    except Exception:  # authres raises its own SyntaxError, and plain errors on some malformed input
        return None


def system_dns() -> DnsLookup:
    """dkimpy's own TXT lookup (through dnspython and the system resolver), for production use."""
    lookup: DnsLookup = dkim.dnsplug.get_txt
    return lookup


def dkim_result(raw: bytes, msg: Message, dns: DnsLookup | None) -> tuple[str, tuple[str, ...]]:
    """The DKIM result (RFC 8601 words, plus "unchecked" when no ``dns`` is given) and the domains
    whose signatures pass. ``dns(name: bytes, timeout=...)`` returns the TXT record or None."""
    signed = len(values(msg, "dkim-signature"))
    if not signed:
        return "none", ()
    if dns is None:
        return "unchecked", ()
    checker = guarded(lambda: dkim.DKIM(raw, logger=_DKIM_LOG), None)  # raises on a header it cannot split
    if checker is None:
        return "permerror", ()
    results = [_dkim_one(checker, idx, dns) for idx in range(min(signed, MAX_DKIM_SIGNATURES))]
    domains = tuple(dict.fromkeys(domain for result, domain in results if result == "pass"))
    verdicts = {result for result, _ in results}
    return next(v for v in _DKIM_PRECEDENCE if v in verdicts), domains


# One signature that passes is enough; a failure to look a key up says more than a failed check.
_DKIM_PRECEDENCE = ("pass", "temperror", "fail", "policy", "permerror")


def _dkim_one(checker: Any, idx: int, dns: DnsLookup) -> tuple[str, str]:
    trouble: list[str] = []

    def lookup(name: bytes, timeout: int = 5) -> bytes | str | None:
        try:
            record = dns(name, timeout=timeout)
        except Exception as exc:  # the caller's resolver failed: temporary (RFC 6376 section 6.1.2)
            trouble.append("temperror")
            raise dkim.DnsTimeoutError(type(exc).__name__) from exc
        if not record:
            trouble.append("permerror")  # no key published: a permanent error, not a forgery
        return record

    try:
        tags = checker.verify_headerprep(idx)[0]
        passed = checker.verify(idx=idx, dnsfunc=lookup)
    except dkim.ValidationError as exc:  # dkimpy reports a changed body this way, not by returning False
        return ("fail" if "body hash mismatch" in str(exc) else "permerror"), ""
    except Exception:  # other DKIMExceptions, and plain errors on some malformed signatures
        return "permerror", ""
    domain = printable(tags.get(b"d", b"").decode("ascii", "replace"), 253).lower()
    if passed:
        # l= signs only a prefix of the body: anything appended later would pass too.
        return ("policy" if b"l" in tags else "pass"), domain
    return (trouble[0] if trouble else "fail"), domain
