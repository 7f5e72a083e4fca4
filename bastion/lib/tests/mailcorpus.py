"""Builders for the inbound-mail test corpus.

MIME is written out byte by byte here, laid out the way mutt (GPGME) and Thunderbird lay out RFC 3156
mail, because the tests must control the exact bytes: a multipart/signed signature covers them. The
OpenPGP inside comes from the real ``gpg`` binary (``Gpg``) or from pysequoia through
``bastion.lib.openpgp``, never from hand-made packets.
"""

from __future__ import annotations

import base64
import quopri
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bastion.lib.mailparse import crlf

CRLF = b"\r\n"


@dataclass(frozen=True)
class Gpg:
    """The gpg binary bound to one home directory (one per fixture; kill its agent at teardown)."""

    home: Path

    def __call__(self, *args: str, input: bytes | None = None) -> bytes:
        cmd = ["gpg", "--homedir", str(self.home), "--batch", "--no-tty", *args]
        result = subprocess.run(cmd, input=input, capture_output=True, check=False, timeout=60)
        if result.returncode != 0:
            raise AssertionError(f"{cmd} failed: {result.stderr.decode(errors='replace')}")
        return result.stdout

    def fingerprint(self, email: str) -> str:
        colons = self("--with-colons", "--list-keys", f"<{email}>").decode()
        return next(line.split(":")[9] for line in colons.splitlines() if line.startswith("fpr:"))

    def kill_agent(self) -> None:
        subprocess.run(
            ["gpgconf", "--homedir", str(self.home), "--kill", "gpg-agent"], check=False, timeout=30
        )


def new_gpg(home: Path) -> Gpg:
    home.mkdir(mode=0o700)
    (home / "gpg-agent.conf").write_text("s2k-count 65536\n")  # test keys need no slow passphrase hashing
    return Gpg(home)


@dataclass(frozen=True)
class Person:
    """A reporter with a gpg key: the address, its fingerprint, the armored public and secret key."""

    email: str
    fingerprint: str
    public: bytes
    secret: bytes


def make_person(gpg: Gpg, name: str, email: str, algo: str) -> Person:
    unprotected = ("--pinentry-mode", "loopback", "--passphrase", "")
    gpg(*unprotected, "--quick-gen-key", f"{name} <{email}>", algo, "default", "1y")
    fingerprint = gpg.fingerprint(email)
    return Person(
        email=email,
        fingerprint=fingerprint,
        public=gpg("--armor", "--export", fingerprint),
        secret=gpg(*unprotected, "--armor", "--export-secret-keys", fingerprint),
    )


# --- MIME, byte by byte ---------------------------------------------------------------------------------


def entity(headers: list[str], body: bytes) -> bytes:
    """A MIME entity: header lines, an empty line, the body (all CRLF)."""
    return CRLF.join(h.encode() for h in headers) + CRLF + CRLF + body


def mail(
    content: bytes, *, sender: str = "Rita <rita@example.net>", subject: str = "Report", extra=()
) -> bytes:
    """A whole message: the usual top-level fields, then ``content`` (an entity, whose header joins them)."""
    top = [
        f"From: {sender}",
        "To: Security <security@example.org>",
        f"Subject: {subject}",
        "Date: Tue, 03 Nov 2026 10:00:00 +0100",
        "Message-ID: <m1@example.net>",
        "MIME-Version: 1.0",
        *extra,
    ]
    return CRLF.join(h.encode() for h in top) + CRLF + content


def text_part(text: str, *, charset: str = "utf-8", encoding: str = "quoted-printable") -> bytes:
    data = text.encode(charset) if charset not in ("x-unknown",) else text.encode()
    body = quopri.encodestring(crlf(data)) if encoding == "quoted-printable" else crlf(data)
    return entity(
        [f"Content-Type: text/plain; charset={charset}", f"Content-Transfer-Encoding: {encoding}"], body
    )


def raw_text_part(data: bytes, *, charset: str) -> bytes:
    return entity([f"Content-Type: text/plain; charset={charset}", "Content-Transfer-Encoding: 8bit"], data)


def attachment(filename: str, content_type: str, data: bytes) -> bytes:
    return entity(
        [
            f'Content-Type: {content_type}; name="{filename}"',
            f'Content-Disposition: attachment; filename="{filename}"',
            "Content-Transfer-Encoding: base64",
        ],
        base64.encodebytes(data).replace(b"\n", CRLF),
    )


def multipart(subtype: str, parts: list[bytes], *, boundary: str, params: str = "") -> bytes:
    body = b"".join(b"--" + boundary.encode() + CRLF + part + CRLF for part in parts)
    body += b"--" + boundary.encode() + b"--" + CRLF
    return entity([f'Content-Type: multipart/{subtype}; boundary="{boundary}"{params}'], body)


def pgp_mime_encrypted(message: bytes, *, boundary: str = "enc") -> bytes:
    """RFC 3156 section 4, as mutt writes it. A binary ``message`` goes in base64."""
    control = entity(
        ["Content-Type: application/pgp-encrypted", "Content-Description: PGP/MIME version"],
        b"Version: 1" + CRLF,
    )
    headers = ['Content-Type: application/octet-stream; name="encrypted.asc"', "Content-Disposition: inline"]
    if message.startswith(b"-----BEGIN"):
        payload = entity(headers, crlf(message))
    else:
        payload = entity([*headers, "Content-Transfer-Encoding: base64"], crlf(base64.encodebytes(message)))
    return multipart(
        "encrypted", [control, payload], boundary=boundary, params='; protocol="application/pgp-encrypted"'
    )


def pgp_mime_signed(signed_part: bytes, signature: bytes, *, boundary: str = "sig") -> bytes:
    """RFC 3156 section 5: ``signature`` must cover ``crlf(signed_part)``."""
    sig = entity(
        [
            'Content-Type: application/pgp-signature; name="signature.asc"',
            "Content-Description: OpenPGP signature",
        ],
        crlf(signature),
    )
    params = '; protocol="application/pgp-signature"; micalg=pgp-sha256'
    return multipart("signed", [signed_part, sig], boundary=boundary, params=params)


def autocrypt(address: str, binary_key: bytes) -> str:
    keydata = base64.b64encode(binary_key).decode()
    folded = "\r\n ".join(keydata[i : i + 72] for i in range(0, len(keydata), 72))
    return f"Autocrypt: addr={address}; prefer-encrypt=mutual; keydata=\r\n {folded}"


def lf(raw: bytes) -> bytes:
    """As a local MTA hands mail to a pipe: LF line endings."""
    return raw.replace(CRLF, b"\n")


def dkim_keypair() -> tuple[bytes, bytes]:
    """(PEM private key, DNS TXT record) of a fresh RSA-2048 DKIM key, to sign with and to publish."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    traditional = serialization.PrivateFormat.TraditionalOpenSSL
    pem = private.private_bytes(serialization.Encoding.PEM, traditional, serialization.NoEncryption())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)
