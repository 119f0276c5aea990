from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "tracking"
    verbose_name = "Field tracking (SIGAP)"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from core import worker

        from . import deactivation, deliveries, presence
        from .areas import geofence_index
        from .auth import auth_cache
        from .models import Device, Geofence, Supervisor

        # The worker's deliverers of position and presence changes (signals.py's topics).
        deliveries.connect()
        # A saved or deleted geofence rebuilds this process's in-memory index at once;
        # other processes notice within a recheck interval (see areas.CachedGeofenceIndex).
        post_save.connect(geofence_index.invalidate, sender=Geofence, dispatch_uid="tracking_geofence_saved")
        post_delete.connect(geofence_index.invalidate, sender=Geofence, dispatch_uid="tracking_geofence_deleted")
        # A device or supervisor changed here drops this process's cached device logins.
        for model in (Device, Supervisor):
            for name, sig in (("saved", post_save), ("deleted", post_delete)):
                sig.connect(auth_cache.invalidate, sender=model, dispatch_uid=f"tracking_auth_{model.__name__}_{name}")
        m2m_changed.connect(
            geofence_index.invalidate, sender=Supervisor.geofences.through, dispatch_uid="tracking_geofence_assigned"
        )
        # A supervisor (or their user account) deactivated: their phones' tokens are revoked.
        post_save.connect(deactivation.on_supervisor_saved, sender=Supervisor, dispatch_uid="tracking_sup_deactivated")
        post_save.connect(deactivation.on_user_saved, sender=get_user_model(), dispatch_uid="tracking_user_deactivated")
        worker.register_sweep("presence", lambda: {"presence_changed": presence.sweep()})
