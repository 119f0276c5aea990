from django.apps import AppConfig


class GeoappConfig(AppConfig):
    name = "geoapp"
    verbose_name = "geoapp"
