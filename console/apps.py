from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "LIVE Room console"

    def ready(self) -> None:
        from core import relay

        from . import live

        live.connect_signals()
        if live.batched not in relay.BATCH_SCOPES:
            relay.BATCH_SCOPES.append(live.batched)
