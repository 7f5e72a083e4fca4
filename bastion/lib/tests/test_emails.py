import email
import email.policy
import re
import stat
from pathlib import Path

import pytest
from django.core.mail import EmailMessage, get_connection

from bastion.lib.emails import OutboxBackend, render_email

TEMPLATES = Path(__file__).parent / "templates"


@pytest.fixture(autouse=True)
def _test_templates(settings):
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [TEMPLATES, *settings.TEMPLATES[0]["DIRS"]]}]
    settings.SITE_NAME = "Example Security"
    settings.BASE_URL = "https://security.example.com"
    settings.DEFAULT_FROM_EMAIL = "Example Security <security@example.com>"


def greeting(**context):
    return render_email(
        "greeting", {"name": "Rita", "tracking_id": "BST-1", **context}, to=["rita@example.org"]
    )


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_the_subject_is_one_line_even_when_its_template_spans_several():
    assert greeting().subject == "Example Security: hello Rita and welcome"


def test_a_newline_in_the_context_cannot_inject_a_header():
    message = greeting(name="Rita\nBcc: mallory@example.net")
    assert "\n" not in message.subject
    assert parse(message.message().as_bytes())["Bcc"] is None


def test_the_body_is_plain_text_and_not_html_escaped():
    body = greeting(name="Rita & <Co>").body
    assert body == (
        "Hello Rita & <Co>,\n\nYour tracking ID is BST-1. Follow it at https://security.example.com/portal/.\n"
    )


def test_it_is_marked_auto_generated_with_a_message_id_on_the_senders_domain():
    message = greeting()
    first, second = parse(message.message().as_bytes()), parse(message.message().as_bytes())
    assert first["Auto-Submitted"] == "auto-generated"
    assert first["X-Auto-Response-Suppress"] == "All"
    assert first["From"] == "Example Security <security@example.com>"
    assert first["To"] == "rita@example.org"
    assert re.fullmatch(r"<[^@<>]+@example\.com>", first["Message-ID"])
    # Fixed at render time, not re-minted each time the message is serialised.
    assert first["Message-ID"] == second["Message-ID"]


def test_callers_may_set_their_own_headers_and_reply_to():
    message = render_email(
        "greeting",
        {"name": "Rita"},
        to=["rita@example.org"],
        reply_to=["BST-1@example.com"],
        headers={"Message-ID": "<ack.BST-1@example.com>", "In-Reply-To": "<original@example.org>"},
    )
    parsed = parse(message.message().as_bytes())
    assert parsed["Message-ID"] == "<ack.BST-1@example.com>"
    assert parsed["In-Reply-To"] == "<original@example.org>"
    assert parsed["Reply-To"] == "BST-1@example.com"


def test_the_outbox_gets_one_private_eml_file_per_message(tmp_path):
    backend = OutboxBackend(outbox_dir=tmp_path / "outbox")

    assert backend.send_messages([greeting(), greeting(name="Bob")]) == 2

    files = sorted((tmp_path / "outbox").iterdir())
    assert len(files) == 2
    for path in files:
        assert re.fullmatch(r"\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{12}\.eml", path.name)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    parsed = parse(files[0].read_bytes())
    assert parsed["Subject"] == "Example Security: hello Rita and welcome"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed.get_content().startswith("Hello Rita,")
    assert len({parse(path.read_bytes())["Message-ID"] for path in files}) == 2


def test_the_outbox_skips_messages_without_recipients(tmp_path):
    backend = OutboxBackend(outbox_dir=tmp_path)
    assert backend.send_messages([EmailMessage(subject="nobody", body="x", to=[])]) == 0
    assert list(tmp_path.iterdir()) == []


def test_the_outbox_defaults_to_the_configured_directory_and_works_through_send(settings, tmp_path):
    settings.OUTBOX_DIR = tmp_path
    message = greeting()
    message.connection = get_connection("bastion.lib.emails.OutboxBackend")

    assert message.send() == 1
    [path] = tmp_path.glob("*.eml")
    assert parse(path.read_bytes())["To"] == "rita@example.org"


def test_a_write_failure_raises_unless_told_to_fail_silently(tmp_path):
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")

    with pytest.raises(FileExistsError):
        OutboxBackend(outbox_dir=not_a_directory).send_messages([greeting()])
    assert OutboxBackend(outbox_dir=not_a_directory, fail_silently=True).send_messages([greeting()]) == 0


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    def refuse(*args):
        raise OSError("disk full")

    monkeypatch.setattr("bastion.lib.emails.os.replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        OutboxBackend(outbox_dir=tmp_path).send_messages([greeting()])
    assert list(tmp_path.iterdir()) == []
