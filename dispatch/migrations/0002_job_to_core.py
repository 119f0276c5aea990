"""The timer table now belongs to core (core/models.py, core/jobs.py); its rows stay where they are."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("dispatch", "0001_initial"), ("core", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel("Job")]),
    ]
