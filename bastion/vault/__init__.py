"""The vault: keys, envelope encryption and sealed storage for report data at rest.

Modules: :mod:`.keys` (master keys behind a Protocol), :mod:`.envelope` (AES-256-GCM sealing and
data-key wrapping), :mod:`.models` / :mod:`.services` (per-subject data keys), :mod:`.sealing`
(field helpers), :mod:`.streams` (secretstream for files) and :mod:`.storage` (blob backends).
"""
