"""Production hashes passwords with Argon2 (the suite swaps in MD5 for speed, in conftest)."""

from __future__ import annotations

import importlib

from django.contrib.auth.hashers import Argon2PasswordHasher


def test_production_hashes_passwords_with_argon2(settings):
    # Read the settings module itself: the ``settings`` fixture shows the suite's MD5 override.
    project = importlib.import_module("bastion.settings")
    assert project.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert settings.PASSWORD_HASHERS == ["django.contrib.auth.hashers.MD5PasswordHasher"]

    encoded = Argon2PasswordHasher().encode("plum-lantern-orbit-47", Argon2PasswordHasher().salt())

    assert encoded.startswith("argon2$argon2id$")
    assert Argon2PasswordHasher().verify("plum-lantern-orbit-47", encoded)
