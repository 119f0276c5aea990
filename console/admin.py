from django.contrib import admin

from geoapp.admin_base import MapAdmin

from .models import Camera


@admin.register(Camera)
class CameraAdmin(MapAdmin):
    list_display = ["code", "name", "opd", "direction", "active", "updated_at"]
    list_filter = ["opd", "active"]
    search_fields = ["code", "name", "direction"]
