"""The Hall of Thanks: the published credits of the ledger, by year, and the import of past entries.

The page (``/security/thanks``) lists, newest year first, everyone a published advisory credited
as finder or reporter (filed under the year it was first published), and the entries an admin
imported from before Bastion (:class:`~bastion.disclosure.models.ThanksEntry`). A person credited
twice in a year is listed once. Anonymous credits are counted, never named.

**Import format** (a text or CSV file, or pasted text), one entry per line:

- ``2019,Jane Doe`` or ``2019,Jane Doe,https://jane.example``: a year, a name, an optional link;
  quote a name that holds a comma (``2019,"Doe, Jane"``);
- or a year heading (``# 2019``, or ``2019`` alone on its line) followed by one name per line,
  optionally with its link after a comma (``Jane Doe, https://jane.example``): the shape of a
  long plain list of names such as the seeds';
- blank lines and other lines starting with ``#`` are ignored.

**All or nothing**: if any line is bad, nothing is imported and every bad line is listed with its
number and what to fix, so a corrected file can simply be imported again. A name already thanked
for that year (ignoring case), in the file or in the hall, is skipped and counted.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from bastion.accounts.models import User
from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.disclosure.models import ThanksEntry
from bastion.reports.services.credits import published_thanks

FIRST_YEAR = 1990  # before any coordinated disclosure program we could have thanked anyone in
MAX_NAME = 200  # ThanksEntry.name
MAX_LINK = 500  # ThanksEntry.link
_HEADING = re.compile(r"^(?:#+\s*)?(\d{4})\s*:?$")
_YEAR = re.compile(r"^\d{4}$")
_HTTPS_URL = URLValidator(schemes=["https"])


@dataclass(frozen=True)
class ThanksName:
    """One person thanked, with the link they chose (or were imported with), if any."""

    name: str
    link: str = ""


@dataclass(frozen=True)
class ThanksYear:
    """One year of the Hall of Thanks: the people named, and how many chose to stay anonymous."""

    year: int
    names: tuple[ThanksName, ...]
    anonymous: int


@dataclass(frozen=True)
class ThanksRow:
    """One entry read from an import, and the line it came from."""

    line: int
    year: int
    name: str
    link: str = ""


@dataclass(frozen=True)
class LineProblem:
    """Why one line of an import cannot be imported, and the line as it was."""

    line: int
    text: str
    message: str

    def __str__(self) -> str:
        return f"Line {self.line}: {self.message}"


@dataclass(frozen=True)
class ThanksImport:
    """What an import did: how many entries were added, how many were already thanked, which years."""

    imported: int
    duplicates: int
    years: tuple[int, ...]


class ThanksRejected(ValidationError):
    """An import with bad lines: nothing was imported. ``problems`` lists every bad line."""

    def __init__(self, problems: list[LineProblem]) -> None:
        self.problems = problems
        count = len(problems)
        super().__init__(
            f"Nothing was imported: {count} line{'s' if count != 1 else ''} need{'s' if count == 1 else ''} "
            "fixing. Correct them and import the whole list again.",
            code="bad_lines",
        )


def hall_of_thanks() -> list[ThanksYear]:
    """Every year of the Hall of Thanks, newest first: ledger credits and imported entries together."""
    named: dict[int, dict[str, ThanksName]] = {}
    anonymous: dict[int, int] = {}
    lines = [(line.year, line.name, line.link) for line in published_thanks()]
    lines += list(ThanksEntry.objects.values_list("year", "name", "link"))
    for year, name, link in lines:
        if not name:
            anonymous[year] = anonymous.get(year, 0) + 1
            continue
        people = named.setdefault(year, {})
        known = people.get(name.casefold())
        if known is None or (link and not known.link):
            people[name.casefold()] = ThanksName(name=name, link=link)
    years = sorted(set(named) | set(anonymous), reverse=True)
    return [
        ThanksYear(
            year=year,
            names=tuple(sorted(named.get(year, {}).values(), key=lambda person: person.name.casefold())),
            anonymous=anonymous.get(year, 0),
        )
        for year in years
    ]


def parse_thanks(text: str, *, today: date | None = None) -> tuple[list[ThanksRow], list[LineProblem]]:
    """The entries in ``text`` (see the module's format) and the problems of its bad lines."""
    this_year = (today or timezone.now().date()).year
    rows: list[ThanksRow] = []
    problems: list[LineProblem] = []
    year: int | None = None
    bad_heading = False
    for number, raw in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        line = raw.strip().lstrip("\ufeff")
        if not line:
            continue
        heading = _HEADING.fullmatch(line)
        if heading:
            year, bad_heading = int(heading.group(1)), False
            if not FIRST_YEAR <= year <= this_year:
                problems.append(LineProblem(number, line, _year_problem(year, this_year)))
                year, bad_heading = None, True
            continue
        if line.startswith("#"):
            continue
        fields = [field.strip() for field in next(csv.reader([line], skipinitialspace=True))]
        if len(fields) >= 2 and _YEAR.fullmatch(fields[0]):
            row_year, rest = int(fields[0]), fields[1:]
            if len(rest) > 2:
                problems.append(
                    LineProblem(
                        number,
                        line,
                        "Too many commas: write year,name,link, and quote a name that contains a comma.",
                    )
                )
                continue
            if not FIRST_YEAR <= row_year <= this_year:
                problems.append(LineProblem(number, line, _year_problem(row_year, this_year)))
                continue
            name, link = rest[0], rest[1] if len(rest) == 2 else ""
        else:
            if bad_heading:
                continue  # its heading was already reported: one problem, not one per name under it
            if year is None:
                problems.append(
                    LineProblem(
                        number,
                        line,
                        "No year for this name: put a heading such as “# 2019” above it, "
                        "or write “2019,Name”.",
                    )
                )
                continue
            row_year = year
            if len(fields) >= 2 and fields[-1].lower().startswith(("http://", "https://")):
                name, link = ", ".join(fields[:-1]), fields[-1]
            else:
                name, link = (fields[0] if len(fields) == 1 else line), ""
        problem = _entry_problem(name, link)
        if problem:
            problems.append(LineProblem(number, line, problem))
            continue
        rows.append(ThanksRow(line=number, year=row_year, name=name, link=link))
    return rows, problems


def _year_problem(year: int, this_year: int) -> str:
    return f"{year} is not a year we can thank anyone for: use a year from {FIRST_YEAR} to {this_year}."


def _entry_problem(name: str, link: str) -> str:
    """What is wrong with one entry's name or link ("" when nothing is)."""
    if not name:
        return "The name is empty."
    if len(name) > MAX_NAME:
        return f"The name is {len(name)} characters long; the limit is {MAX_NAME}."
    if any(not char.isprintable() for char in name):
        return "The name contains a control character; retype it."
    if link:
        if len(link) > MAX_LINK:
            return f"The link is {len(link)} characters long; the limit is {MAX_LINK}."
        try:
            _HTTPS_URL(link)
        except ValidationError:
            return "The link must be a full https:// address, such as https://example.com/you."
    return ""


def import_thanks(*, text: str, actor: ActorArg, ip: str | None = None) -> ThanksImport:
    """Import past Hall of Thanks entries from ``text`` (all or nothing; see the module's format).

    ThanksRejected, with every bad line, when any line is bad: nothing is imported then. An entry
    whose name is already thanked for its year (ignoring case) is skipped and counted. Audited
    THANKS_IMPORTED (counts and years; the names are public, but the trail needs no copy of them).
    """
    rows, problems = parse_thanks(text)
    if problems:
        raise ThanksRejected(problems)
    if not rows:
        raise ValidationError("There is no name to import in this list.", code="empty")
    imported_by = actor if isinstance(actor, User) else None
    with transaction.atomic():
        years = sorted({row.year for row in rows})
        seen = {
            (year, name.casefold())
            for year, name in ThanksEntry.objects.filter(year__in=years).values_list("year", "name")
        }
        fresh = []
        for row in rows:
            key = (row.year, row.name.casefold())
            if key in seen:
                continue
            seen.add(key)
            fresh.append(ThanksEntry(name=row.name, link=row.link, year=row.year, imported_by=imported_by))
        # ignore_conflicts: an entry another import added meanwhile is a duplicate, not an error.
        ThanksEntry.objects.bulk_create(fresh, ignore_conflicts=True)
        result = ThanksImport(imported=len(fresh), duplicates=len(rows) - len(fresh), years=tuple(years))
        data = {"imported": result.imported, "duplicates": result.duplicates, "years": list(result.years)}
        record(event=Event.THANKS_IMPORTED, actor=actor, data=data, ip=ip)
    return result
