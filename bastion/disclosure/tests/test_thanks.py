"""The Hall of Thanks: by year, from the ledger and imported entries; importing, by page and by command."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from bastion.audit.events import ActorKind, Event
from bastion.audit.models import AuditEvent
from bastion.disclosure.models import ThanksEntry
from bastion.disclosure.services.thanks import ThanksRejected, import_thanks, parse_thanks
from bastion.reports.services import reporter_actor
from bastion.reports.services.credits import (
    choose_credit,
    confirm_credit,
    ensure_reporter_credit,
    mark_credits_published,
)
from bastion.reports.tests.conftest import private_vault, submit  # noqa: F401  (fixtures)
from bastion.test import rita

pytestmark = pytest.mark.django_db

# The shape of a long plain list of names kept before Bastion: year headings, one name per line.
SEEDS = """# 2019
Jane Doe
John Smith (@jsmith)

# 2018
Ola Nordmann, https://ola.example
jane doe
"""


def published(report, at: datetime, **choice) -> None:
    credit = ensure_reporter_credit(report)
    if choice:
        choose_credit(credit=credit, actor=reporter_actor(report), **choice)
    confirm_credit(credit=credit, actor=reporter_actor(report))
    mark_credits_published(reports=[report], at=at, actor=None)


def page_text(client) -> str:
    response = client.get("/security/thanks")
    assert response.status_code == 200
    return response.content.decode()


def test_the_hall_lists_credits_and_imported_entries_by_year_newest_first(client, submit):  # noqa: F811
    published(
        submit().report,
        datetime(2026, 4, 2, tzinfo=UTC),
        appearance="link",
        handle="rita",
        link="https://rita.example",
    )
    import_thanks(text=SEEDS, actor=None)

    page = page_text(client)

    years = re.findall(r'<h2 id="year-(\d{4})-title">', page)
    assert years == ["2026", "2019", "2018"]
    assert '<a href="https://rita.example" rel="nofollow noopener ugc">rita</a>' in page
    assert '<a href="https://ola.example" rel="nofollow noopener ugc">Ola Nordmann</a>' in page
    assert "John Smith (@jsmith)" in page


def test_anonymous_researchers_are_counted_and_never_named(client, submit):  # noqa: F811
    published(submit().report, datetime(2026, 4, 2, tzinfo=UTC), appearance="anonymous")
    published(
        submit(title="Another", reporter_name="Sam", email="sam@example.org").report,
        datetime(2026, 5, 2, tzinfo=UTC),
        appearance="anonymous",
    )
    import_thanks(text="2026,Jane Doe", actor=None)

    page = page_text(client)

    assert "and 2 anonymous researchers" in page
    assert rita.full_name not in page
    assert "Sam" not in page


def test_a_person_thanked_twice_in_a_year_is_listed_once(client, submit):  # noqa: F811
    published(submit().report, datetime(2026, 4, 2, tzinfo=UTC))
    import_thanks(text=f"2026,{rita.full_name.upper()}", actor=None)

    page = page_text(client)

    assert page.count(rita.full_name) + page.count(rita.full_name.upper()) == 1


def test_an_empty_hall_says_so(client):
    assert 'id="thanks-empty"' in page_text(client)


def test_it_reads_headings_csv_lines_quoted_commas_and_links():
    text = '# 2019\nJane Doe\n2020,"Doe, John",https://john.example\n2021,Ana\n# a comment\n2019\nSmith, Jo\n'

    rows, problems = parse_thanks(text, today=date(2026, 1, 1))

    assert problems == []
    assert [(row.year, row.name, row.link) for row in rows] == [
        (2019, "Jane Doe", ""),
        (2020, "Doe, John", "https://john.example"),
        (2021, "Ana", ""),
        (2019, "Smith, Jo", ""),
    ]


def test_bad_lines_are_each_named_and_nothing_is_imported():
    text = (
        "Early Bird\n# 1970\nUnder A Bad Heading\n# 2019\nJane Doe, http://jane.example\n"
        "2019,A,https://a.example,x\n2999,Future\nGood Name\n"
    )

    with pytest.raises(ThanksRejected) as refused:
        import_thanks(text=text, actor=None)

    problems = {problem.line: problem.message for problem in refused.value.problems}
    assert sorted(problems) == [1, 2, 5, 6, 7]
    assert "put a heading such as “# 2019” above it" in problems[1]
    assert "1970 is not a year" in problems[2]
    assert "full https:// address" in problems[5]
    assert "Too many commas" in problems[6]
    assert "2999 is not a year" in problems[7]
    assert "Nothing was imported: 5 lines need fixing" in refused.value.messages[0]
    assert not ThanksEntry.objects.exists()
    assert not AuditEvent.objects.filter(event=Event.THANKS_IMPORTED).exists()


def test_names_already_thanked_for_a_year_are_skipped_and_counted():
    first = import_thanks(text=SEEDS, actor=None)
    again = import_thanks(text=SEEDS + "# 2019\nNew Person\n", actor=None)

    assert (first.imported, first.duplicates) == (4, 0)
    assert (again.imported, again.duplicates) == (1, 4)
    assert ThanksEntry.objects.filter(year=2018).count() == 2  # "jane doe" in 2018 is another year's entry
    rows = AuditEvent.objects.filter(event=Event.THANKS_IMPORTED).order_by("id")
    assert [row.data for row in rows] == [
        {"imported": 4, "duplicates": 0, "years": [2018, 2019]},
        {"imported": 1, "duplicates": 4, "years": [2018, 2019]},
    ]


def test_the_command_imports_a_file(tmp_path):
    path = tmp_path / "thanks.txt"
    path.write_text(SEEDS, encoding="utf-8")
    out = io.StringIO()

    call_command("thanks", "import", str(path), stdout=out)

    assert "Imported 4 name(s) into the Hall of Thanks (2018, 2019)." in out.getvalue()
    row = AuditEvent.objects.get(event=Event.THANKS_IMPORTED)
    assert (row.actor_kind, row.actor_label) == (ActorKind.SYSTEM, "system (bastion thanks)")


def test_the_command_lists_bad_lines_and_imports_nothing(tmp_path):
    path = tmp_path / "thanks.txt"
    path.write_text("# 2019\nJane Doe\n2019,Bad,ftp://x\n", encoding="utf-8")
    err = io.StringIO()

    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("thanks", "import", str(path), stderr=err)

    assert "line 3: The link must be a full https:// address" in err.getvalue()
    assert not ThanksEntry.objects.exists()


def test_the_command_refuses_a_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "thanks.txt"
    path.write_bytes("# 2019\nJosé\n".encode("latin-1"))

    with pytest.raises(CommandError, match="not UTF-8"):
        call_command("thanks", "import", str(path))


def test_an_admin_imports_an_uploaded_file(client_as, dave):
    upload = SimpleUploadedFile("thanks.csv", ("\ufeff" + SEEDS).encode("utf-8"), content_type="text/csv")

    admin = client_as(dave)

    response = admin.post(reverse("disclosure_staff:thanks_import"), {"file": upload})

    assert response.status_code == 303
    assert ThanksEntry.objects.count() == 4
    assert set(ThanksEntry.objects.values_list("imported_by", flat=True)) == {dave.pk}
    page = admin.get(response["Location"]).content.decode()
    assert "4 names were added to the Hall of Thanks." in page


def test_bad_lines_on_the_page_are_listed_and_the_text_is_kept(client_as, dave):
    text = "Jane Doe\n# 2019\nJohn Smith\n"

    response = client_as(dave).post(reverse("disclosure_staff:thanks_import"), {"text": text})

    assert response.status_code == 400
    page = response.content.decode()
    assert "Line 1" in page
    assert "No year for this name" in page
    assert "John Smith" in page  # what was pasted is shown again
    assert not ThanksEntry.objects.exists()


def test_an_upload_that_is_not_utf8_is_refused_with_what_to_do(client_as, dave):
    upload = SimpleUploadedFile("thanks.txt", "# 2019\nJosé\n".encode("latin-1"), content_type="text/plain")

    response = client_as(dave).post(reverse("disclosure_staff:thanks_import"), {"file": upload})

    assert response.status_code == 400
    assert "save it as UTF-8" in response.content.decode()


def test_it_rejects_triagers_and_visitors_on_the_import_page(client, client_as, alice):
    url = reverse("disclosure_staff:thanks_import")

    assert client_as(alice).post(url, {"text": "2019,Mallory"}).status_code == 403
    anonymous = client.post(url, {"text": "2019,Mallory"})
    assert anonymous.status_code == 302
    assert "/accounts/login/" in anonymous["Location"]
    assert not ThanksEntry.objects.exists()
