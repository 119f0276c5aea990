"""The ping history's `geofence_ids` defaults to an empty array in the database, so the ingestion
COPY can leave the column out when no fix of a batch is in a geofence (tracking/ingest/copy.py,
`copy_payload`) and the rows read as before: `{}`, not NULL. On the partitioned parent the
default reaches every partition, those that exist and those created later."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tracking", "0002_ping_history")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE tracking_ping ALTER COLUMN geofence_ids SET DEFAULT '{}'",
            "ALTER TABLE tracking_ping ALTER COLUMN geofence_ids DROP DEFAULT",
        ),
    ]
