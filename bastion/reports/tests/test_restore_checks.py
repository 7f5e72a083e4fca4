"""Which rows the restore drill opens: every sealed model, found without a hand-kept list."""

from __future__ import annotations

from django.apps import apps
from django.db import models

from bastion.reports.restore_checks import sealed_fields, sealed_models
from bastion.vault.models import DataKey, OrgKey

# Sealed under something other than a data key: the master key (DataKey.wrapped) or the org key's
# own sealing (OrgKey). The drill proves those by unwrapping every data key and opening the org key.
NOT_UNDER_A_DATA_KEY = {DataKey, OrgKey}


def test_every_model_with_a_sealed_column_names_the_data_key_it_is_sealed_under():
    declared = {model for model, _path in sealed_models()}
    with_binary = {model for model in apps.get_models() if sealed_fields(model)}

    assert with_binary - NOT_UNDER_A_DATA_KEY == declared


def test_each_declared_path_ends_at_a_data_key():
    for model, path in sealed_models():
        target: type[models.Model] = model
        for step in path.split("__"):
            field = target._meta.get_field(step)
            assert field.related_model is not None, f"{model._meta.label}.{path}: {step} is no relation"
            target = field.related_model  # type: ignore[assignment]  # a model class, not "self"
        assert target is DataKey, f"{model._meta.label}.{path} ends at {target}, not a data key"
