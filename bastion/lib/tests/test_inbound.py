"""bastion.lib.inbound: raw mail in, structured and safe mail out, against real gpg and pysequoia output.

All gpg work happens once, in the module-scoped ``corpus`` fixture, in a home of its own whose agent
is killed at teardown; tests wrap its output in MIME (``mailcorpus``) and tamper with the bytes. The
personas: rita (RSA-3072 gpg key), erin (Curve25519 gpg key), uma (a key we never learn), and
``sequoia``, a reporter key made by sqop/pysequoia through bastion.lib.openpgp.
"""

from __future__ import annotations

import email
import email.policy
import quopri
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import dkim  # type: ignore[import-untyped]
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bastion.lib import mailparse, openpgp
from bastion.lib.inbound import (
    Encryption,
    InboundMail,
    MailPart,
    NoReplyReason,
    SignatureStatus,
    UndecryptableMail,
    read_mail,
)
from bastion.lib.mailparse import crlf
from bastion.lib.openpgp import PublicKey, SecretKey, generate_org_key, parse_public_key
from bastion.lib.tests import mailcorpus as mc
from bastion.lib.tests.mailcorpus import Person

REPORT = "Rita's report: /export leaks other tenants' invoices.\nÜnïcödé, trailing space  \n- a dash line\n"
PDF = b"%PDF-1.4 proof of concept\x00\xff" * 50
ORG_ADDRESS = "security@example.org"


@dataclass(frozen=True)
class Corpus:
    org: SecretKey
    rita: Person  # RSA-3072, made by gpg
    erin: Person  # Curve25519, made by gpg
    uma: Person  # Curve25519, made by gpg; never in sender_keys
    sequoia: SecretKey  # Curve25519, made by sqop/pysequoia (openpgp.generate_org_key)
    made: dict[str, bytes]  # what gpg wrote, by name

    def public(self, person: Person) -> PublicKey:
        return parse_public_key(person.public)


def _inner(text: str = REPORT, *extra: bytes, subject: str | None = None) -> bytes:
    """What a client encrypts: a text part with attachments, maybe a protected Subject."""
    parts = [mc.text_part(text), mc.attachment("poc.pdf", "application/pdf", PDF), *extra]
    inner = mc.multipart("mixed", parts, boundary="inner")
    if subject is None:
        return inner
    return inner.replace(
        b"Content-Type: multipart/mixed;", f"Subject: {subject}\r\nContent-Type: multipart/mixed;".encode(), 1
    )


SIGNED_PART = mc.entity(
    # A tab, odd capitals and a line over 78 characters: the email package refolds the last one.
    [
        "Content-Type: text/plain;\tcharset=utf-8",
        "content-transfer-encoding: quoted-printable",
        "Content-Description: the report on the invoice export, with the steps to reproduce it",
    ],
    quopri.encodestring(crlf(REPORT.encode())),
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    for binary in ("gpg", "gpgconf", "sqop"):
        if shutil.which(binary) is None:
            pytest.fail(f"{binary} is missing: apt-get install gnupg sqop")
    gpg = mc.new_gpg(tmp_path_factory.mktemp("corpus") / "gnupg")
    try:
        rita = mc.make_person(gpg, "Rita", "rita@example.net", "default")  # gpg 2.2: RSA-3072 + subkey
        erin = mc.make_person(gpg, "Erin", "erin@example.com", "future-default")
        uma = mc.make_person(gpg, "Uma", "uma@upstream.example", "future-default")
        org, elsewhere = (
            generate_org_key(f"Bastion <{ORG_ADDRESS}>"),
            generate_org_key("Other <x@example.com>"),
        )
        for key in (org, elsewhere):
            gpg("--import", input=key.armored_public().encode())
        made = _made_by_gpg(gpg, org, elsewhere, rita, erin, uma)
    finally:
        gpg.kill_agent()
    sequoia = generate_org_key("Rita (laptop) <rita@example.net>")
    return Corpus(org=org, rita=rita, erin=erin, uma=uma, sequoia=sequoia, made=made)


def _made_by_gpg(gpg: mc.Gpg, org: SecretKey, elsewhere: SecretKey, rita: Person, erin: Person, uma: Person):
    to_org = ("--trust-model", "always", "--armor", "-r", org.fingerprint)

    def sign_encrypt(signer: Person, data: bytes, *options: str) -> bytes:
        return gpg(*to_org, "-u", signer.email, *options, "--sign", "--encrypt", input=data)

    with_key = _inner(REPORT, mc.attachment("rita.asc", "application/pgp-keys", rita.public))
    return {
        "rita_enc": sign_encrypt(rita, _inner(subject="Invoice leak BST-2026-0042")),  # compressed
        "erin_enc": sign_encrypt(erin, _inner()),
        "uma_enc": sign_encrypt(uma, _inner()),
        "rita_enc_with_key": sign_encrypt(rita, with_key),
        "unsigned_enc": gpg(*to_org, "--encrypt", input=_inner()),
        "elsewhere_enc": gpg(
            "--trust-model", "always", "--armor", "-r", elsewhere.fingerprint, "--encrypt", input=b"x"
        ),
        "binary_enc": gpg(
            "--trust-model", "always", "-r", org.fingerprint, "-z", "0", "--encrypt", input=_inner()
        ),
        "rita_inline": sign_encrypt(rita, REPORT.encode()),
        "unsigned_inline": gpg(*to_org, "--encrypt", input=b"second block"),
        "rita_clear": gpg("-u", rita.email, "--clearsign", input=REPORT.encode()),
        "uma_clear": gpg("-u", uma.email, "--clearsign", input=REPORT.encode()),
        "rita_sig": gpg("-u", rita.email, "--armor", "--textmode", "--detach-sign", input=crlf(SIGNED_PART)),
        "erin_sig": gpg("-u", erin.email, "--armor", "--detach-sign", input=crlf(SIGNED_PART)),
        "uma_sig": gpg("-u", uma.email, "--armor", "--detach-sign", input=crlf(SIGNED_PART)),
    }


def read(raw: bytes, corpus: Corpus, *known: Person | SecretKey, **options) -> InboundMail:
    """read_mail as the caller calls it: ``known`` are the keys it already has for the sender."""
    keys = [k.public if isinstance(k, SecretKey) else parse_public_key(k.public) for k in known]
    options.setdefault("org_key", corpus.org)
    options.setdefault("own_addresses", [ORG_ADDRESS])

    def sender_keys(address: str) -> Sequence[PublicKey]:
        return [k for k in keys if any(address in uid for uid in k.user_ids)]

    return read_mail(raw, sender_keys=sender_keys, **options)


# --- Plain mail -----------------------------------------------------------------------------------------


def test_a_plain_message_is_read_with_its_headers():
    raw = mc.mail(
        mc.text_part("Hello,\nthe export leaks.\n"),
        sender='"Rita R." <Rita@Example.NET>',
        subject="=?utf-8?q?Fuite_de_donn=C3=A9es?=",
        extra=[
            "Cc: Bob <bob@example.org>, broken@@, Alice <alice@example.org>",
            "In-Reply-To: <ack-1@example.org>",
            "References: <orig@example.net>\r\n <ack-1@example.org>",
        ],
    )
    mail = read_mail(raw, org_key=None, sender_keys=lambda _: [])
    assert mail.message_id == "<m1@example.net>"
    assert (mail.in_reply_to, mail.references) == (
        ("<ack-1@example.org>",),
        ("<orig@example.net>", "<ack-1@example.org>"),
    )
    assert (mail.subject, mail.from_address, mail.from_name) == (
        "Fuite de données",
        "rita@example.net",
        "Rita R.",
    )
    assert mail.to == ("security@example.org",)
    assert mail.cc == ("bob@example.org", "alice@example.org")
    assert mail.date == datetime(2026, 11, 3, 10, tzinfo=timezone(timedelta(hours=1)))
    assert mail.text == "Hello,\nthe export leaks."
    assert (mail.encryption, mail.signature, mail.signer_fingerprint) == (
        Encryption.NONE,
        SignatureStatus.NONE,
        None,
    )
    assert (mail.attachments, mail.html, mail.offered_keys, mail.no_reply) == ((), (), (), None)
    assert (mail.dkim, mail.authentication_results, mail.defects) == ("none", (), ())


def test_sender_keys_is_asked_for_the_from_address_only():
    asked: list[str] = []

    def sender_keys(address: str) -> list[PublicKey]:
        asked.append(address)
        return []

    for sender in ("Rita <RITA@example.net>", "undisclosed-recipients:;", "<>"):
        read_mail(mc.mail(mc.text_part("hi"), sender=sender), org_key=None, sender_keys=sender_keys)
    assert asked == ["rita@example.net"]


def test_several_from_fields_are_noted_and_the_first_is_used():
    mail = _read_plain(mc.mail(mc.text_part("hi"), extra=["From: bank@example.com"]))
    assert mail.from_address == "rita@example.net"
    assert "the message: several From fields; the first is used" in mail.defects


def test_a_message_id_without_brackets_and_a_missing_date_are_tolerated():
    raw = b"From: rita@example.net\r\nMessage-ID: bare-id@example.net\r\nDate: someday\r\n\r\nhi\r\n"
    mail = read_mail(raw, org_key=None, sender_keys=lambda _: [])
    assert (mail.message_id, mail.date, mail.text) == ("<bare-id@example.net>", None, "hi")


def test_a_date_without_a_zone_is_taken_as_utc():
    raw = b"From: rita@example.net\r\nDate: Tue, 03 Nov 2026 10:00:00 -0000\r\n\r\nhi\r\n"
    assert read_mail(raw, org_key=None, sender_keys=lambda _: []).date == datetime(
        2026, 11, 3, 10, tzinfo=UTC
    )


# --- PGP/MIME encrypted ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["rita", "erin"])
def test_encrypted_and_signed_gpg_mail_is_decrypted_with_its_attachments_and_a_good_signature(corpus, who):
    person = getattr(corpus, who)
    mail = read(
        mc.mail(mc.pgp_mime_encrypted(corpus.made[f"{who}_enc"]), sender=person.email), corpus, person
    )
    assert mail.encryption is Encryption.PGP_MIME
    assert mail.text == REPORT.strip("\n")
    assert [(a.filename, a.content_type, a.data) for a in mail.attachments] == [
        ("poc.pdf", "application/pdf", PDF)
    ]
    assert (mail.signature, mail.signer_fingerprint, mail.signer_was_offered) == (
        SignatureStatus.GOOD,
        person.fingerprint,
        False,
    )
    assert mail.defects == ()


def test_the_protected_subject_inside_the_encryption_replaces_the_outer_one(corpus):
    mail = read(mc.mail(mc.pgp_mime_encrypted(corpus.made["rita_enc"]), subject="..."), corpus, corpus.rita)
    assert mail.subject == "Invoice leak BST-2026-0042"


def test_a_signature_by_a_key_we_do_not_know_is_unknown_key_and_the_text_still_arrives(corpus):
    mail = read(mc.mail(mc.pgp_mime_encrypted(corpus.made["uma_enc"])), corpus, corpus.rita)
    assert (mail.signature, mail.signer_fingerprint) == (SignatureStatus.UNKNOWN_KEY, None)
    assert mail.text == REPORT.strip("\n")


def test_encrypted_unsigned_mail_has_no_signature(corpus):
    mail = read(mc.mail(mc.pgp_mime_encrypted(corpus.made["unsigned_enc"])), corpus, corpus.rita)
    assert (mail.encryption, mail.signature) == (Encryption.PGP_MIME, SignatureStatus.NONE)
    assert len(mail.attachments) == 1


def test_binary_ciphertext_in_base64_is_read_too(corpus):
    mail = read(mc.mail(mc.pgp_mime_encrypted(corpus.made["binary_enc"])), corpus)
    assert mail.encryption is Encryption.PGP_MIME
    assert mail.text == REPORT.strip("\n")


def test_a_first_contact_key_attached_inside_the_encryption_verifies_its_signature(corpus):
    # Thunderbird's "attach my public key": we know no key for rita yet; the one inside vouches.
    mail = read(mc.mail(mc.pgp_mime_encrypted(corpus.made["rita_enc_with_key"])), corpus)
    assert [k.fingerprint for k in mail.offered_keys] == [corpus.rita.fingerprint]
    assert (mail.signature, mail.signer_fingerprint, mail.signer_was_offered) == (
        SignatureStatus.GOOD,
        corpus.rita.fingerprint,
        True,
    )
    assert [a.filename for a in mail.attachments] == ["poc.pdf", "rita.asc"]


def test_encrypted_and_signed_mail_made_by_pysequoia_is_good(corpus):
    ciphertext = openpgp.encrypt(_inner(), recipients=[corpus.org.public], signer=corpus.sequoia)
    mail = read(mc.mail(mc.pgp_mime_encrypted(ciphertext)), corpus, corpus.sequoia)
    assert (mail.signature, mail.signer_fingerprint) == (SignatureStatus.GOOD, corpus.sequoia.fingerprint)


def test_encrypted_then_pgp_mime_signed_inside_is_good(corpus):
    # Sign, then encrypt the signed MIME (Enigmail's old layout): the signature lives inside.
    signed = mc.pgp_mime_signed(SIGNED_PART, corpus.made["rita_sig"])
    ciphertext = openpgp.encrypt(signed, recipients=[corpus.org.public])
    mail = read(mc.mail(mc.pgp_mime_encrypted(ciphertext)), corpus, corpus.rita)
    assert (mail.encryption, mail.signature, mail.signer_fingerprint) == (
        Encryption.PGP_MIME,
        SignatureStatus.GOOD,
        corpus.rita.fingerprint,
    )


def test_mail_encrypted_to_another_key_is_undecryptable(corpus):
    with pytest.raises(UndecryptableMail) as failed:
        read(mc.mail(mc.pgp_mime_encrypted(corpus.made["elsewhere_enc"])), corpus)
    assert failed.value.reason == "not_for_us"
    assert "not to our current key" in str(failed.value)


def test_corrupted_ciphertext_is_undecryptable(corpus):
    damaged = bytearray(corpus.made["binary_enc"])
    damaged[-10] ^= 0x01
    with pytest.raises(UndecryptableMail) as failed:
        read(mc.mail(mc.pgp_mime_encrypted(bytes(damaged))), corpus)
    assert failed.value.reason == "damaged"
    assert "integrity check failed" in str(failed.value)


def test_encrypted_mail_without_an_org_key_or_its_encrypted_part_is_undecryptable(corpus):
    with pytest.raises(UndecryptableMail) as failed:
        read(mc.mail(mc.pgp_mime_encrypted(corpus.made["unsigned_enc"])), corpus, org_key=None)
    assert failed.value.reason == "no_key"
    control_only = mc.multipart(
        "encrypted", [mc.entity(["Content-Type: application/pgp-encrypted"], b"Version: 1")], boundary="e",
        params='; protocol="application/pgp-encrypted"',
    )  # fmt: skip
    with pytest.raises(UndecryptableMail) as failed:
        read(mc.mail(control_only), corpus)
    assert failed.value.reason == "malformed"


def test_smime_encrypted_mail_is_undecryptable_and_says_why(corpus):
    smime = mc.entity(
        ["Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m"], b"MIAG"
    )
    with pytest.raises(UndecryptableMail) as failed:
        read(mc.mail(smime), corpus)
    assert failed.value.reason == "unsupported"
    assert "S/MIME" in str(failed.value)


def test_a_missing_sqop_is_an_engine_error_not_undecryptable(corpus, monkeypatch):
    monkeypatch.setattr(openpgp, "SQOP", "sqop-is-not-installed")
    with pytest.raises(openpgp.EngineError):
        read(mc.mail(mc.pgp_mime_encrypted(corpus.made["unsigned_enc"])), corpus)


def test_decrypted_bytes_over_the_cap_are_undecryptable(corpus):
    with pytest.raises(UndecryptableMail) as failed:
        read(mc.mail(mc.pgp_mime_encrypted(corpus.made["unsigned_enc"])), corpus, max_plaintext=100)
    assert failed.value.reason == "too_large"


# --- PGP/MIME signed ------------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", [email.policy.compat32, email.policy.default], ids=["compat32", "default"])
def test_the_corpus_signed_part_does_not_survive_the_email_package(corpus, policy):
    # Why inbound cuts the raw bytes: the stdlib's own serialisation of the part fails the check.
    message = email.message_from_bytes(
        mc.mail(mc.pgp_mime_signed(SIGNED_PART, corpus.made["rita_sig"])), policy=policy
    )
    reserialised = crlf(message.get_payload(0).as_bytes())
    rita = [corpus.public(corpus.rita)]
    assert openpgp.verify_detached(reserialised, corpus.made["rita_sig"], signers=rita) is None
    assert openpgp.verify_detached(crlf(SIGNED_PART), corpus.made["rita_sig"], signers=rita) is not None


@pytest.mark.parametrize("transport", [bytes, mc.lf], ids=["crlf", "lf"])
@pytest.mark.parametrize("who", ["rita", "erin"])
def test_a_pgp_mime_signed_message_is_good_over_its_raw_bytes(corpus, who, transport):
    person = getattr(corpus, who)
    raw = transport(mc.mail(mc.pgp_mime_signed(SIGNED_PART, corpus.made[f"{who}_sig"]), sender=person.email))
    mail = read(raw, corpus, person)
    assert (mail.signature, mail.signer_fingerprint) == (SignatureStatus.GOOD, person.fingerprint)
    assert mail.text == REPORT.strip("\n")
    assert mail.attachments == ()  # the signature is structure, not an attachment


def test_a_tampered_signed_message_is_bad(corpus):
    raw = mc.mail(mc.pgp_mime_signed(SIGNED_PART, corpus.made["rita_sig"]))
    tampered = raw.replace(b"invoices", b"invoicez", 1)
    assert tampered != raw
    mail = read(tampered, corpus, corpus.rita)
    assert (mail.signature, mail.signer_fingerprint) == (SignatureStatus.BAD, None)
    assert "invoicez" in mail.text


def test_a_signature_by_an_unknown_key_is_unknown_key(corpus):
    mail = read(mc.mail(mc.pgp_mime_signed(SIGNED_PART, corpus.made["uma_sig"])), corpus, corpus.rita)
    assert mail.signature is SignatureStatus.UNKNOWN_KEY


def test_an_unreadable_signature_is_bad(corpus):
    mail = read(mc.mail(mc.pgp_mime_signed(SIGNED_PART, b"not a signature")), corpus, corpus.rita)
    assert mail.signature is SignatureStatus.BAD


def test_a_detached_signature_made_by_pysequoia_is_good(corpus):
    signature = openpgp.detached_sign(crlf(SIGNED_PART), corpus.sequoia).encode()
    mail = read(mc.mail(mc.pgp_mime_signed(SIGNED_PART, signature)), corpus, corpus.sequoia)
    assert (mail.signature, mail.signer_fingerprint) == (SignatureStatus.GOOD, corpus.sequoia.fingerprint)


def test_an_unsigned_part_beside_a_signed_one_makes_the_message_unsigned(corpus):
    # A list footer, or someone wrapping rita's old signed mail with words of their own.
    signed = mc.pgp_mime_signed(SIGNED_PART, corpus.made["rita_sig"])
    raw = mc.mail(
        mc.multipart("mixed", [signed, mc.text_part("Send the bounty to my new wallet.")], boundary="wrap")
    )
    mail = read(raw, corpus, corpus.rita)
    assert (mail.signature, mail.signer_fingerprint) == (SignatureStatus.NONE, None)
    assert "new wallet" in mail.text
    assert any("only part of the content is signed" in d for d in mail.defects)


def test_an_attached_public_key_is_offered_and_verifies_the_signature(corpus):
    signed_part = mc.multipart(
        "mixed",
        [SIGNED_PART, mc.attachment("erin.asc", "application/pgp-keys", corpus.erin.public)],
        boundary="m",
    )
    signature = openpgp.detached_sign(crlf(signed_part), corpus.sequoia).encode()
    mail = read(mc.mail(mc.pgp_mime_signed(signed_part, signature)), corpus)
    assert [k.fingerprint for k in mail.offered_keys] == [corpus.erin.fingerprint]
    assert mail.signature is SignatureStatus.UNKNOWN_KEY  # erin's key does not vouch for sequoia's signature
    assert [a.filename for a in mail.attachments] == ["erin.asc"]


def test_an_unusable_attached_key_is_skipped_silently(corpus):
    raw = mc.mail(
        mc.multipart(
            "mixed",
            [mc.text_part("key attached"), mc.attachment("k.asc", "application/pgp-keys", b"garbage")],
            boundary="m",
        )
    )
    mail = read(raw, corpus)
    assert mail.offered_keys == ()
    assert [a.filename for a in mail.attachments] == ["k.asc"]


# --- Autocrypt ------------------------------------------------------------------------------------------


def test_an_autocrypt_key_for_the_from_address_is_offered(corpus):
    key = corpus.public(corpus.rita).to_bytes()
    mail = read(mc.mail(mc.text_part("hi"), extra=[mc.autocrypt("Rita@example.net", key)]), corpus)
    assert [k.fingerprint for k in mail.offered_keys] == [corpus.rita.fingerprint]


@pytest.mark.parametrize(
    "header",
    [
        lambda key: mc.autocrypt("someone.else@example.net", key),
        lambda key: mc.autocrypt("rita@example.net", key).replace("prefer-encrypt", "critical-thing"),
        lambda key: mc.autocrypt("rita@example.net", b"not a key"),
        lambda key: "Autocrypt: addr=rita@example.net; keydata=!!!not base64",
    ],
    ids=["other address", "unknown critical attribute", "not a key", "not base64"],
)
def test_an_autocrypt_header_that_does_not_fit_is_ignored(corpus, header):
    key = corpus.public(corpus.rita).to_bytes()
    assert read(mc.mail(mc.text_part("hi"), extra=[header(key)]), corpus).offered_keys == ()


# --- Inline PGP -----------------------------------------------------------------------------------------


def test_an_inline_encrypted_and_signed_block_is_decrypted_in_place_as_utf8(corpus):
    body = b"Hi,\r\n\r\n" + crlf(corpus.made["rita_inline"])
    mail = read(mc.mail(mc.raw_text_part(body, charset="us-ascii")), corpus, corpus.rita)
    assert mail.encryption is Encryption.INLINE
    assert "Ünïcödé" in mail.text
    assert mail.text.startswith("Hi,")
    assert "BEGIN PGP" not in mail.text
    # "Hi," was outside the encryption and the signature: noted, and the message counts as unsigned.
    assert mail.signature is SignatureStatus.NONE
    assert any("not encrypted" in d for d in mail.defects)


def test_an_inline_encrypted_and_signed_block_alone_is_good(corpus):
    mail = read(
        mc.mail(mc.raw_text_part(crlf(corpus.made["rita_inline"]), charset="us-ascii")), corpus, corpus.rita
    )
    assert (mail.encryption, mail.signature, mail.signer_fingerprint) == (
        Encryption.INLINE,
        SignatureStatus.GOOD,
        corpus.rita.fingerprint,
    )
    assert mail.text == REPORT.strip("\n")


def test_several_inline_blocks_are_each_decrypted(corpus):
    body = crlf(corpus.made["rita_inline"]) + b"\r\n" + crlf(corpus.made["unsigned_inline"])
    mail = read(mc.mail(mc.raw_text_part(body, charset="us-ascii")), corpus, corpus.rita)
    assert "second block" in mail.text
    assert "Ünïcödé" in mail.text
    assert mail.signature is SignatureStatus.NONE  # only the first block is signed


def test_a_quoted_armor_block_is_left_as_text(corpus):
    quoted = b"> -----BEGIN PGP MESSAGE-----\r\n> hQ==\r\n> -----END PGP MESSAGE-----\r\n"
    mail = read(mc.mail(mc.raw_text_part(quoted, charset="us-ascii")), corpus)
    assert (mail.encryption, mail.text) == (Encryption.NONE, quoted.decode().replace("\r\n", "\n").strip())


@pytest.mark.parametrize(
    ("made", "status"), [("rita_clear", SignatureStatus.GOOD), ("uma_clear", SignatureStatus.UNKNOWN_KEY)]
)
def test_an_inline_signed_message_is_checked_and_its_text_unwrapped(corpus, made, status):
    mail = read(mc.mail(mc.raw_text_part(corpus.made[made], charset="utf-8")), corpus, corpus.rita)
    assert mail.signature is status
    assert (
        mail.text
        == "Rita's report: /export leaks other tenants' invoices.\nÜnïcödé, trailing space\n- a dash line"
    )


def test_a_tampered_inline_signed_message_is_bad(corpus):
    tampered = corpus.made["rita_clear"].replace(b"invoices", b"invoicez")
    mail = read(mc.mail(mc.raw_text_part(tampered, charset="utf-8")), corpus, corpus.rita)
    assert (mail.signature, mail.signer_fingerprint) == (SignatureStatus.BAD, None)
    assert "invoicez" in mail.text


def test_an_inline_signed_message_made_by_pysequoia_is_good(corpus):
    signed = openpgp.clearsign(REPORT, corpus.sequoia).encode()
    mail = read(mc.mail(mc.raw_text_part(signed, charset="utf-8")), corpus, corpus.sequoia)
    assert (mail.signature, mail.signer_fingerprint) == (SignatureStatus.GOOD, corpus.sequoia.fingerprint)


def test_more_encrypted_blocks_than_the_cap_are_undecryptable(corpus):
    block = crlf(corpus.made["unsigned_inline"]) + b"\r\n"
    with pytest.raises(UndecryptableMail) as failed:
        read(mc.mail(mc.raw_text_part(block * 9, charset="us-ascii")), corpus)
    assert failed.value.reason == "too_complex"


# --- HTML and charsets ----------------------------------------------------------------------------------

HTML = (
    b"<html><head><title>t</title><style>p{color:red}</style></head><body><p>Hello &amp; <b>welcome</b></p>"
    b'<script>alert(1)</script><img src="https://tracker.example/p.png"><a href="https://evil.example/">'
    b"click</a><ul><li>one</li><li>two</li></ul><!-- hidden --></body></html>"
)


def test_an_html_only_message_gets_a_text_view_and_keeps_the_original_unrendered():
    raw = mc.mail(mc.entity(["Content-Type: text/html; charset=utf-8"], HTML))
    mail = read_mail(raw, org_key=None, sender_keys=lambda _: [])
    assert mail.text == "Hello & welcome\nclick\n\n- one\n- two"
    assert mail.html == (HTML,)
    assert "tracker" not in mail.text
    assert "evil" not in mail.text


def test_text_is_preferred_to_html_in_an_alternative():
    alternative = mc.multipart(
        "alternative",
        [mc.text_part("plain words"), mc.entity(["Content-Type: text/html"], HTML)],
        boundary="alt",
    )
    mail = read_mail(mc.mail(alternative), org_key=None, sender_keys=lambda _: [])
    assert (mail.text, mail.html, mail.attachments) == ("plain words", (HTML,), ())


def test_the_html_text_view_stays_fast_on_unclosed_markup():
    # html.parser takes minutes on such input (CVE-2025-6069); here the suite's timeout is the guard.
    hostile = [b"<!--", b"<a ", b"&#", b"<aaaa", b"</", b"<script>", b"<"]
    parts = [mc.entity(["Content-Type: text/html"], unit * 100_000 + b"<p>end") for unit in hostile]
    mail = _read_plain(mc.mail(mc.multipart("mixed", parts, boundary="h")))
    assert len(mail.html) == len(hostile)
    assert mail.text.endswith("end")


@pytest.mark.parametrize(
    ("data", "charset", "text", "noted"),
    [
        ("Grüße".encode("latin-1"), "utf-8", "Grüße", True),  # declared UTF-8, sent Latin-1
        ("Grüße".encode(), "us-ascii", "Grüße", True),  # the usual lie
        ("Grüße".encode(), "x-klingon", "Grüße", True),  # unknown charset
        ("Grüße".encode(), "punycode", "Grüße", True),  # a codec, not a charset
        ("Grüße".encode("cp1252"), "windows-1252", "Grüße", False),
        ("Привет".encode("koi8-r"), "koi8-r", "Привет", False),
    ],
)
def test_text_is_decoded_with_its_charset_or_a_fallback_and_never_raises(data, charset, text, noted):
    mail = read_mail(mc.mail(mc.raw_text_part(data, charset=charset)), org_key=None, sender_keys=lambda _: [])
    assert mail.text == text
    assert any("declared as" in d for d in mail.defects) is noted


# --- Hostile MIME ---------------------------------------------------------------------------------------


def _read_plain(raw: bytes) -> InboundMail:
    return read_mail(raw, org_key=None, sender_keys=lambda _: [])


def test_a_truncated_multipart_is_read_as_far_as_it_goes():
    whole = mc.mail(
        mc.multipart(
            "mixed",
            [mc.text_part("first part"), mc.attachment("a.bin", "application/octet-stream", PDF)],
            boundary="b",
        )
    )
    mail = _read_plain(whole[: whole.index(b"Content-Transfer-Encoding: base64") + 60])
    assert mail.text == "first part"
    assert len(mail.attachments) == 1
    assert any("closing boundary is missing" in d for d in mail.defects)


def test_huge_and_hostile_headers_are_cut_not_fatal():
    raw = (
        b"From: " + b"(" * 20_000 + b"rita@example.net\r\n"
        b"To: " + b"u@example.org, " * 200_000 + b"\r\n"
        b"Subject: " + b"=?utf-8?q?x?= " * 50_000 + b"\r\n"
        b"Content-Type: text/plain; " + b'a="\\"; ' * 100_000 + b"charset=utf-8\r\n\r\nbody\r\n"
    )
    mail = _read_plain(raw)
    assert mail.text == "body"
    assert mail.from_address == ""
    assert any("cut" in d for d in mail.defects)


def test_multiparts_nested_deeper_than_the_cap_are_not_descended():
    depth = 3000  # the email package itself raises RecursionError near 1,000
    raw = b"From: rita@example.net\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n--b0\r\n"
    raw += mc.text_part("shallow") + b"\r\n"
    for level in range(1, depth):
        raw += b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (level - 1, level)
    raw += b"--b%d\r\n" % (depth - 1) + mc.text_part("deep") + b"\r\n"
    raw += b"".join(b"--b%d--\r\n" % level for level in reversed(range(depth)))
    mail = _read_plain(raw)
    assert mail.text == "shallow"
    assert any("nested deeper than" in d for d in mail.defects)


def test_a_zero_byte_part_is_an_attachment():
    parts = [
        mc.text_part("see attached"),
        mc.attachment("empty.bin", "application/octet-stream", b""),
        mc.entity(["Content-Type: image/png"], b""),
    ]
    mail = _read_plain(mc.mail(mc.multipart("mixed", parts, boundary="z")))
    assert [(a.filename, a.content_type, a.data) for a in mail.attachments] == [
        ("empty.bin", "application/octet-stream", b""),
        ("part-3.bin", "image/png", b""),
    ]


def test_attachment_names_lose_paths_and_control_characters():
    part = mc.attachment("../../etc/\u202egpj.exe", "application/octet-stream", b"x")
    mail = _read_plain(mc.mail(mc.multipart("mixed", [part], boundary="n")))
    assert mail.attachments[0].filename == "gpj.exe"


def test_damaged_base64_and_a_boundaryless_multipart_are_noted():
    damaged = mc.entity(
        ["Content-Type: application/octet-stream", "Content-Transfer-Encoding: base64"], b"QUJD*$$"
    )
    raw = mc.mail(mc.multipart("mixed", [damaged], boundary="d"))
    assert "part 1: base64 encoded sequence had characters not in base64 alphabet" in _read_plain(raw).defects
    boundaryless = _read_plain(mc.mail(mc.entity(["Content-Type: multipart/mixed"], b"just text")))
    assert boundaryless.text == "just text"
    assert any("without a boundary" in d for d in boundaryless.defects)


def test_a_forwarded_message_is_an_attachment_not_descended_into(corpus):
    forwarded = mc.mail(mc.pgp_mime_signed(SIGNED_PART, corpus.made["rita_sig"]))
    part = mc.entity(["Content-Type: message/rfc822"], forwarded)
    mail = read(
        mc.mail(mc.multipart("mixed", [mc.text_part("FYI"), part], boundary="f")), corpus, corpus.rita
    )
    assert (mail.text, mail.signature) == ("FYI", SignatureStatus.NONE)
    assert [(a.filename, a.data) for a in mail.attachments] == [("part-2.eml", forwarded)]


# --- RFC 3834: never answer these ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "sender", "reason"),
    [
        (["Auto-Submitted: auto-replied (vacation)"], "rita@example.net", NoReplyReason.AUTO_SUBMITTED),
        (["X-Autoreply: yes"], "rita@example.net", NoReplyReason.AUTO_SUBMITTED),
        (["X-Auto-Response-Suppress: DR, AutoReply"], "rita@example.net", NoReplyReason.AUTO_SUBMITTED),
        (["Precedence: bulk"], "rita@example.net", NoReplyReason.BULK),
        (["Precedence: junk"], "rita@example.net", NoReplyReason.BULK),
        (["List-Id: Security <security.lists.example.org>"], "rita@example.net", NoReplyReason.LIST),
        (["List-Unsubscribe: <mailto:leave@example.org>"], "rita@example.net", NoReplyReason.LIST),
        (["Return-Path: <>"], "rita@example.net", NoReplyReason.BOUNCE),
        ([], "MAILER-DAEMON@mx.example.net", NoReplyReason.BOUNCE),
        (["Auto-Submitted: auto-generated"], "Security@Example.org", NoReplyReason.OURS),
        (["Auto-Submitted: no", "Precedence: first-class"], "rita@example.net", None),
    ],
)
def test_it_says_when_a_message_must_never_be_answered_automatically(extra, sender, reason):
    raw = mc.mail(mc.text_part("out of office"), sender=sender, extra=extra)
    assert (
        read_mail(raw, org_key=None, sender_keys=lambda _: [], own_addresses=[ORG_ADDRESS]).no_reply == reason
    )


def test_a_delivery_report_is_a_bounce():
    report = mc.multipart(
        "report",
        [
            mc.text_part("Delivery failed"),
            mc.entity(["Content-Type: message/delivery-status"], b"Action: failed\r\n"),
        ],
        boundary="r",
        params="; report-type=delivery-status",
    )
    mail = _read_plain(mc.mail(report, sender="postmaster@mx.example.net"))
    assert mail.no_reply is NoReplyReason.BOUNCE
    assert mail.text == "Delivery failed"


# --- DKIM and Authentication-Results --------------------------------------------------------------------


@pytest.fixture(scope="module")
def dkim_key() -> tuple[bytes, bytes]:
    """(PEM private key, DNS TXT record) for selector "sel" of example.net."""
    return mc.dkim_keypair()


def _dkim_signed(pem: bytes, raw: bytes, **options) -> bytes:
    return (
        dkim.sign(raw, b"sel", b"example.net", pem, include_headers=[b"from", b"to", b"subject"], **options)
        + raw
    )


def _dns(records: dict[bytes, bytes]) -> Callable[..., bytes | None]:
    return lambda name, timeout=5: records.get(name)


def test_dkim_passes_with_the_published_key_and_fails_when_tampered(dkim_key):
    pem, record = dkim_key
    signed = _dkim_signed(pem, mc.mail(mc.text_part("signed by the domain")))
    dns = _dns({b"sel._domainkey.example.net.": record})
    mail = read_mail(signed, org_key=None, sender_keys=lambda _: [], dns=dns)
    assert (mail.dkim, mail.dkim_domains) == ("pass", ("example.net",))
    tampered = read_mail(
        signed.replace(b"the domain", b"the d0main"), org_key=None, sender_keys=lambda _: [], dns=dns
    )
    assert (tampered.dkim, tampered.dkim_domains) == ("fail", ())


def test_dkim_reports_missing_keys_failing_dns_body_limits_and_no_resolver(dkim_key):
    pem, record = dkim_key
    signed = _dkim_signed(pem, mc.mail(mc.text_part("hi")))

    def broken(name, timeout=5):
        raise TimeoutError("resolver down")

    def dkim_of(raw, dns):
        return read_mail(raw, org_key=None, sender_keys=lambda _: [], dns=dns).dkim

    assert dkim_of(signed, _dns({})) == "permerror"
    assert dkim_of(signed, broken) == "temperror"
    assert dkim_of(signed, None) == "unchecked"
    with_length = _dkim_signed(pem, mc.mail(mc.text_part("hi")), length=True)
    assert (
        dkim_of(with_length + b"\r\nappended later\r\n", _dns({b"sel._domainkey.example.net.": record}))
        == "policy"
    )
    assert dkim_of(b"DKIM-Signature: v=1; garbage\r\nFrom: a@b\r\n\r\nx", _dns({})) == "permerror"


def test_only_authentication_results_from_trusted_servers_are_kept():
    raw = mc.mail(
        mc.text_part("hi"),
        extra=[
            "Authentication-Results: mx.example.org; dkim=pass header.d=example.net header.s=sel;"
            "\r\n spf=pass smtp.mailfrom=rita@example.net",
            "Authentication-Results: forged.example; dkim=pass header.d=bank.example",
            "Authentication-Results: garbage ;;; ===",
        ],
    )
    mail = read_mail(raw, org_key=None, sender_keys=lambda _: [], trusted_authserv_ids=["MX.example.org"])
    assert mail.authentication_results == (
        "dkim=pass header.d=example.net header.s=sel",
        "spf=pass smtp.mailfrom=rita@example.net",
    )
    assert read_mail(raw, org_key=None, sender_keys=lambda _: []).authentication_results == ()


# --- No content where it must not be ---------------------------------------------------------------------


def test_reprs_show_no_content(corpus):
    mail = read(mc.mail(mc.pgp_mime_encrypted(corpus.made["rita_enc"])), corpus, corpus.rita)
    for shown in (repr(mail), repr(mail.attachments)):
        assert "invoice" not in shown.lower()
        assert "PDF" not in shown
    assert "poc.pdf" in repr(mail.attachments[0])
    assert "data=" not in repr(MailPart("a", "b", b"secret"))


# --- Hostile bytes: a result or UndecryptableMail, nothing else ------------------------------------------


def _seeds(corpus: Corpus) -> list[bytes]:
    return [
        mc.mail(mc.pgp_mime_encrypted(corpus.made["rita_enc"])),
        mc.mail(mc.pgp_mime_signed(SIGNED_PART, corpus.made["rita_sig"])),
        mc.mail(mc.raw_text_part(corpus.made["rita_clear"], charset="utf-8")),
        mc.mail(
            mc.multipart(
                "alternative", [mc.text_part("a"), mc.entity(["Content-Type: text/html"], HTML)], boundary="x"
            )
        ),
    ]


_TOKENS = [
    b"--",
    b"\r\n",
    b"\n\n",
    b"--x--",
    b"=?utf-8?b?",
    b"(",
    b"-----BEGIN PGP MESSAGE-----\n",
    b"boundary=",
    b";",
]


@st.composite
def mutated(draw, seeds: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        if action == "flip" and at < len(data):
            data[at] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif action == "insert":
            data[at:at] = draw(st.sampled_from(_TOKENS))
        else:
            del data[at:]
    return bytes(data)


def _read_any(raw: bytes, corpus: Corpus) -> None:
    try:
        result = read(raw, corpus, corpus.rita)
    except UndecryptableMail:
        return
    assert isinstance(result, InboundMail)


@hypothesis_settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=2000))
def test_arbitrary_bytes_give_a_result(corpus, raw):
    _read_any(raw, corpus)


@hypothesis_settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_real_messages_give_a_result_or_undecryptable(corpus, data):
    _read_any(data.draw(mutated(_seeds(corpus))), corpus)


def test_raw_8bit_headers_are_read_as_utf8_and_unreadable_addresses_dropped():
    raw = b"From: \xc3\x89lodie <elodie@example.net>\r\nTo: a@example.org, \xff@example.org\r\n"
    raw += b"Subject: caf\xc3\xa9 \xff\r\n\r\nhi"
    mail = _read_plain(raw)
    assert (mail.from_name, mail.to, mail.subject) == ("\u00c9lodie", ("a@example.org",), "caf\u00e9 \ufffd")


def test_a_content_type_that_is_not_a_media_type_is_an_octet_stream():
    part = mc.entity(["Content-Type: (((comment)))text/plain"], b"x")
    mail = _read_plain(mc.mail(mc.multipart("mixed", [part], boundary="b")))
    assert [a.content_type for a in mail.attachments] == ["application/octet-stream"]


def test_an_unreadable_inline_signed_block_is_bad_and_shown_as_sent(corpus):
    block = b"-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\nhi\r\n"
    block += b"-----BEGIN PGP SIGNATURE-----\r\n\r\nbm90IGEgc2lnbmF0dXJl\r\n-----END PGP SIGNATURE-----\r\n"
    mail = read(mc.mail(mc.raw_text_part(block, charset="us-ascii")), corpus, corpus.rita)
    assert mail.signature is SignatureStatus.BAD
    assert mail.text == block.decode().replace("\r\n", "\n").strip()


def test_an_unterminated_signed_block_does_not_hide_a_later_encrypted_one(corpus):
    body = b"-----BEGIN PGP SIGNED MESSAGE-----\r\nnever ends\r\n" + crlf(corpus.made["unsigned_inline"])
    mail = read(mc.mail(mc.raw_text_part(body, charset="us-ascii")), corpus)
    assert mail.encryption is Encryption.INLINE
    assert mail.text.endswith("second block")


def test_inline_plaintext_that_is_not_utf8_is_read_in_the_part_charset(corpus):
    ciphertext = openpgp.encrypt("Grüße".encode("latin-1"), recipients=[corpus.org.public])
    mail = read(mc.mail(mc.raw_text_part(ciphertext, charset="iso-8859-1")), corpus)
    assert mail.text == "Grüße"


def test_a_third_part_in_a_signed_multipart_is_read_but_not_signed(corpus):
    signed = mc.pgp_mime_signed(SIGNED_PART, corpus.made["rita_sig"])
    extra = signed.replace(b"--sig--", b"--sig\r\n" + mc.text_part("smuggled") + b"\r\n--sig--")
    mail = read(mc.mail(extra), corpus, corpus.rita)
    assert "smuggled" in mail.text
    assert mail.signature is SignatureStatus.NONE


def test_when_it_cannot_tell_whether_encrypted_mail_is_signed_it_claims_no_signature(corpus, monkeypatch):
    monkeypatch.setattr(openpgp, "encrypted_signature_issuers", lambda message, key: None)
    mail = read(mc.mail(mc.pgp_mime_encrypted(corpus.made["uma_enc"])), corpus, corpus.rita)
    assert mail.signature is SignatureStatus.NONE
    assert "the message: could not tell whether the encrypted content is signed" in mail.defects


def test_a_key_whose_user_id_was_altered_is_not_offered(corpus):
    # Its self-signature no longer matches; parse_public_key raises pysequoia's RuntimeError for it.
    altered = corpus.public(corpus.erin).to_bytes().replace(b"erin@example.com", b"rita@example.net")
    parts = [mc.text_part("my key"), mc.attachment("erin.asc", "application/pgp-keys", altered)]
    raw = mc.mail(
        mc.multipart("mixed", parts, boundary="m"), extra=[mc.autocrypt("rita@example.net", altered)]
    )
    assert read(raw, corpus).offered_keys == ()


def test_defects_are_listed_up_to_a_cap():
    parts = [mc.raw_text_part(b"\xff", charset="x-unknown")] * 80
    mail = _read_plain(mc.mail(mc.multipart("mixed", parts, boundary="c")))
    assert len(mail.defects) == 51
    assert mail.defects[-1] == "more than 50 defects; the rest are not listed"


def test_dkim_on_a_header_dkimpy_cannot_split_is_a_permanent_error():
    raw = b"DKIM-Signature: v=1; d=example.net; s=sel\r\nnot a header line\r\nFrom: a@example.net\r\n\r\nx"
    assert read_mail(raw, org_key=None, sender_keys=lambda _: [], dns=_dns({})).dkim == "permerror"


def test_a_part_without_a_header_is_all_body():
    mail = _read_plain(mc.mail(mc.multipart("mixed", [b"no header here\r\nat all"], boundary="p")))
    assert mail.text == "no header here\nat all"


def test_a_multipart_whose_boundary_never_appears_is_read_as_text():
    mail = _read_plain(
        mc.mail(mc.entity(['Content-Type: multipart/mixed; boundary="nowhere"'], b"plain words"))
    )
    assert mail.text == "plain words"
    assert any("no boundary line appears" in d for d in mail.defects)


def test_the_display_view_parses_each_field_once_and_keeps_absent_ones_absent():
    block = b"From: Rita <rita@example.org>\r\nTo: security@example.org, Bob <bob@example.org>"
    display = mailparse.read_display(block)
    first = display["to"]
    assert display["TO"] is first  # parsed once, whatever the case of the name
    assert mailparse.addresses(display, "to") == [("security@example.org", ""), ("bob@example.org", "Bob")]
    assert display["cc"] is None
    assert display.get("cc", "none") == "none"
