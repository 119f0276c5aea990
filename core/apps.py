from django.apps import AppConfig
from django.core import checks


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "core"

    def ready(self) -> None:
        checks.register(check_relay)


def check_relay(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """GEOAPP_RELAY=worker needs a channel layer the worker shares with the web processes."""
    from django.conf import settings

    from . import relay

    try:
        mode = relay.mode()
    except ValueError as exc:
        return [checks.Error(str(exc), id="core.E001")]
    backend = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    if mode == "worker" and backend.endswith("InMemoryChannelLayer"):
        return [
            checks.Warning(
                "GEOAPP_RELAY=worker with the in-memory channel layer: the worker's live pushes reach no console",
                hint="Set REDIS_URL (a shared channel layer), or GEOAPP_RELAY=inline for a single process.",
                id="core.W001",
            )
        ]
    return []
