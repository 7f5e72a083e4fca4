"""Issue 7's browser walk: from a triaged report to a fixed upstream issue to an advisory published
at the embargo instant, every step a person takes done in Debian's chromium.

alice triages rita's report and embargoes it (typing the end in Kolkata time); rita, through her magic
link, acknowledges the embargo, lets us name her upstream and chooses her credit; alice hands the
report to uma's project, follows it to fixed, drafts the advisory; bob approves it in his own
browser; alice schedules it for the embargo's end. Only the worker's part runs outside the browser:
the every-minute publication task, at one second before the instant and at the instant itself. Then
anyone reads the advisory, its exports, the feed and the Hall of Thanks, and rita's timeline says it
was published. No page logs a console error or a CSP violation along the way.

The whole walk runs on a travelling clock (time_machine, ticking), so the embargo instant stays a
fixed date in the future of the walk whatever the day the suite runs; chromium's own clock is not
moved, which nothing here depends on (cookies carry a Max-Age, sessions are judged by the server).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import pytest
import time_machine
from django.contrib.staticfiles import finders
from django.core import mail
from django.test import Client
from playwright.sync_api import Browser, Page
from pytest_django.fixtures import Settings
from pytest_django.live_server_helper import LiveServer

from bastion.accounts.models import User
from bastion.disclosure.models import Advisory, Handoff, HandoffStatus, UpstreamContact
from bastion.disclosure.publish_tasks import publish_due_advisories
from bastion.lib.openpgp import generate_org_key
from bastion.reports.models import Channel, Embargo, Report, Status
from bastion.reports.models.credit import Appearance
from bastion.reports.services import Submission, submit_report
from bastion.reports.services.credits import ensure_reporter_credit
from bastion.test import rita, uma
from bastion.triage.models import CannedResponse
from bastion.vault.keys import FileKeyProvider

# The walk starts on a Monday morning; the embargo ends two weeks later at 14:00 UTC, which alice
# types as 19:30 in Kolkata (UTC+05:30) and reads as 15:00 in Paris, her own zone.
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EMBARGO_END = datetime(2026, 3, 16, 14, 0, tzinfo=UTC)
CVE_ID = "CVE-2026-4242"
HANDLE, LINK = "rita_r", "https://rita.example/"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    """A clock that starts at T0 and runs on, until the test moves it."""
    with time_machine.travel(T0, tick=True) as traveller:
        yield traveller


@pytest.fixture
def site(private_keys: FileKeyProvider, settings: Settings, live_server: LiveServer) -> str:
    """The live server's address, as every link and export names this site; a CNA for CVE records."""
    settings.BASE_URL = live_server.url
    settings.PUBLISHER_NAMESPACE = live_server.url
    settings.DEFAULT_FROM_EMAIL = "security@bastion.example"
    settings.CVE_ORG_ID = "b3476cb9-2e8b-4f5c-a4e1-0f1a3b5c7d9e"
    return str(live_server.url)


def sign_in(page: Page, site: str, user: User) -> None:
    """Put a session made by ``force_login`` into the page's browser context (staff have MFA)."""
    client = Client()
    client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": site}])


def browser_tab(browser: Browser, problems: list[str]) -> Page:
    """A page in a new browser context (its own cookies: another person), reporting into ``problems``."""
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return page


def submitted_report() -> tuple[Report, str]:
    """rita's report through the web channel, and the magic link her receipt gives her."""
    result = submit_report(
        submission=Submission(
            title="Path traversal in attachment downloads",
            description="A crafted file name reads files outside the upload directory.",
            product="Action Pack",
            version="7.1.3",
            steps="1. Upload a file\n2. GET /attachments/..%2f..%2fetc%2fpasswd",
            impact="Any signed-in user reads any file the app can read.",
            reporter_name=rita.full_name,
            reporter_handle="rita",
            email=rita.email,
            credit_preference="name",
            time_zone="America/New_York",
        ),
        attachments=[],
        channel=Channel.WEB,
        policy_version=1,
        actor=None,
        ip="192.0.2.10",
    )
    return result.report, result.portal_url


def failing_checks(page: Page) -> set[str]:
    """The pre-publish checklist's items that do not hold, as the advisory's page shows them."""
    page.locator("#checklist").wait_for()
    return set(page.locator("#checklist li.check-fail").evaluate_all("els => els.map(e => e.dataset.check)"))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_report_walks_from_triage_to_an_advisory_published_at_the_embargo_instant(
    browser_page: tuple[Page, list[str]], site: str, clock: time_machine.Traveller, alice: User, bob: User
) -> None:
    page, problems = browser_page
    browser = page.context.browser
    assert browser is not None
    # Live-server tests flush the tables, data migrations' rows included: say what the team wrote.
    CannedResponse.objects.update_or_create(
        status=Status.TRIAGED, is_default=True, defaults={"title": "Confirmed", "body": "Confirmed."}
    )
    User.objects.filter(pk=alice.pk).update(time_zone="Europe/Paris")
    report, magic_link = submitted_report()
    tracking_id = report.tracking_id
    uma_key = generate_org_key(f"{uma.full_name} <{uma.email}>")

    # 1. alice triages the report and embargoes it until E, typed on a Kolkata wall clock.
    sign_in(page, site, alice)
    page.goto(f"{site}/triage/")
    page.get_by_role("link", name=tracking_id).click()
    page.wait_for_url(f"**/triage/{tracking_id}/")
    page.get_by_role("combobox", name="New status").select_option("triaged")
    page.get_by_role("button", name="Change status").click()
    page.get_by_text("Status changed from New to Triaged.").wait_for()

    page.locator("#embargo summary", has_text="Set an embargo").click()
    page.locator("#embargo_set_ends_at").fill("2026-03-16T19:30")
    page.locator("#embargo_set_time_zone").select_option("Asia/Kolkata")
    page.locator("#embargo_set_reason").fill("Rails ships the fix in its release of 16 March.")
    page.get_by_role("button", name="Set embargo").click()
    page.get_by_text("Embargoed until 16 March 2026, 15:00 CET (Europe/Paris).").wait_for()
    assert "16 March 2026, 14:00 UTC" in page.locator("#embargo-state").inner_text()
    assert Embargo.objects.get(report=report).ends_at == EMBARGO_END

    # 2. rita, through her magic link: acknowledges, may be named upstream, chooses her credit.
    reporter = browser_tab(browser, problems)
    reporter.goto(magic_link)
    assert "16 Mar 2026, 10:00" in reporter.locator("#embargo-end").inner_text()  # New York, EDT
    reporter.get_by_role("button", name="I acknowledge this embargo").click()
    reporter.locator("#embargo-acknowledged").wait_for()
    reporter.check("#upstream-form input[name=upstream_consent][value=yes]")
    reporter.get_by_role("button", name="Save my answer").click()
    reporter.get_by_text("Saved: we may give your name and handle").wait_for()
    reporter.check("#credit-form input[name=appearance][value=link]")
    reporter.fill("#id_name", "")
    reporter.fill("#id_handle", HANDLE)
    reporter.fill("#id_link", LINK)
    reporter.locator("#credit-form button[type=submit]").click()
    reporter.wait_for_url("**#credit")
    assert reporter.locator("#credit-preview-name a").inner_text() == HANDLE
    assert reporter.locator("#credit-state").inner_text() == "Not confirmed yet"
    reporter.locator("#credit-confirm").click()
    reporter.locator("#credit-state").filter(has_text=re.compile("^Confirmed$")).wait_for()
    credit = ensure_reporter_credit(report)
    assert (credit.appearance, credit.confirmed_at is not None) == (Appearance.LINK, True)

    # 3. alice puts uma's project in the directory, hands the report over, follows it to fixed.
    page.goto(f"{site}/disclosure/upstreams/new")
    page.get_by_label("Project").fill("Ruby on Rails")
    page.get_by_label("Ecosystem").select_option("RubyGems")
    page.get_by_label("Packages").fill("actionpack")
    page.get_by_label("Contact name").fill(uma.full_name)
    page.get_by_label("Email address").fill(uma.email)
    page.get_by_label("OpenPGP public key").fill(uma_key.armored_public())
    page.get_by_label("Preferred channel").select_option("email")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Ruby on Rails: contact saved.").wait_for()

    page.goto(f"{site}/triage/{tracking_id}/")
    page.get_by_role("link", name="Hand over to upstream…").click()
    page.locator("#id_contact").select_option(label="Ruby on Rails")
    page.get_by_label("Impact").check()
    page.get_by_label("Name the reporter").check()
    page.get_by_label("Deadline").fill("2026-03-14T12:00")
    page.get_by_role("button", name="Send by encrypted email").click()
    page.get_by_text("The packet for Ruby on Rails is on its way").wait_for()
    to_uma = [message.message() for message in mail.outbox if uma.email in message.to]
    assert any("multipart/encrypted" in m.get_content_type() for m in to_uma)

    page.get_by_label("Status").select_option("acknowledged")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved: Ruby on Rails is acknowledged.").wait_for()
    page.get_by_label("Status").select_option("fixed")
    page.get_by_label("CVE ID").fill(CVE_ID)
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved: Ruby on Rails is fixed.").wait_for()
    handoff = Handoff.objects.get(report=report, contact=UpstreamContact.objects.get())
    assert (handoff.status, handoff.cve_id, handoff.identity_shared) == (HandoffStatus.FIXED, CVE_ID, True)

    # 4. alice drafts the advisory from the report and writes it.
    page.goto(f"{site}/triage/{tracking_id}/")
    page.get_by_role("link", name="Draft an advisory").click()
    page.get_by_role("button", name="Draft it").click()
    page.wait_for_url("**/edit")
    page.get_by_label("Title").fill("Path traversal in Action Pack attachment downloads")
    page.get_by_label("Summary").fill("A crafted file name lets a signed-in user read files on the server.")
    page.get_by_label("Description").fill("Action Pack joined the file name to the upload root unchecked.")
    page.locator("#id_affected-0-product").fill("Action Pack")
    page.locator("#id_affected-0-vendor").fill("Ruby on Rails")
    page.locator("#id_affected-0-ecosystem").select_option("RubyGems")
    page.locator("#id_affected-0-package").fill("actionpack")
    page.locator("#id_affected-0-introduced").fill("7.0.0")
    page.locator("#id_affected-0-fixed").fill("7.1.3.1")
    page.get_by_label("CVE ID").fill(CVE_ID)
    page.get_by_label("References").fill("https://rubyonrails.org/2026/3/16/security-release")
    page.get_by_role("button", name="Save as a new revision").click()
    page.get_by_text("saved as a new revision").wait_for()
    advisory = Advisory.objects.get()
    identifier = advisory.identifier
    assert failing_checks(page) == {"embargo", "schedule", "approval", "notified"}

    page.get_by_role("button", name="Submit for review").click()
    page.get_by_text(f"{identifier} is in review").wait_for()

    # bob may see an embargoed report only once granted on it; alice grants him from the panel.
    page.goto(f"{site}/triage/{tracking_id}/")
    page.locator("#embargo_grant_user").select_option(label=f"{bob.full_name} <{bob.email}>")
    page.get_by_role("button", name="Grant").click()
    page.get_by_text(f"{bob.full_name} may now see this report.").wait_for()

    reviewer = browser_tab(browser, problems)
    sign_in(reviewer, site, bob)
    reviewer.goto(f"{site}/disclosure/advisories/{identifier}/")
    reviewer.get_by_role("button", name="Approve revision").click()
    reviewer.get_by_text(f"{identifier} approved.").wait_for()
    assert failing_checks(reviewer) == {"embargo", "schedule", "notified"}

    # alice plans it: the date offered is the embargo's end, on her Paris clock.
    page.goto(f"{site}/disclosure/advisories/{identifier}/")
    assert page.get_by_label("Publish at").input_value() == "2026-03-16T15:00"
    page.get_by_role("button", name="Plan the publication").click()
    page.get_by_text(f"{identifier} is planned").wait_for()
    assert failing_checks(page) == {"embargo", "schedule"}
    advisory.refresh_from_db()
    assert advisory.publish_at == EMBARGO_END

    # 5. The worker's every-minute task: nothing a second before the instant; published at it.
    anyone = browser_tab(browser, problems)
    clock.move_to(EMBARGO_END - timedelta(seconds=1), tick=False)
    assert publish_due_advisories.call() == 0
    anyone.goto(f"{site}/security/advisories")
    anyone.get_by_text("No advisories have been published yet.").wait_for()
    assert anyone.get_by_role("link", name=identifier).count() == 0
    # Two weeks on, alice's session has long expired: she signs in again to look.
    sign_in(page, site, alice)
    page.reload()
    assert failing_checks(page) == {"embargo", "schedule"}

    clock.move_to(EMBARGO_END, tick=False)
    page.reload()
    assert failing_checks(page) == set()  # everything holds: the worker may publish it now
    assert page.get_by_role("button", name="Publish now").is_visible()
    assert publish_due_advisories.call() == 1
    advisory.refresh_from_db()
    assert advisory.published_at == EMBARGO_END
    clock.move_to(EMBARGO_END + timedelta(minutes=5), tick=True)

    # 6. Anyone reads it: rita credited exactly as she chose, and its three exports.
    anyone.goto(f"{site}/security/advisories")
    anyone.get_by_role("link", name=identifier).click()
    anyone.wait_for_url(f"**/security/advisories/{identifier}")
    credits = anyone.locator("section[aria-labelledby=credits-title] li")
    assert credits.count() == 1
    assert credits.locator("a").inner_text() == HANDLE
    assert credits.locator("a").get_attribute("href") == LINK
    assert rita.full_name not in anyone.locator("article").inner_text()
    # Each export, followed from the page, names the advisory and credits her as she chose.
    exports: list[tuple[str, Callable[[Any], object], object]] = [
        (
            "CSAF 2.0",
            lambda doc: (doc["document"]["tracking"]["id"], doc["document"]["acknowledgments"]),
            (identifier, [{"names": [HANDLE], "summary": "Finder", "urls": [LINK]}]),
        ),
        (
            "OSV",
            lambda doc: (doc["id"], doc["aliases"], doc["credits"]),
            (identifier, [CVE_ID], [{"name": HANDLE, "contact": [LINK], "type": "FINDER"}]),
        ),
        (
            "CVE JSON 5.1 (CNA container)",  # a CVE credit has no link: her handle alone
            lambda doc: (doc["source"]["advisory"], doc["credits"]),
            (identifier, [{"lang": "en", "type": "finder", "value": HANDLE}]),
        ),
    ]
    for name, read, expected in exports:
        with anyone.expect_response(lambda r: r.url.endswith(".json") and r.status == 200) as answer:
            anyone.get_by_role("link", name=name, exact=True).click()
        assert answer.value.headers["content-type"] == "application/json", name
        assert read(json.loads(answer.value.body())) == expected, name
        anyone.go_back()

    anyone.get_by_role("link", name="Security advisories").click()
    feed_url = anyone.get_by_role("link", name="Atom feed").get_attribute("href")
    feed_xml = anyone.context.request.get(f"{site}{feed_url}").body()
    feed = ElementTree.fromstring(feed_xml)  # noqa: S314  (our own server's feed, parsed in a test)
    entries = {
        entry.findtext(f"{ATOM}title") or "": [link.get("href") for link in entry.iter(f"{ATOM}link")]
        for entry in feed.iter(f"{ATOM}entry")
    }
    [(title, links)] = entries.items()
    assert identifier in title
    assert f"{site}/security/advisories/{identifier}" in links

    anyone.goto(f"{site}/security/thanks")
    thanked = anyone.locator("#year-2026 a", has_text=HANDLE)
    assert thanked.get_attribute("href") == LINK

    # rita's portal: what went upstream and where it stands, and the publication on her timeline.
    reporter.goto(magic_link)
    forwarded = reporter.locator("#upstream-handoffs").inner_text()
    assert "Forwarded to Ruby on Rails" in forwarded
    assert "your identity: shared, as you agreed" in forwarded
    assert f"Fixed {CVE_ID}" in forwarded
    assert f"{identifier} was published." in reporter.locator(".portal-timeline").inner_text()
    assert problems == []


def test_a_browser_asking_for_favicon_ico_is_sent_to_the_site_icon(client: Client) -> None:
    # A JSON export or a feed names no icon, so the browser asks for /favicon.ico; a 404 there is a
    # console error on every such page (the walk above opens three).
    response = client.get("/favicon.ico")
    assert (response.status_code, response["Location"]) == (302, "/static/bastion/favicon.svg")
    assert finders.find("bastion/favicon.svg") is not None
