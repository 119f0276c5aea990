"""Admin base for models with geometries: the local map widget everywhere."""

from django.contrib.gis import admin

from .widgets import LocalOSMWidget


class MapAdmin(admin.GISModelAdmin):
    gis_widget = LocalOSMWidget
