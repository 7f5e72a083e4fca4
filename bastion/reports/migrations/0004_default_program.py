"""The default program every report follows until it is filed under an asset of another program."""

from django.db import migrations


def make_default(apps, schema_editor):
    Program = apps.get_model("reports", "Program")
    if not Program.objects.filter(is_default=True).exists():
        Program.objects.create(slug="default", name="Security program", is_default=True)


class Migration(migrations.Migration):
    dependencies = [("reports", "0003_casework")]

    operations = [migrations.RunPython(make_default, migrations.RunPython.noop)]
