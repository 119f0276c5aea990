from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "LIVE Room console"

    def ready(self) -> None:
        from . import live

        live.connect_signals()
