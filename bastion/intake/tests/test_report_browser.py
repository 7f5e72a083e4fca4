"""In a real browser, under the strict CSP: send a report with a file, verify its receipt with gpg,
and keep a draft across a reload."""

from __future__ import annotations

import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def gpg_home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    yield home
    # Every gpg homedir starts an agent; stop it, or each test run leaves one behind.
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False)


def test_a_reporter_sends_a_report_and_verifies_the_receipt_with_gpg(
    live_server, browser_page, tmp_path, gpg_home
):
    page, problems = browser_page
    poc = tmp_path / "poc.txt"
    poc.write_text("curl -d 'q=1 OR 1=1' https://shop.example/search\n")

    page.goto(live_server.url + "/security")
    page.get_by_role("link", name="Report a vulnerability").click()
    page.get_by_label("Title").fill("SQL injection in search")
    page.get_by_label("Description").fill("The `q` parameter reaches SQL unescaped.")
    page.get_by_label("Product or asset").fill("shop.example")
    page.set_input_files("input[name=attachments]", str(poc))
    page.get_by_role("button", name="Send report").click()

    page.wait_for_url("**/security/report/received/*")
    tracking_id = page.locator("[data-tracking-id]").inner_text()
    assert tracking_id.startswith("BST-")
    receipt = page.locator("[data-receipt]").inner_text()
    assert f"Tracking ID: {tracking_id}" in receipt

    (tmp_path / "receipt.asc").write_text(receipt if receipt.endswith("\n") else receipt + "\n")
    with urllib.request.urlopen(live_server.url + "/.well-known/security-key.asc") as response:  # noqa: S310
        (tmp_path / "security-key.asc").write_bytes(response.read())
    gpg = ["gpg", "--homedir", str(gpg_home), "--batch"]
    subprocess.run([*gpg, "--import", str(tmp_path / "security-key.asc")], check=True, capture_output=True)
    verified = subprocess.run(
        [*gpg, "--verify", str(tmp_path / "receipt.asc")], capture_output=True, text=True
    )
    assert verified.returncode == 0, verified.stderr
    assert "Good signature" in verified.stderr
    assert problems == []


def test_the_draft_survives_a_reload_and_is_cleared_once_received(live_server, browser_page):
    page, problems = browser_page
    page.goto(live_server.url + "/security/report")
    page.get_by_label("Title").fill("Draft title")
    page.get_by_label("Description").press_sequentially("Typed by hand")

    page.reload()
    assert page.get_by_label("Description").input_value() == "Typed by hand"
    page.goto(live_server.url + "/security")
    page.goto(live_server.url + "/security/report")  # a fresh load: the browser restores nothing itself
    assert page.get_by_label("Title").input_value() == "Draft title"
    assert page.get_by_label("Description").input_value() == "Typed by hand"

    page.get_by_role("button", name="Send report").click()
    page.wait_for_url("**/security/report/received/*")
    page.goto(live_server.url + "/security/report")
    assert page.get_by_label("Title").input_value() == ""
    assert problems == []
