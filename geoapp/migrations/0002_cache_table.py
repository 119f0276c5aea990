"""The cache table (settings.CACHES: Django's database cache), made by migrate so that every
database the project migrates has it: the anonymous rate limit counts in it for every process."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


def drop_cache_table(apps, schema_editor):
    from django.conf import settings

    for cache in settings.CACHES.values():
        if cache["BACKEND"].endswith("DatabaseCache"):
            schema_editor.execute(f'DROP TABLE IF EXISTS "{cache["LOCATION"]}"')


class Migration(migrations.Migration):
    dependencies = [("geoapp", "0001_pending_signal")]

    operations = [migrations.RunPython(create_cache_table, drop_cache_table)]
