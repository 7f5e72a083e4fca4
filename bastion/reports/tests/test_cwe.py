"""The bundled CWE list: names by number, search by number or words, and staff input checked against it."""

from __future__ import annotations

import pytest

from bastion.reports.cwe import DATA_FILE, clean_cwe, cwe_name, cwe_version, search_cwe
from bastion.reports.errors import ReportRejected


def test_the_bundled_list_names_its_source_and_holds_every_current_weakness():
    header = DATA_FILE.read_text(encoding="utf-8").splitlines()[0]

    assert "cwe2 3.0.0" in header
    assert cwe_version() == "4.14"
    assert (
        cwe_name(79) == "Improper Neutralization of Input During Web Page Generation ('Cross-site Scripting')"
    )
    assert cwe_name(352) == "Cross-Site Request Forgery (CSRF)"


def test_categories_views_and_unknown_numbers_have_no_name():
    assert cwe_name(16) is None  # Configuration: a category
    assert cwe_name(1000) is None  # Research Concepts: a view
    assert cwe_name(99999) is None
    assert cwe_name(None) is None


@pytest.mark.parametrize("query", ["79", "CWE-79", "cwe 79", " CWE79 "])
def test_a_search_by_number_puts_that_weakness_first(query):
    found = search_cwe(query)

    assert found[0].id == 79
    assert str(found[0]).startswith("CWE-79 Improper Neutralization")
    assert all(str(w.id).startswith("79") for w in found)


def test_a_search_by_words_finds_names_regardless_of_punctuation_and_case():
    assert search_cwe("cross site scripting")[0].id == 79
    assert [w.id for w in search_cwe("SQL injection")][:2] == [89, 564]
    assert 22 in [w.id for w in search_cwe("path travers")]


def test_a_search_knows_the_usual_abbreviations():
    assert search_cwe("xss")[0].id == 79
    assert search_cwe("idor")[0].id == 639


def test_a_search_is_bounded_and_empty_for_nothing():
    assert len(search_cwe("improper", limit=5)) == 5
    assert search_cwe("") == []
    assert search_cwe("   ") == []
    assert search_cwe("zzzz-no-such-weakness") == []


@pytest.mark.parametrize(
    ("value", "expected"), [(79, 79), ("79", 79), ("CWE-89", 89), ("", None), (None, None)]
)
def test_clean_cwe_accepts_numbers_in_the_usual_forms(value, expected):
    assert clean_cwe(value) == expected


def test_clean_cwe_refuses_an_unknown_number_naming_it():
    with pytest.raises(ReportRejected) as caught:
        clean_cwe("CWE-99999")

    message = caught.value.message_dict["cwe_id"][0]
    assert message.startswith("CWE-99999 is not in the bundled CWE list")
    assert "CWE 4.14" in message


@pytest.mark.parametrize("value", ["cross-site scripting", "CWE-", "79a", True])
def test_clean_cwe_refuses_what_is_not_a_number(value):
    with pytest.raises(ReportRejected) as caught:
        clean_cwe(value)

    assert "Give a CWE as a number" in caught.value.message_dict["cwe_id"][0]
