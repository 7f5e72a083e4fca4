"""The core of Bastion: reports, their reporters, the conversation, files, receipts and the timeline.

Modules: :mod:`.models`, :mod:`.workflow` (states and the one transition table), :mod:`.identifiers`
(tracking IDs, portal tokens, email digests), :mod:`.sealing` (fields under the report's data key),
:mod:`.receipts` (canonical submission and signed receipt), :mod:`.services` (every change and
every read), :mod:`.mail` (outbound mail, OpenPGP-encrypted when the reporter gave a key) and
:mod:`.tasks` (the mail tasks). Other apps call :mod:`.services`; only this app writes its rows.
"""
