from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "tracking"
    verbose_name = "Field tracking (SIGAP)"

    def ready(self) -> None:
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from .areas import geofence_index
        from .models import Geofence, Supervisor

        # A saved or deleted geofence rebuilds this process's in-memory index at once;
        # other processes notice within a recheck interval (see areas.CachedGeofenceIndex).
        post_save.connect(geofence_index.invalidate, sender=Geofence, dispatch_uid="tracking_geofence_saved")
        post_delete.connect(geofence_index.invalidate, sender=Geofence, dispatch_uid="tracking_geofence_deleted")
        m2m_changed.connect(
            geofence_index.invalidate, sender=Supervisor.geofences.through, dispatch_uid="tracking_geofence_assigned"
        )
