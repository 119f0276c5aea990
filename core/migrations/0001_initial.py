"""Core takes over two tables made before it existed (see core/models.py): in Django's state only."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("geoapp", "0002_cache_table"),
        ("dispatch", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="PendingSignal",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("topic", models.CharField(max_length=40)),
                        ("key", models.CharField(max_length=64)),
                        ("data", models.JSONField(blank=True, default=dict)),
                        ("at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        "db_table": "geoapp_pendingsignal",
                        "indexes": [models.Index(fields=["topic", "key"], name="geoapp_pending_topic_key")],
                    },
                ),
                migrations.CreateModel(
                    name="Job",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("kind", models.CharField(max_length=48)),
                        ("payload", models.JSONField(default=dict)),
                        (
                            "key",
                            models.CharField(blank=True, help_text="at most one pending job per key", max_length=120),
                        ),
                        ("run_at", models.DateTimeField()),
                        (
                            "state",
                            models.CharField(
                                choices=[
                                    ("pending", "pending"),
                                    ("done", "done"),
                                    ("failed", "failed (gave up)"),
                                    ("cancelled", "cancelled"),
                                ],
                                default="pending",
                                max_length=12,
                            ),
                        ),
                        ("attempts", models.PositiveIntegerField(default=0)),
                        ("last_error", models.TextField(blank=True)),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("done_at", models.DateTimeField(blank=True, null=True)),
                        ("result", models.JSONField(blank=True, default=dict)),
                    ],
                    options={
                        "db_table": "dispatch_job",
                        "ordering": ["run_at", "id"],
                        "indexes": [
                            models.Index(
                                condition=models.Q(("state", "pending")), fields=["run_at"], name="job_pending_run_at"
                            )
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                condition=models.Q(("state", "pending"), models.Q(("key", ""), _negated=True)),
                                fields=("key",),
                                name="job_one_pending_per_key",
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
