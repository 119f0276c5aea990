"""Creating a day's partition is idempotent when uploads race for it.

Two uploads into a day with no partition both find it missing; the advisory lock lets one create
it, but taking that lock does not refresh the other backend's view of the catalog, so after the
wait the partition may still look absent there and its CREATE meets the committed table. That
error means the partition exists: it is answered as "not created by this call".
"""

from django.db import migrations

IDEMPOTENT = r"""
CREATE OR REPLACE FUNCTION tracking_ensure_partition(day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    part text := 'tracking_ping_p' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('tracking_ping_partitions'));
    BEGIN
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF tracking_ping FOR VALUES FROM (%L) TO (%L)',
            part, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC'
        );
    EXCEPTION WHEN duplicate_table OR unique_violation THEN
        RETURN false;  -- made by a concurrent call that committed while this one waited
    END;
    RETURN true;
END $$;
"""

PREVIOUS = r"""
CREATE OR REPLACE FUNCTION tracking_ensure_partition(day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    part text := 'tracking_ping_p' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('tracking_ping_partitions'));
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format(
        'CREATE TABLE %I PARTITION OF tracking_ping FOR VALUES FROM (%L) TO (%L)',
        part, day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC'
    );
    RETURN true;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [("tracking", "0003_ping_geofence_ids_default")]

    operations = [migrations.RunSQL(IDEMPOTENT, reverse_sql=PREVIOUS)]
