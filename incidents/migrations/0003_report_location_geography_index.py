"""GiST index on location::geography, so metre queries (ST_DWithin on geography: likely duplicates,
?point=&dist= on the read API) use an index instead of scanning. The expression matches
ReportQuerySet.within_metres exactly."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("incidents", "0002_reports")]

    operations = [
        migrations.RunSQL(
            'CREATE INDEX report_location_geog_gist ON "incidents_report" USING GIST (("location"::geography));',
            "DROP INDEX IF EXISTS report_location_geog_gist;",
        )
    ]
