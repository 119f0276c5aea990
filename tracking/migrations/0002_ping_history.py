"""Ping history: a native PostgreSQL table partitioned by device time (one partition per UTC day).

Why RunSQL: Django cannot declare `PARTITION BY`. The model state is created alongside so the
ORM can read `Ping` rows (and test flushes truncate the table). See tracking/partitions.py.
"""

import django.contrib.gis.db.models.fields
import django.contrib.postgres.fields
from django.db import migrations, models

CREATE = """
CREATE TABLE tracking_ping (
    device_id       bigint                   NOT NULL,
    supervisor_id   bigint                   NOT NULL,
    device_time     timestamp with time zone NOT NULL,  -- GPS time as the phone sent it
    received_at     timestamp with time zone NOT NULL,  -- when we received it
    point           geometry(Point, 4326)    NOT NULL,
    accuracy        double precision,                   -- metres
    speed           double precision,                   -- m/s
    heading         double precision,                   -- degrees
    altitude        double precision,                   -- metres
    battery         double precision,                   -- percent
    mock            boolean                  NOT NULL DEFAULT false,
    in_area         boolean                  NOT NULL DEFAULT false,
    kecamatan_code  varchar(32),
    geofence_ids    integer[],
    source          varchar(16)              NOT NULL,
    PRIMARY KEY (device_id, device_time)
) PARTITION BY RANGE (device_time);

CREATE INDEX tracking_ping_time_brin ON tracking_ping USING brin (device_time);

-- One partition per UTC day, named tracking_ping_pYYYYMMDD; safe under concurrent callers.
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

CREATE OR REPLACE FUNCTION tracking_ensure_partitions(first_day date, last_day date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d date := first_day;
    created integer := 0;
BEGIN
    WHILE d <= last_day LOOP
        IF tracking_ensure_partition(d) THEN
            created := created + 1;
        END IF;
        d := d + 1;
    END LOOP;
    RETURN created;
END $$;

-- Retention: drop whole daily partitions older than the cutoff (no DELETE, no bloat).
CREATE OR REPLACE FUNCTION tracking_drop_partitions_before(cutoff date) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT c.relname
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'tracking_ping'::regclass
          AND c.relname ~ '^tracking_ping_p[0-9]{8}$'
          AND to_date(substr(c.relname, 16), 'YYYYMMDD') < cutoff
        ORDER BY c.relname
    LOOP
        EXECUTE format('DROP TABLE %I', r.relname);
        RETURN NEXT r.relname;
    END LOOP;
END $$;
"""

DROP = """
DROP FUNCTION IF EXISTS tracking_drop_partitions_before(date);
DROP FUNCTION IF EXISTS tracking_ensure_partitions(date, date);
DROP FUNCTION IF EXISTS tracking_ensure_partition(date);
DROP TABLE IF EXISTS tracking_ping CASCADE;
"""


class Migration(migrations.Migration):
    dependencies = [("tracking", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(CREATE, DROP)],
            state_operations=[
                migrations.CreateModel(
                    name='Ping',
                    fields=[
                        ('pk', models.CompositePrimaryKey('device_id', 'device_time', blank=True, editable=False, primary_key=True, serialize=False)),
                        ('device_id', models.BigIntegerField()),
                        ('supervisor_id', models.BigIntegerField()),
                        ('device_time', models.DateTimeField()),
                        ('received_at', models.DateTimeField()),
                        ('point', django.contrib.gis.db.models.fields.PointField(spatial_index=False, srid=4326)),
                        ('accuracy', models.FloatField(null=True)),
                        ('speed', models.FloatField(null=True)),
                        ('heading', models.FloatField(null=True)),
                        ('altitude', models.FloatField(null=True)),
                        ('battery', models.FloatField(null=True)),
                        ('mock', models.BooleanField(default=False)),
                        ('in_area', models.BooleanField(default=False)),
                        ('kecamatan_code', models.CharField(max_length=32, null=True)),
                        ('geofence_ids', django.contrib.postgres.fields.ArrayField(base_field=models.IntegerField(), null=True, size=None)),
                        ('source', models.CharField(max_length=16)),
                    ],
                    options={
                        'db_table': 'tracking_ping',
                        'ordering': ['device_time'],
                    },
                ),            ],
        )
    ]
