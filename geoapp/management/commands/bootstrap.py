"""Idempotent first-start data: every local app's `bootstrap.bootstrap()` in app order."""

from importlib import import_module

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

LOCAL_APPS = ["kecamatan_boundaries", "incidents", "tracking"]


class Command(BaseCommand):
    help = "Load the Kota Tangerang boundaries and reference data when they are not there yet."

    def handle(self, *args, **opts):
        for label in LOCAL_APPS:
            if not apps.is_installed(label):
                continue
            try:
                module = import_module(f"{label}.bootstrap")
            except ModuleNotFoundError as exc:
                if exc.name != f"{label}.bootstrap":
                    raise
                continue
            with transaction.atomic():
                module.bootstrap(log=lambda msg: self.stdout.write(msg))
