"""The append-only, hash-chained audit trail.

Write with ``bastion.audit.services.record(event=Event.X, actor=..., target=..., data=...)`` inside
the transaction of the change being audited; check with ``bastion verify-audit``. The vocabulary
is ``bastion.audit.events.Event``. Nothing is re-exported here: importing models from a package
``__init__`` would load them before Django's app registry is ready.
"""
