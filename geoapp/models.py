"""The project's own table: committed changes waiting for the worker to announce them (relay.py)."""

from django.db import models


class PendingSignal(models.Model):
    """One change to announce: written in the transaction that made it, deleted when delivered."""

    topic = models.CharField(max_length=40)
    key = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["topic", "key"], name="geoapp_pending_topic_key")]

    def __str__(self) -> str:
        return f"{self.topic} {self.key}"
