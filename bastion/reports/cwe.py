"""The bundled CWE list: look a weakness up by number, search it by words, and check staff input.

``data/cwe.tsv`` holds every CWE 4.14 weakness that is not deprecated (id and name), taken from the
data the ``cwe2`` package ships (its header says exactly where from, under MITRE's terms). It is
bundled rather than fetched: Bastion makes no network calls to classify a report, and the list a
report was classified against does not change under it. Categories and views are left out, as are
deprecated weaknesses: MITRE's mapping guidance prohibits classifying a vulnerability under them.

To refresh it: ``pip download cwe2==<version> --no-deps``, then write ``CWE-ID`` and ``Name`` of
``cwe2/database_v*/navigate_cwe/1000.csv`` (view 1000 holds every current weakness), sorted by id,
under the same header.

The file is read once, on first use, and kept (about 50 KB).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from bastion.reports.errors import ReportRejected

DATA_FILE = Path(__file__).resolve().parent / "data" / "cwe.tsv"
_ID = re.compile(r"^(?:CWE)?[\s:_-]*(\d{1,6})$", re.IGNORECASE)
_NOT_WORD = re.compile(r"[^0-9a-z]+")
# Names people search by that the official titles do not contain. Kept short on purpose: most
# common names (CSRF, SSRF, "SQL Injection", "Open Redirect") are already in the titles.
_ALIASES = {79: "xss", 89: "sqli", 611: "xxe", 639: "idor"}


@dataclass(frozen=True)
class Weakness:
    """One CWE entry: its number and official name."""

    id: int
    name: str

    @property
    def label(self) -> str:
        """``CWE-79``."""
        return f"CWE-{self.id}"

    def __str__(self) -> str:
        return f"{self.label} {self.name}"


@dataclass(frozen=True)
class _Catalog:
    version: str
    by_id: dict[int, Weakness]
    # (weakness, its name and aliases lower-cased with punctuation turned into spaces, padded)
    searchable: list[tuple[Weakness, str]]


@functools.cache
def _catalog() -> _Catalog:
    by_id: dict[int, Weakness] = {}
    version = ""
    with DATA_FILE.open(encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("#"):
                version = version or _version_in(line)
                continue
            number, _, name = line.rstrip("\n").partition("\t")
            if number:
                by_id[int(number)] = Weakness(int(number), name)
    searchable = [(w, f" {_words(w.name)} {_words(_ALIASES.get(w.id, ''))} ") for w in by_id.values()]
    return _Catalog(version=version, by_id=by_id, searchable=searchable)


def _version_in(header: str) -> str:
    found = re.match(r"#\s*CWE\s+([\d.]+)", header)
    return found.group(1) if found else ""


def _words(text: str) -> str:
    return " ".join(_NOT_WORD.sub(" ", text.casefold()).split())


def cwe_version() -> str:
    """The CWE release the bundled list comes from (``"4.14"``)."""
    return _catalog().version


def weakness(cwe_id: int) -> Weakness | None:
    """The weakness numbered ``cwe_id``, or None if it is not in the bundled list."""
    return _catalog().by_id.get(cwe_id)


def cwe_name(cwe_id: int | None) -> str | None:
    """The official name of ``CWE-<cwe_id>``, or None if it is not in the bundled list."""
    found = weakness(cwe_id) if cwe_id is not None else None
    return found.name if found else None


def search_cwe(query: str, limit: int = 20) -> list[Weakness]:
    """Weaknesses matching ``query``: a number (``79``, ``CWE-79``) or words (``cross site script``).

    By number: that weakness first, then those whose number starts with the digits typed so far
    (a search box asks as the person types). By words: entries whose name holds every word (as a
    word prefix, so ``script`` finds "Scripting"); those holding the words as one phrase come
    first, then by number, so the general entry comes before its variants.
    """
    text = (query or "").strip()
    if not text or limit <= 0:
        return []
    catalog = _catalog()
    number = _ID.match(text)
    if number:
        digits = number.group(1).lstrip("0") or "0"
        exact = [catalog.by_id[int(digits)]] if int(digits) in catalog.by_id else []
        starts = [w for w in catalog.by_id.values() if str(w.id).startswith(digits) and str(w.id) != digits]
        return (exact + sorted(starts, key=lambda w: w.id))[:limit]
    words = _words(text).split()
    if not words:
        return []
    phrase = " " + " ".join(words)
    hits = [
        (phrase not in haystack, w.id, w)
        for w, haystack in catalog.searchable
        if all(f" {word}" in haystack for word in words)
    ]
    return [w for _, _, w in sorted(hits, key=lambda hit: hit[:2])][:limit]


def clean_cwe(value: int | str | None) -> int | None:
    """The CWE number staff gave (``79``, ``"79"``, ``"CWE-79"``), or None for nothing (clearing it).

    ReportRejected naming ``cwe_id`` for anything else, or for a number not in the bundled list.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ReportRejected("cwe_id", "Give a CWE as a number, such as 79 or CWE-79.")
    if isinstance(value, int):
        number = value
    else:
        found = _ID.match(str(value).strip())
        if not found:
            raise ReportRejected(
                "cwe_id", "Give a CWE as a number, such as 79 or CWE-79 (search by name to find it)."
            )
        number = int(found.group(1))
    if weakness(number) is None:
        raise ReportRejected(
            "cwe_id",
            f"CWE-{number} is not in the bundled CWE list (the weaknesses of CWE {cwe_version()}; "
            "categories, views and deprecated entries are not used to classify a report). "
            "Search by name to find the weakness that fits.",
            code="unknown_cwe",
        )
    return number
