"""SocialPost.triage: why a post waits for an operator, as data (incidents/triage.py); the API's
triage_reason text stays as it is."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0003_report_location_geography_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='socialpost',
            name='triage',
            field=models.JSONField(blank=True, default=list, help_text='why it waits, as data (incidents.triage)'),
        ),
    ]
