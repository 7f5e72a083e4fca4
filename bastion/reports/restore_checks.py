"""Proving a restored copy: every sealed value and every sealed file opens, and every file's hash holds.

A restore drill restores the newest archive into a scratch database (a second connection alias)
and a scratch blob directory, then calls :func:`check_restored` on them. The check walks the
models itself rather than a list kept by hand: every installed model that declares
``sealed_under`` (the path from a row to the data key its values are sealed under) has each of its
``BinaryField`` values opened, so a sealed model or field added later, in any app, is checked
without anyone remembering to add it here (a test holds every model with a BinaryField to that).

Reports whose data key was shredded (before the archive was made, or by the shred ledger
re-applied to the scratch copy) are counted as shredded, not opened: their content is gone on
purpose. Nothing opened here is kept, logged or returned, only counts.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.apps import apps
from django.db import models

from bastion.reports.models import Attachment
from bastion.reports.sealing import stream_aad
from bastion.vault.errors import KeyDestroyed, SealError
from bastion.vault.models import DataKey
from bastion.vault.sealing import unseal_bytes
from bastion.vault.storage import BlobStorage
from bastion.vault.streams import iter_unsealed

CHUNK = 2000


class RestoreCheckFailed(Exception):
    """A restored value or file did not open, or a file's content does not match its hash."""


@dataclass
class RestoreCheck:
    """What a check opened: rows per model, sealed values, files and their bytes, shredded rows."""

    rows: Counter[str] = field(default_factory=Counter)
    values: int = 0
    files: int = 0
    file_bytes: int = 0
    shredded: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        """The counts, for the drill's record and the admin screen."""
        return {
            "rows": dict(self.rows),
            "values": self.values,
            "files": self.files,
            "file_bytes": self.file_bytes,
            "shredded": dict(self.shredded),
        }


def sealed_models() -> list[tuple[type[models.Model], str]]:
    """Each installed model that declares ``sealed_under``, with that path to its data key."""
    found = [(model, getattr(model, "sealed_under", "")) for model in apps.get_models()]
    return [(model, path) for model, path in found if path]


def sealed_fields(model: type[models.Model]) -> list[str]:
    """The names of ``model``'s sealed columns (its BinaryFields)."""
    return [f.name for f in model._meta.concrete_fields if isinstance(f, models.BinaryField)]


def _key_of(row: models.Model, path: str) -> DataKey:
    target: object = row
    for step in path.split("__"):
        target = getattr(target, step)
    assert isinstance(target, DataKey)
    return target


def _rows(model: type[models.Model], path: str, using: str) -> Iterator[tuple[models.Model, DataKey]]:
    query = model._default_manager.using(using).select_related(path).order_by("pk")
    for row in query.iterator(chunk_size=CHUNK):
        yield row, _key_of(row, path)


def check_restored(*, using: str, storage: BlobStorage) -> RestoreCheck:
    """Open every sealed value and file in database ``using`` and ``storage``; raise at the first failure.

    The error names the row (model and primary key) and field, never content.
    """
    check = RestoreCheck()
    for model, path in sealed_models():
        label = model._meta.label
        names = sealed_fields(model)
        for row, data_key in _rows(model, path, using):
            if data_key.is_destroyed:
                check.shredded[label] += 1
                continue
            try:
                key = data_key.unwrap()
                row_id = row.uid  # type: ignore[attr-defined]  # every sealed model has a uid
                for name in names:
                    token = getattr(row, name)
                    if token is None or bytes(token) == b"":
                        continue
                    unseal_bytes(bytes(token), key=key, model_label=label, field=name, row_id=row_id)
                    check.values += 1
                if isinstance(row, Attachment):
                    check.file_bytes += _check_file(row, key, storage)
                    check.files += 1
            except (SealError, KeyDestroyed, OSError) as error:
                raise RestoreCheckFailed(f"{label} #{row.pk} did not open: {error}") from error
            check.rows[label] += 1
    return check


def _check_file(attachment: Attachment, key: bytes, storage: BlobStorage) -> int:
    """Open the attachment's blob through the streaming AEAD and compare its plaintext with the hash."""
    digest = hashlib.sha256()
    size = 0
    with storage.open(attachment.blob_name) as blob:
        for chunk in iter_unsealed(blob, key=key, aad=stream_aad(attachment, "blob")):
            digest.update(chunk)
            size += len(chunk)
    if size != attachment.size or digest.hexdigest() != attachment.sha256:
        raise RestoreCheckFailed(f"attachment #{attachment.pk}: its content does not match its recorded hash")
    return size
