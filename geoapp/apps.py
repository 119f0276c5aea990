from django.apps import AppConfig


class GeoappConfig(AppConfig):
    """The project as an app: its `bootstrap` command and the history of its first migrations."""

    name = "geoapp"
    verbose_name = "geoapp"
