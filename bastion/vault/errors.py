"""The vault's exceptions. None of them ever carries key material or plaintext in its message."""


class VaultError(Exception):
    """Base class for everything the vault raises on purpose."""


class SealError(VaultError):
    """Sealed data could not be opened: it was tampered with, truncated, reordered, or the key
    or the AAD is not the one it was sealed under. Nothing of the plaintext is returned."""


class KeyDestroyed(VaultError):
    """The data key was crypto-shredded; what it protected can no longer be read by anyone."""


class MasterKeyUnavailable(VaultError):
    """The key provider has no master key of the version asked for (lost, not mounted, not set)."""
