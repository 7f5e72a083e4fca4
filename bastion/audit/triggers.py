"""Database triggers that make ``audit_auditevent`` append-only.

The ORM guard on :class:`~bastion.audit.models.AuditEvent` stops honest mistakes; these stop
everything else that talks SQL through Bastion's connection (a bulk ``QuerySet.update()``, a raw
query, an injected statement). Someone who can drop triggers can still rewrite rows, which is
what the hash chain and ``bastion verify-audit`` are for.

Both vendors raise an *integrity* error (SQLite ``RAISE(ABORT)``, PostgreSQL SQLSTATE 23000), so
callers and tests see ``django.db.IntegrityError`` either way.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

TABLE = "audit_auditevent"
MESSAGE = f"{TABLE} is append-only"

_SQLITE_TRIGGERS = ("audit_auditevent_no_update", "audit_auditevent_no_delete")
_SQLITE_INSTALL = [
    f"CREATE TRIGGER IF NOT EXISTS audit_auditevent_no_update BEFORE UPDATE ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    f"CREATE TRIGGER IF NOT EXISTS audit_auditevent_no_delete BEFORE DELETE ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
]
_SQLITE_REMOVE = [f"DROP TRIGGER IF EXISTS {name}" for name in _SQLITE_TRIGGERS]

_PG_TRIGGERS = ("audit_auditevent_no_update_delete", "audit_auditevent_no_truncate")
_PG_INSTALL = [
    f"""CREATE OR REPLACE FUNCTION audit_auditevent_append_only() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
        END;
        $$""",
    f"DROP TRIGGER IF EXISTS audit_auditevent_no_update_delete ON {TABLE}",
    f"CREATE TRIGGER audit_auditevent_no_update_delete BEFORE UPDATE OR DELETE ON {TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION audit_auditevent_append_only()",
    # Row triggers don't fire on TRUNCATE, which would otherwise empty the table in one statement.
    f"DROP TRIGGER IF EXISTS audit_auditevent_no_truncate ON {TABLE}",
    f"CREATE TRIGGER audit_auditevent_no_truncate BEFORE TRUNCATE ON {TABLE} "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_auditevent_append_only()",
]
_PG_REMOVE = [
    f"DROP TRIGGER IF EXISTS audit_auditevent_no_update_delete ON {TABLE}",
    f"DROP TRIGGER IF EXISTS audit_auditevent_no_truncate ON {TABLE}",
    "DROP FUNCTION IF EXISTS audit_auditevent_append_only()",
]


def _statements(connection: BaseDatabaseWrapper, *, install: bool) -> list[str]:
    if connection.vendor == "sqlite":
        return _SQLITE_INSTALL if install else _SQLITE_REMOVE
    if connection.vendor == "postgresql":
        return _PG_INSTALL if install else _PG_REMOVE
    raise NotImplementedError(f"append-only triggers for {connection.vendor} are not written")


def install(connection: BaseDatabaseWrapper) -> None:
    """Create the triggers (idempotent: installing twice leaves one set)."""
    statements = _statements(connection, install=True)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def remove(connection: BaseDatabaseWrapper) -> None:
    """Drop the triggers. Only for migrations and the test harness: it makes the table writable."""
    statements = _statements(connection, install=False)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def installed(connection: BaseDatabaseWrapper) -> bool:
    """Whether every append-only trigger is present on the table."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT count(*) FROM sqlite_master "
                "WHERE type = 'trigger' AND tbl_name = %s AND name IN (%s, %s)",
                [TABLE, *_SQLITE_TRIGGERS],
            )
            expected = len(_SQLITE_TRIGGERS)
        elif connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass(%s) AND tgname IN (%s, %s)",
                [TABLE, *_PG_TRIGGERS],
            )
            expected = len(_PG_TRIGGERS)
        else:
            return False
        (count,) = cursor.fetchone()
    return bool(count == expected)
