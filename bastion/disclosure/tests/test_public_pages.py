"""The public advisory pages: list, page, Atom feed, JSON index and each advisory's documents."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from django.test import Client

from bastion.accounts.models import User
from bastion.disclosure.content import PublicCredit
from bastion.disclosure.exports.testing import MINIMAL, RICH, publish_sample, sample_meta, withdrawn_meta
from bastion.disclosure.models import Advisory, AdvisoryState, PublishedDocument
from bastion.lib.openpgp import verify_detached
from bastion.vault.orgkey import get_org_public_key

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("cve_org")]
ATOM = "{http://www.w3.org/2005/Atom}"
PAGE = "/security/advisories/BASTION-SA-2026-0001"


@pytest.fixture
def published(alice: User) -> Advisory:
    return publish_sample(author=alice)


@pytest.fixture
def withdrawn(alice: User) -> Advisory:
    meta = withdrawn_meta("BASTION-SA-2026-0002", reason="Not a vulnerability after all")
    return publish_sample(
        author=alice, content=MINIMAL, meta=meta, published_at=datetime(2026, 3, 2, tzinfo=UTC)
    )


@pytest.fixture
def draft(alice: User) -> Advisory:
    """An advisory approved but never published: it must not exist publicly."""
    advisory = publish_sample(author=alice, meta=sample_meta("BASTION-SA-2026-0003"))
    Advisory.objects.filter(pk=advisory.pk).update(
        state=AdvisoryState.APPROVED, published_at=None, published=None
    )
    return advisory


def test_the_list_shows_advisories_newest_first_with_withdrawn_ones_marked(
    client: Client, published: Advisory, withdrawn: Advisory
) -> None:
    response = client.get("/security/advisories")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("BASTION-SA-2026-0002") < html.index("BASTION-SA-2026-0001")
    row = html[html.index("BASTION-SA-2026-0002") : html.index("BASTION-SA-2026-0001")]
    assert "Withdrawn" in row
    assert "Critical" in html
    assert 'type="application/atom+xml"' in html


def test_the_page_shows_everything_the_advisory_says(client: Client, published: Advisory) -> None:
    html = client.get(PAGE).content.decode()
    for text in (
        RICH.title,
        "A crafted upload makes the server run code of the uploader&#x27;s choosing.",
        "Critical",
        "9.8",
        RICH.cvss_v3,
        RICH.cvss_v4,
        "CWE-79 Improper Neutralization",
        "CVE-2026-12345",
        "Ruby on Rails Action Pack",
        "&gt;= 7.0.0, &lt; 7.1.3.1",
        "7.1.3.1",
        "No fix yet",
        "<strong>attacker</strong>",
        "<code>uploads.enabled = false</code>",
        '<a href="https://rita.example" rel="nofollow noopener noreferrer">Rita Reporter</a>',
        "Upstream Maintainers",
        "(Remediation developer)",
        "https://example.org/fix",
        "Initial publication",
        'href="/security/advisories/BASTION-SA-2026-0001/csaf.json"',
        'href="/security/advisories/BASTION-SA-2026-0001/osv.json"',
        'href="/security/advisories/BASTION-SA-2026-0001/cve.json"',
    ):
        assert text in html, text
    assert "<script>alert(1)</script>" not in html


def test_a_withdrawn_advisory_stays_readable_and_says_why(client: Client, withdrawn: Advisory) -> None:
    html = client.get("/security/advisories/BASTION-SA-2026-0002").content.decode()
    assert "Withdrawn." in html
    assert "Not a vulnerability after all" in html
    assert "Withdrawn: Not a vulnerability after all" in html  # the change log
    assert "osv.json" not in html  # a hosted service: no OSV entry, no CVE


def test_a_credit_link_that_is_not_http_is_shown_as_text(client: Client, alice: User) -> None:
    meta = sample_meta(credits=(PublicCredit("Mallory", "finder", "javascript:alert(1)"),))
    content = replace(RICH, references=("javascript:alert(2)",))
    publish_sample(author=alice, content=content, meta=meta)
    html = client.get(PAGE).content.decode()
    assert "Mallory" in html
    assert 'href="javascript:' not in html


def test_it_rejects_a_draft_with_not_found_everywhere(client: Client, draft: Advisory) -> None:
    base = "/security/advisories/BASTION-SA-2026-0003"
    for url in (base, f"{base}/csaf.json", f"{base}/osv.json", f"{base}/cve.json", f"{base}/osv.json.asc"):
        assert client.get(url).status_code == 404, url
    assert "BASTION-SA-2026-0003" not in client.get("/security/advisories").content.decode()
    assert "BASTION-SA-2026-0003" not in client.get("/security/advisories/feed.atom").content.decode()
    assert "BASTION-SA-2026-0003" not in client.get("/security/advisories/index.json").content.decode()


def test_it_rejects_an_unknown_identifier_and_redirects_a_miscased_one(
    client: Client, published: Advisory
) -> None:
    assert client.get("/security/advisories/BASTION-SA-2026-9999").status_code == 404
    response = client.get("/security/advisories/bastion-sa-2026-0001")
    assert (response.status_code, response["Location"]) == (301, PAGE)


def test_the_atom_feed_parses_and_has_each_advisory(
    client: Client, published: Advisory, withdrawn: Advisory
) -> None:
    response = client.get("/security/advisories/feed.atom")
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)  # noqa: S314 - our own server's feed, parsed in a test
    assert feed.tag == f"{ATOM}feed"
    entries = feed.findall(f"{ATOM}entry")
    titles = [entry.findtext(f"{ATOM}title") for entry in entries]
    assert titles == [
        "[Withdrawn] BASTION-SA-2026-0002: Session fixation in Widget Cloud",
        f"BASTION-SA-2026-0001: {RICH.title}",
    ]
    rich = entries[1]
    link = rich.find(f"{ATOM}link")
    assert link is not None
    assert link.get("href") == f"http://testserver{PAGE}"
    assert rich.findtext(f"{ATOM}summary") == f"Critical severity. {RICH.summary}"
    assert rich.findtext(f"{ATOM}published") == "2026-03-01T12:00:00+00:00"
    assert {c.get("term") for c in rich.findall(f"{ATOM}category")} == {"CVE-2026-12345", "Critical"}
    assert entries[0].findtext(f"{ATOM}updated") == "2026-03-05T09:30:00.123456+00:00"


def test_the_json_index_lists_each_advisory_with_its_documents(
    client: Client, published: Advisory, withdrawn: Advisory
) -> None:
    response = client.get("/security/advisories/index.json")
    assert response["Content-Type"] == "application/json"
    advisories = response.json()["advisories"]
    assert [a["identifier"] for a in advisories] == ["BASTION-SA-2026-0002", "BASTION-SA-2026-0001"]
    rich = advisories[1]
    assert rich["severity"] == "CRITICAL"
    assert rich["cvss_v3"] == {"vector": RICH.cvss_v3, "base_score": 9.8}
    assert (rich["cve"], rich["cwe"], rich["withdrawn"]) == ("CVE-2026-12345", "CWE-79", False)
    assert rich["url"] == f"http://testserver{PAGE}"
    assert rich["documents"] == {
        "csaf": f"http://testserver{PAGE}/csaf.json",
        "osv": f"http://testserver{PAGE}/osv.json",
        "cve": f"http://testserver{PAGE}/cve.json",
    }
    assert advisories[0]["withdrawn"] is True
    assert advisories[0]["severity"] is None
    assert list(advisories[0]["documents"]) == ["csaf"]


def test_csaf_json_leads_to_the_document_in_the_provider_directory(
    client: Client, published: Advisory
) -> None:
    response = client.get(f"{PAGE}/csaf.json")
    assert response.status_code == 302
    assert response["Location"] == "/.well-known/csaf/white/2026/bastion-sa-2026-0001.json"
    assert (
        json.loads(client.get(response["Location"]).content)["document"]["tracking"]["id"]
        == published.identifier
    )


@pytest.mark.parametrize("kind", ["osv", "cve"])
def test_osv_and_cve_documents_are_served_as_signed(client: Client, published: Advisory, kind: str) -> None:
    response = client.get(f"{PAGE}/{kind}.json")
    assert response["Content-Type"] == "application/json"
    stored = PublishedDocument.objects.get(advisory=published, kind=kind)
    assert response.content == stored.content.encode()
    digest = hashlib.sha256(response.content).hexdigest()
    assert client.get(f"{PAGE}/{kind}.json.sha256").content.decode() == f"{digest}  {kind}.json\n"
    signature = client.get(f"{PAGE}/{kind}.json.asc").content
    key = get_org_public_key()
    assert verify_detached(response.content, signature, signers=[key]) == key.fingerprint


def test_an_advisory_without_a_kind_of_document_has_no_such_link(client: Client, withdrawn: Advisory) -> None:
    base = "/security/advisories/BASTION-SA-2026-0002"
    assert client.get(f"{base}/osv.json").status_code == 404
    assert client.get(f"{base}/cve.json.sha256").status_code == 404
    PublishedDocument.objects.filter(advisory=withdrawn).delete()
    assert client.get(f"{base}/csaf.json").status_code == 404


def test_an_empty_list_says_so(client: Client) -> None:
    assert "No advisories have been published yet." in client.get("/security/advisories").content.decode()
    assert client.get("/security/advisories/index.json").json()["advisories"] == []


def test_a_public_form_missing_its_content_or_dates_is_not_shown_as_a_page(
    client: Client, published: Advisory
) -> None:
    Advisory.objects.filter(pk=published.pk).update(published={})
    assert client.get(PAGE).status_code == 404


def test_the_feed_copes_with_an_undated_public_form(client: Client, published: Advisory) -> None:
    form = dict(published.published or {}, initial_release="", current_release="soon")
    Advisory.objects.filter(pk=published.pk).update(published=form)
    feed = ET.fromstring(client.get("/security/advisories/feed.atom").content)  # noqa: S314 - our own feed
    entry = feed.find(f"{ATOM}entry")
    assert entry is not None
    assert entry.findtext(f"{ATOM}title") == f"BASTION-SA-2026-0001: {RICH.title}"
