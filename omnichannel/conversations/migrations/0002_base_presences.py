"""The five base presences exist on every installation (PR-1); custom ones are added in admin."""

from django.db import migrations

BASE_PRESENCES = [
    ("Available", "available"),
    ("Busy", "busy"),
    ("Busy – Do not disturb", "busy_dnd"),
    ("Away", "away"),
    ("Offline", "offline"),
]


def create(apps, schema_editor):
    Presence = apps.get_model("conversations", "Presence")
    for name, base in BASE_PRESENCES:
        Presence.objects.get_or_create(name=name, defaults={"base": base})


class Migration(migrations.Migration):
    dependencies = [("conversations", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
