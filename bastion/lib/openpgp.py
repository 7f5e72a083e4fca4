"""Bastion's small OpenPGP interface: the only module that talks to an OpenPGP engine.

Engines, chosen by what works here (pysequoia 0.1.35; Debian 12's sqop 0.27.3 on Sequoia 1.12; GnuPG 2.2.40):

- pysequoia, in process: key parsing, signing, outbound encryption, detached-signature checks. Its
  API changes between 0.1.x releases, so nothing else imports it.
- sqop, Sequoia's stateless CLI, as a subprocess, for two jobs pysequoia gets wrong:
  - inbound decrypt+verify: pysequoia cannot verify a signature inside a *compressed* encrypted
    message (gpg and mutt compress by default); it raises, or drops the signature silently;
  - org-key generation: pysequoia's keys advertise SEIPDv2 (AEAD), so whoever honours that
    (pysequoia itself, sq) writes mail that GnuPG 2.2 and Debian's sqop cannot decrypt;
  - the text of an inline-signed message whose signature we cannot verify (``inline-detach``):
    pysequoia returns the text only with a good signature.

Measured here, decrypt+verify of a small signed, ZIP-compressed gpg message (50 runs each, 2 shared
cores): bare sqop 7.9-9.5 ms median vs gpg 2.2 with a warm agent 12.0-12.2 ms; through
``decrypt_and_verify`` 10-11 ms vs gpg 14-21 ms (STACK-NOTES: 6 vs 14). sqop also needs no keyring or
agent holding the org key on disk. pysequoia checks a detached signature in 0.07 ms, against ~5 ms to
start any process, so that stays in process.

Fingerprints are upper-case hex without spaces, as gpg and sqop print them.
"""

from __future__ import annotations

import enum
import os
import shutil
import subprocess
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pysequoia as ps
from pysequoia.packet import Packet, PacketPile, SignatureType, Tag

SQOP = "sqop"
SQOP_TIMEOUT = 30.0  # seconds; generous: a 25 MiB mail decrypts in well under one.
MAX_KEY_BYTES = 1 << 20  # certificate flooding (CVE-2019-13050) makes keys huge and slow to parse.
MAX_PLAINTEXT = 64 << 20  # compression lets a small message expand a thousandfold: cap the output.
# sqop binds a new key's subkeys for 3 x 52 weeks and pysequoia cannot re-bind subkeys, so the org
# key's lifetime can be shortened but not extended past that. Rotating beats long-lived keys anyway.
MAX_ORG_KEY_LIFETIME = timedelta(days=1092)

_PUBLIC_KEY_TAGS = (Tag.PublicKey, Tag.PublicSubkey)
_SECRET_KEY_TAGS = (Tag.SecretKey, Tag.SecretSubkey)
_SOP_NO_SIGNATURE, _SOP_KEY_IS_PROTECTED = 3, 67  # exit codes from the Stateless OpenPGP CLI draft
_SOP_ERRORS = {
    1: ("malformed", "it is not a readable OpenPGP message"),
    29: ("not_for_us", "it was not encrypted to our key"),
    41: ("damaged", "it is damaged or was tampered with (its integrity check failed)"),
}


class OpenPGPError(ValueError):
    """Bad OpenPGP input, or a key that cannot do what was asked. ``str()`` is meant for people."""

    def __init__(self, message: str, *, reason: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.reason = reason  # a stable code for callers
        self.detail = detail  # the engine's own words, for staff and logs (never plaintext)


class KeyRejected(OpenPGPError):
    """A public key we will not use; ``reason`` is a RejectReason."""


class DecryptError(OpenPGPError):
    """A message we cannot decrypt. Permanent for this message: quarantine it, don't retry it."""


class EngineError(RuntimeError):
    """The OpenPGP engine is missing, crashed or timed out: not the message's fault, retry later."""


class RejectReason(enum.StrEnum):
    """Why a pasted public key was refused."""

    NOT_A_KEY = "not_a_key"
    TOO_LARGE = "too_large"
    SECRET_KEY = "secret_key"  # noqa: S105 - a reason code, not a credential
    MULTIPLE_KEYS = "multiple_keys"
    UNSUPPORTED_VERSION = "unsupported_version"
    REVOKED = "revoked"
    EXPIRED = "expired"
    NO_ENCRYPTION_KEY = "no_encryption_key"


def _first_line(exc: BaseException) -> str:
    # pysequoia's errors carry a Rust backtrace when RUST_BACKTRACE is set; people need line one.
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _packets(data: bytes) -> list[Packet]:
    return list(PacketPile.from_bytes(data))


def _metadata(cert: ps.Cert) -> tuple[str, tuple[str, ...], datetime | None]:
    return cert.fingerprint.upper(), tuple(str(uid) for uid in cert.user_ids), cert.expiration


@dataclass(frozen=True)
class PublicKey:
    """An OpenPGP certificate. Build it with ``parse_public_key`` (input) or ``load_public_key``."""

    fingerprint: str
    user_ids: tuple[str, ...]
    expires_at: datetime | None
    _cert: ps.Cert = field(repr=False, compare=False)

    @classmethod
    def _of(cls, cert: ps.Cert) -> PublicKey:
        return cls(*_metadata(cert), cert)

    def armored_public(self) -> str:
        """The ASCII-armored public key, e.g. for ``/.well-known/security-key.asc``."""
        return str(self._cert)

    def to_bytes(self) -> bytes:
        """The binary public key, for storage."""
        return bytes(self._cert)


@dataclass(frozen=True)
class SecretKey(PublicKey):
    """A secret key (the org key), usable wherever its public half is. Its repr shows no secrets."""

    _tsk: ps.Tsk = field(repr=False, compare=False)

    @classmethod
    def _of_tsk(cls, tsk: ps.Tsk) -> SecretKey:
        cert = tsk.extract_certificate()
        return cls(*_metadata(cert), cert, tsk)

    @property
    def public(self) -> PublicKey:
        """The public half alone."""
        return PublicKey(self.fingerprint, self.user_ids, self.expires_at, self._cert)

    def armored_secret(self) -> str:
        """The ASCII-armored secret key, unprotected: the vault seals it before it is stored."""
        return str(self._tsk)

    def secret_bytes(self) -> bytes:
        """The binary secret key, unprotected: the vault seals it before it is stored."""
        return bytes(self._tsk)


@dataclass(frozen=True)
class Decrypted:
    """What ``decrypt_and_verify`` found. ``signed_by`` is set only for a good signature."""

    plaintext: bytes = field(repr=False)  # report plaintext never goes into a repr, log or traceback
    signed_by: str | None
    good_signature: bool


def generate_org_key(user_id: str, *, expires_in: timedelta = timedelta(days=730)) -> SecretKey:
    """The organisation's key: v4, Ed25519 certify-only primary, Ed25519 signing and X25519 encryption
    subkeys. v4: GnuPG 2.2 cannot read v6 keys (nor Sequoia v5). Curve25519: small, fast, constant-time,
    read by every tool since GnuPG 2.1. Made by sqop to advertise SEIPDv1 only (module docstring). The
    expiry is mandatory: a lost key that never expires stays trusted forever."""
    if not timedelta(days=1) <= expires_in <= MAX_ORG_KEY_LIFETIME:
        raise ValueError(f"expires_in must be between 1 day and {MAX_ORG_KEY_LIFETIME.days} days")
    rc, raw, err = _run_sqop(["generate-key", "--no-armor", "--", user_id])
    if rc != 0:
        raise EngineError(f"sqop generate-key failed ({rc}): {err}")
    tsk = ps.Tsk.from_bytes(raw)
    cert = tsk.extract_certificate().set_expiration(datetime.now(UTC) + expires_in, tsk.certifier())
    # set_expiration returns the new self-signatures on a public certificate; swap the secret key
    # packets back in for the public ones to get a secret key that carries them.
    secret = {p.fingerprint: p for p in _packets(raw) if p.tag in _SECRET_KEY_TAGS}
    packets = [secret[p.fingerprint] if p.tag in _PUBLIC_KEY_TAGS else p for p in _packets(bytes(cert))]
    key = SecretKey._of_tsk(ps.Tsk.from_packets(packets))
    # Guard the reason for sqop: should a newer one advertise AEAD, GnuPG 2.2 and our inbound engine
    # could no longer read mail sent to this key. Fail now, not at the first encrypted report.
    probe = ps.encrypt(b"", recipients=[key._cert], armor=False)
    if any(p.tag == Tag.SEIP and p.body[0] != 1 for p in _packets(probe)):
        raise EngineError("the generated key advertises SEIPDv2 (AEAD), which GnuPG 2.2 cannot read")
    return key


def load_secret_key(data: bytes | str) -> SecretKey:
    """Load a stored secret key (armored or binary). It must not be passphrase-protected."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        if not any(p.tag in _SECRET_KEY_TAGS for p in _packets(raw)):
            raise OpenPGPError("this is a public key; a secret key is needed here")
        tsk = ps.Tsk.from_bytes(raw)
    except RuntimeError as exc:
        raise OpenPGPError(f"not a readable OpenPGP secret key: {_first_line(exc)}") from exc
    try:
        tsk.certifier()
    except RuntimeError as exc:  # only a locked key is refused: an expired one must load, for old mail
        if "encrypted" in str(exc):
            raise OpenPGPError("this secret key is passphrase-protected; the vault seals it instead") from exc
    return SecretKey._of_tsk(tsk)


def load_public_key(data: bytes | str) -> PublicKey:
    """Load a public key we stored ourselves. No usability rules: an expired key still loads."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        if any(p.tag in _SECRET_KEY_TAGS for p in _packets(raw)):
            raise OpenPGPError("this holds secret key material; refusing to treat it as a public key")
        return PublicKey._of(ps.Cert.from_bytes(raw))
    except RuntimeError as exc:
        raise OpenPGPError(f"not a readable OpenPGP public key: {_first_line(exc)}") from exc


_PASTE = (
    "public key: the whole block from -----BEGIN PGP PUBLIC KEY BLOCK----- to the END line, as printed "
    "by: gpg --armor --export you@example.org"
)
_REJECTIONS = {  # what the reporter reads; _reject fills in the {placeholders}
    RejectReason.NOT_A_KEY: "That is {what}. Paste your " + _PASTE,
    RejectReason.TOO_LARGE: (
        "That key is over {limit} KiB, usually from many third-party signatures. Export it without "
        "them: gpg --armor --export-options export-minimal --export you@example.org"
    ),
    RejectReason.SECRET_KEY: "This is a private key: never share it. We did not keep it. Paste your "
    + _PASTE,
    RejectReason.MULTIPLE_KEYS: "That paste holds {count} different keys ({fingerprints}); paste one only.",
    RejectReason.UNSUPPORTED_VERSION: "This is {what}. Please send a version 4 key (what most tools make).",
    RejectReason.REVOKED: "This key was revoked by its owner, so we must not use it. Paste your current key.",
    RejectReason.EXPIRED: (
        "This key cannot be used: {what} expired on {when:%Y-%m-%d}. Extend it "
        "(gpg --quick-set-expire FINGERPRINT 1y '*') and paste the updated public key."
    ),
    RejectReason.NO_ENCRYPTION_KEY: (
        "This key has no usable encryption subkey: it can only sign, or its encryption subkey is "
        "revoked or relies on algorithms now considered unsafe (such as SHA-1 signatures). Add an "
        "encryption subkey, or create a new key, and paste it again."
    ),
}
_NOT_KEYS = {
    b"PGP MESSAGE-----": "an encrypted message, not a key",
    b"PGP SIGNATURE-----": "a signature, not a key",
}
_VERSIONS = {
    3: "an obsolete version 3 key, no longer safe to use",
    5: "a version 5 key (the LibrePGP format of GnuPG 2.4+), which our OpenPGP tools cannot read",
    6: "a version 6 key (RFC 9580), which our mail tools (GnuPG 2.2, Sequoia 1.x) cannot use yet",
}


def _reject(reason: RejectReason, **details: object) -> KeyRejected:
    return KeyRejected(_REJECTIONS[reason].format(**details), reason=reason)


def parse_public_key(data: bytes | str) -> PublicKey:
    """Check a public key a reporter pasted or uploaded; return it if we can encrypt to it now.

    Raises ``KeyRejected`` with a message the reporter can act on. Decisions:
    - Several different keys in one paste are refused, not trimmed to the first: a guess could
      encrypt replies to an old key or someone else's. The same key pasted twice is merged.
    - A secret key is refused before anything else reads it. Callers must not keep rejected input.
    - v6 keys are refused although pysequoia could encrypt to them: Debian's sqop (Sequoia 1.x)
      could not verify their signatures, and staff's GnuPG 2.2 cannot read them.
    """
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_KEY_BYTES:
        raise _reject(RejectReason.TOO_LARGE, limit=MAX_KEY_BYTES >> 10)
    if b"PRIVATE KEY BLOCK-----" in raw:
        raise _reject(RejectReason.SECRET_KEY)
    # Raised only if no key parses; then say what was pasted instead, when we can tell.
    what = next((w for marker, w in _NOT_KEYS.items() if marker in raw), "not a public key we can read")
    not_a_key = _reject(RejectReason.NOT_A_KEY, what=what if raw.strip() else "empty")
    try:
        _refuse_packets(_packets(raw))  # this parser reads v5 key packets too, so we can say why they fail
        certs = ps.Cert.split_bytes(raw)
    except RuntimeError:
        raise not_a_key from None
    fprs = sorted({c.fingerprint.upper() for c in certs})
    if len(fprs) > 1:
        raise _reject(RejectReason.MULTIPLE_KEYS, count=len(fprs), fingerprints=", ".join(fprs))
    if not fprs:
        raise not_a_key
    cert = certs[0]
    for duplicate in certs[1:]:
        cert = cert.merge(duplicate)
    _refuse_packets(_packets(bytes(cert)))  # the first parse read only the first armor block
    try:
        _check_usable(cert)
    except RuntimeError:  # pysequoia: "No binding signature at time ..." (a self-signature broken)
        raise _reject(RejectReason.NOT_A_KEY, what="a key whose self-signatures do not verify") from None
    return PublicKey._of(cert)


def _refuse_packets(packets: list[Packet]) -> None:
    if any(p.tag in _SECRET_KEY_TAGS for p in packets):
        raise _reject(RejectReason.SECRET_KEY)
    # A key packet's body starts with its version (RFC 9580 5.5.2); pysequoia has no accessor.
    for version in sorted({p.body[0] for p in packets if p.tag in _PUBLIC_KEY_TAGS} - {4}):
        what = _VERSIONS.get(version, f"a version {version} key, which we cannot use")
        raise _reject(RejectReason.UNSUPPORTED_VERSION, what=what)


def _check_usable(cert: ps.Cert) -> None:
    """Refuse a certificate we must not encrypt to now. pysequoia's encrypt skips revoked subkeys
    but not a revoked certificate, and falls back to an expired subkey when no other is alive; so
    those rules are ours, and its encrypt only probes for an encryption subkey the policy accepts.
    """
    now = datetime.now(UTC)
    if cert.is_revoked:
        raise _reject(RejectReason.REVOKED)
    if cert.expiration is not None and cert.expiration <= now:
        raise _reject(RejectReason.EXPIRED, what="it", when=cert.expiration)
    try:
        ps.encrypt(b"", recipients=[cert], armor=False)
    except RuntimeError:
        raise _reject(RejectReason.NO_ENCRYPTION_KEY) from None
    expired_at = _encryption_subkeys_expired_at(cert, now)
    if expired_at is not None:
        raise _reject(RejectReason.EXPIRED, what="its encryption subkey", when=expired_at)


def _encryption_subkeys_expired_at(cert: ps.Cert, now: datetime) -> datetime | None:
    """When every unrevoked encryption subkey has expired, the latest expiry; otherwise None.

    pysequoia exposes no per-subkey validity, so this reads the self-signatures of the canonicalised
    certificate. It can only add a refusal, never accept a key.
    """
    subkeys: list[tuple[datetime | None, list[Packet]]] = []  # (created, its signatures)
    for p in _packets(bytes(cert)):
        if p.tag == Tag.PublicSubkey:
            subkeys.append((p.key_created, []))
        elif p.tag == Tag.Signature and subkeys:
            subkeys[-1][1].append(p)
        elif p.tag == Tag.Signature and _can_encrypt(p):
            return None  # the primary key encrypts itself; the certificate's expiry was checked
    expiries = []
    for created, signatures in subkeys:
        bindings = [s for s in signatures if s.signature_type == SignatureType.SubkeyBinding]
        revoked = any(s.signature_type == SignatureType.SubkeyRevocation for s in signatures)
        if created is None or revoked or not bindings:
            continue
        binding = max(bindings, key=lambda s: s.signature_created or created)  # the newest is in force
        if _can_encrypt(binding):
            if binding.key_validity_period is None:
                return None
            expiries.append(created + binding.key_validity_period)
    return max(expiries) if expiries and max(expiries) <= now else None


def _can_encrypt(signature: Packet) -> bool:
    flags = signature.key_flags
    return flags is not None and (flags.transport_encryption or flags.storage_encryption)


def _signer(key: SecretKey) -> ps.PySigner:
    try:
        return key._tsk.signer()
    except RuntimeError as exc:
        raise OpenPGPError(f"the key {key.fingerprint} cannot sign (expired?): {_first_line(exc)}") from exc


def clearsign(text: str, key: SecretKey) -> str:
    """An OpenPGP cleartext signature (RFC 9580 section 7) of ``text``, as security.txt needs."""
    return bytes(ps.sign(_signer(key), text.encode(), mode=ps.SignatureMode.CLEAR)).decode()


def detached_sign(data: bytes, key: SecretKey) -> str:
    """An ASCII-armored detached signature over ``data``, signed as binary (byte for byte)."""
    return bytes(ps.sign(_signer(key), data, mode=ps.SignatureMode.DETACHED)).decode("ascii")


def signature_hash_name(signature: bytes | str) -> str:
    """The hash a signature was made with, lower-case (``"sha512"``): PGP/MIME names it in ``micalg``."""
    raw = signature.encode() if isinstance(signature, str) else signature
    try:
        packets = _packets(raw)
    except (RuntimeError, ValueError):  # pysequoia's parse errors
        packets = []
    for packet in packets:
        if packet.tag == Tag.Signature and packet.hash_algorithm is not None:
            return str(packet.hash_algorithm).rpartition(".")[2].lower()
    raise OpenPGPError("not an OpenPGP signature", reason="malformed")


def encrypt(
    data: bytes, *, recipients: Sequence[PublicKey], signer: SecretKey | None = None, armor: bool = True
) -> bytes:
    """Encrypt ``data`` to every recipient, optionally signed. An unusable recipient raises KeyRejected.
    No compression (pysequoia adds none): compressing attacker-influenced text beside secrets leaks
    through length, and every reader copes without it.
    """
    if not recipients:
        raise ValueError("encrypt needs at least one recipient")
    for recipient in recipients:
        _check_usable(recipient._cert)  # a key fine when pasted may have expired or been revoked since
    signing = _signer(signer) if signer is not None else None
    try:
        return bytes(ps.encrypt(data, recipients=[r._cert for r in recipients], signer=signing, armor=armor))
    except RuntimeError as exc:
        raise OpenPGPError(f"encryption failed: {_first_line(exc)}") from exc


def verify_detached(data: bytes, signature: bytes | str, *, signers: Sequence[PublicKey]) -> str | None:
    """The fingerprint of the first of ``signers`` with a good signature over ``data``, else None.

    A malformed signature, or one by a key not in ``signers``, vouches for nothing: None too. Text-mode
    (PGP/MIME) signatures are checked over canonical line endings; pass the raw signed part.
    """
    certs = [s._cert for s in signers]
    raw = signature.encode() if isinstance(signature, str) else signature
    try:
        result = ps.verify(bytes=data, store=lambda _key_ids: certs, signature=ps.Sig.from_bytes(raw))
    except RuntimeError:  # pysequoia raises when no signature is good
        return None
    return next((str(s.certificate).upper() for s in result.valid_sigs), None)


@dataclass(frozen=True)
class Cleartext:
    """What ``verify_cleartext`` read. ``text`` is what was signed, but vouched for only when
    ``signed_by`` is set; ``issuers`` are the key handles the signatures name (see signature_issuers)."""

    text: bytes = field(repr=False)  # report plaintext never goes into a repr, log or traceback
    signed_by: str | None
    issuers: tuple[str, ...]


def signature_issuers(signature: bytes | str) -> tuple[str, ...] | None:
    """The key handles the signatures in ``signature`` name as their makers: issuer fingerprints and
    key IDs, upper-case hex, in order. None when it holds no readable signature.

    Unverified: anyone can write any issuer into a signature. It only says which key to check, or
    that a key we know was named but its check failed.
    """
    raw = signature.encode() if isinstance(signature, str) else signature
    try:
        signatures = [p for p in _packets(raw) if p.tag == Tag.Signature]
    except RuntimeError:
        return None
    if not signatures:
        return None
    handles = (h for p in signatures for h in (p.issuer_fingerprint, p.issuer_key_id) if h)
    return tuple(dict.fromkeys(h.upper() for h in handles))


def issued_by(issuers: Iterable[str], keys: Sequence[PublicKey]) -> PublicKey | None:
    """The first of ``keys`` that one of ``issuers`` names: its primary key or any subkey, by
    fingerprint or key ID. Signatures name the subkey that made them, not the certificate."""
    wanted = {h.upper() for h in issuers}
    for key in keys:
        packets = [p for p in _packets(key.to_bytes()) if p.tag in _PUBLIC_KEY_TAGS]
        if wanted & {h.upper() for p in packets for h in (p.fingerprint, p.key_id) if h}:
            return key
    return None


class _IssuersSeen(Exception):
    """Raised from pysequoia's certificate lookup to stop a decryption once the signers are known."""


def encrypted_signature_issuers(message: bytes, key: SecretKey) -> tuple[str, ...] | None:
    """The key handles that sign an encrypted message from inside the encryption: () when it is
    unsigned, None when this cannot tell (pysequoia cannot read it).

    decrypt_and_verify cannot say whether a message without a good signature was signed at all.
    pysequoia asks for the signers' certificates once it has read the one-pass signature packets,
    just before the literal data; raising from that callback ends the decryption there. So this costs
    one session-key decryption, never a decompression, and stays cheap on a compression bomb.
    """
    seen: list[str] = []

    def stop(handles: list[str]) -> list[ps.Cert]:
        seen.extend(handles)
        raise _IssuersSeen

    try:
        ps.decrypt(message, decryptor=key._tsk.decryptor(), store=stop)
    except _IssuersSeen:
        return tuple(dict.fromkeys(h.upper() for h in seen))
    except RuntimeError:
        return None
    return None  # decrypted without asking for certificates: its structure is not one we can judge


def verify_cleartext(signed: bytes | str, *, signers: Sequence[PublicKey]) -> Cleartext:
    """Check an inline-signed message (the ``-----BEGIN PGP SIGNED MESSAGE-----`` cleartext form mail
    clients write) and return its text, signed by the first of ``signers`` with a good signature or not.

    A good signature: the text is pysequoia's, the bytes it verified (trailing whitespace stripped, as
    the format requires). Otherwise ``sqop inline-detach`` separates the text, unverified, so a
    reporter whose key we lack is still read. Raises OpenPGPError (reason ``malformed``) when it is
    not a signed message, EngineError when sqop is missing or crashed.
    """
    raw = signed.encode() if isinstance(signed, str) else signed
    certs = [s._cert for s in signers]
    named: list[str] = []

    def lookup(handles: list[str]) -> list[ps.Cert]:
        named.extend(handles)
        return certs

    try:
        result = ps.verify(bytes=raw, store=lookup)
        signer = next((str(s.certificate).upper() for s in result.valid_sigs), None)
        if signer is not None and result.bytes is not None:
            issuers = tuple(dict.fromkeys(h.upper() for h in named))
            return Cleartext(text=bytes(result.bytes), signed_by=signer, issuers=issuers)
    except RuntimeError:  # pysequoia raises when no signature is good, or on anything unreadable
        pass
    text, signatures = _inline_detach(raw)
    issuers = tuple(dict.fromkeys(h.upper() for h in named)) or signature_issuers(signatures) or ()
    return Cleartext(text=text, signed_by=None, issuers=issuers)


def _inline_detach(signed: bytes) -> tuple[bytes, bytes]:
    """(text, signatures) of an inline-signed message, by sqop, without checking anything."""
    with _memfd("signatures") as signatures_fd:
        rc, text, err = _run_sqop(
            ["inline-detach", f"--signatures-out=@FD:{signatures_fd}"],
            stdin=signed,
            fds=[signatures_fd],
            limit=len(signed),
        )
        signatures = _read_fd(signatures_fd)
    if rc != 0:
        raise OpenPGPError("this is not a readable OpenPGP signed message", reason="malformed", detail=err)
    # sqop keeps the line break that ends the text, which the signature does not cover (RFC 9580
    # section 7.1); pysequoia drops it. Drop it here too, so both paths give the same text.
    for ending in (b"\r\n", b"\n"):
        if text.endswith(ending):
            return text[: -len(ending)], signatures
    return text, signatures


def decrypt_and_verify(
    message: bytes, *, key: SecretKey, verify_with: Sequence[PublicKey], max_size: int = MAX_PLAINTEXT
) -> Decrypted:
    """Decrypt an inbound message (armored or binary, compressed or not) and check its signature.

    ``good_signature`` is False when unsigned or signed by a key not in ``verify_with``; the plaintext
    comes back either way. Raises DecryptError (not for us, damaged or tampered, malformed, over
    ``max_size``) or EngineError (sqop missing, crashed or too slow: retry later).
    """
    if verify_with:
        rc, plaintext, err, verifications = _sqop_decrypt(message, key, verify_with, max_size)
        if rc == 0:  # each line: "<date> <signing key fpr> <certificate fpr> ..."
            signer = next((line.split()[2].upper() for line in verifications if len(line.split()) > 2), None)
            return Decrypted(plaintext=plaintext, signed_by=signer, good_signature=signer is not None)
        if rc != _SOP_NO_SIGNATURE:
            raise _decrypt_error(rc, err)
    # With --verify-with and no good signature sqop withholds the plaintext, so decrypt again without
    # it. Only unsigned mail and unknown signers pay for the second run.
    rc, plaintext, err, _ = _sqop_decrypt(message, key, (), max_size)
    if rc != 0:
        raise _decrypt_error(rc, err)
    return Decrypted(plaintext=plaintext, signed_by=None, good_signature=False)


def _decrypt_error(rc: int, err: str) -> Exception:
    if rc == _SOP_KEY_IS_PROTECTED:  # our configuration, not the sender's message
        return EngineError("the org secret key is passphrase-protected; sqop cannot use it")
    reason, why = _SOP_ERRORS.get(rc, ("failed", f"the OpenPGP engine refused it (sqop exit {rc})"))
    return DecryptError(f"The message could not be decrypted: {why}.", reason=reason, detail=err)


def _sqop_decrypt(
    message: bytes, key: SecretKey, verify_with: Sequence[PublicKey], max_size: int
) -> tuple[int, bytes, str, list[str]]:
    # The secret key, the certificates and the verification report go through memfds that sqop
    # opens as @FD:n (SOP special designators). Files in a 0700 temp dir would put the org key on
    # a disk, however briefly, where snapshots, backups or a crash could keep it. Nothing secret goes
    # on argv either: any local user can read /proc/PID/cmdline.
    with (
        _memfd("key", key.secret_bytes()) as key_fd,
        _memfd("certs", b"".join(v.to_bytes() for v in verify_with)) as certs_fd,
        _memfd("verifications") as report_fd,
    ):
        args, fds = ["decrypt"], [key_fd]
        if verify_with:
            args += [f"--verify-with=@FD:{certs_fd}", f"--verifications-out=@FD:{report_fd}"]
            fds += [certs_fd, report_fd]
        rc, plaintext, err = _run_sqop([*args, f"@FD:{key_fd}"], stdin=message, fds=fds, limit=max_size)
        report = _read_fd(report_fd).decode(errors="replace").splitlines()
    return rc, plaintext, err, report


@contextmanager
def _memfd(name: str, data: bytes = b"") -> Iterator[int]:
    """An anonymous in-memory file holding ``data`` (Linux memfd_create: it never reaches a disk)."""
    fd = os.memfd_create(f"bastion-{name}")  # close-on-exec: pass_fds hands it to sqop alone
    try:
        with open(fd, "wb", closefd=False) as file:
            file.write(data)  # a buffered file writes it all, however the kernel splits it
        os.lseek(fd, 0, os.SEEK_SET)
        yield fd
    finally:
        os.close(fd)


def _read_fd(fd: int) -> bytes:
    return os.pread(fd, os.fstat(fd).st_size, 0)


def _run_sqop(
    args: list[str], *, stdin: bytes = b"", fds: Sequence[int] = (), limit: int = MAX_PLAINTEXT
) -> tuple[int, bytes, str]:
    """Run sqop with a deadline and a cap on its output: (exit code, stdout, first line of stderr)."""
    exe = shutil.which(SQOP)
    if exe is None:
        raise EngineError(f"{SQOP} is not installed (Debian package: sqop)")
    # stdin and stderr are memfds too, so only stdout needs reading while sqop runs: no deadlock.
    with _memfd("stdin", stdin) as in_fd, _memfd("stderr") as err_fd:
        try:  # An empty environment: sqop is stateless, and RUST_BACKTRACE would bloat its errors.
            proc = subprocess.Popen(  # noqa: S603 - fixed executable, no shell, no secrets in args
                [exe, *args], stdin=in_fd, stdout=subprocess.PIPE, stderr=err_fd, pass_fds=fds, env={}
            )
        except OSError as exc:
            raise EngineError(f"cannot start {SQOP}: {exc}") from exc
        timer = threading.Timer(SQOP_TIMEOUT, proc.kill)
        timer.start()
        try:
            with proc:  # leaving it waits for sqop to exit, still under the deadline
                assert proc.stdout is not None
                out = proc.stdout.read(limit + 1)  # to EOF, or one byte past the cap
                if len(out) > limit:  # a compression bomb, say: stop it before it fills memory
                    proc.kill()
                    raise DecryptError(
                        f"The message could not be decrypted: it holds over {limit:,} bytes.",
                        reason="too_large",
                    )
        finally:
            timer.cancel()
        if proc.returncode < 0:  # killed by our deadline, or by the kernel's OOM killer
            raise EngineError(f"{SQOP} was killed (signal {-proc.returncode}; deadline {SQOP_TIMEOUT:g} s)")
        err = _read_fd(err_fd).decode(errors="replace").strip()
    return proc.returncode, out, (err.splitlines() or [""])[0].strip()
