"""Publish the default policy as version 1, so a fresh install has a policy page from the start.

The text lives in ``bastion.intake.policy_defaults`` (shared with ``services.current_policy``,
which recreates it in an emptied table). Reversing leaves the row: published versions are history.
"""

from django.db import migrations

from bastion.intake.policy_defaults import default_policy_fields


def publish_default_policy(apps, schema_editor):
    Policy = apps.get_model("intake", "Policy")
    policies = Policy.objects.using(schema_editor.connection.alias)
    if not policies.filter(version=1).exists():
        policies.create(version=1, published_by=None, **default_policy_fields())


class Migration(migrations.Migration):
    dependencies = [
        ("intake", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(publish_default_policy, migrations.RunPython.noop),
    ]
