"""Intake: the ways a report comes in, and what guards them.

Built so far: the published, versioned security policy (:mod:`.services`, ``/security``), the org
key download (``/.well-known/security-key.asc``), flood control (:mod:`.flood`), the proof-of-work
challenge (:mod:`.challenge`) and the honeypot (:mod:`.honeypot`). The report form, the JSON API
and the mail gateway come next and build on these.
"""
