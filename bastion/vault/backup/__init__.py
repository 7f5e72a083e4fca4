"""Backups: a consistent database snapshot and the sealed files, in one OpenPGP-encrypted tar archive.

``snapshot`` takes and restores the database copy, ``archive`` writes and reads the encrypted
archive (via the ``gpg`` binary, see ``gpg``), and ``recipients`` knows whom each archive is
encrypted to, including Bastion's own restore-drill key. Destinations and retention live beside.
"""
