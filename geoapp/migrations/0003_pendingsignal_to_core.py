"""The outbox table now belongs to core (core/models.py); its rows stay where they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("geoapp", "0002_cache_table"), ("core", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel("PendingSignal")]),
    ]
